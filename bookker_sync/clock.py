"""The one injectable clock everything reads the time from.

Production uses real UTC time. Tests and the local stack shift it (``set_offset``) so
that days of subscription lifecycle run in seconds; the local Functions host keeps the
offset in step with the Graph emulator's virtual clock.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        ...


class SystemClock:
    """Real UTC time plus an adjustable offset (zero in production)."""

    def __init__(self) -> None:
        self._offset = timedelta(0)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            offset = self._offset
        return datetime.now(UTC) + offset

    @property
    def offset(self) -> timedelta:
        with self._lock:
            return self._offset

    def set_offset(self, offset: timedelta) -> None:
        with self._lock:
            self._offset = offset


CLOCK = SystemClock()


def set_offset_seconds(seconds: float) -> None:
    """Hook for runtimes that follow an external virtual clock (see emulators/functions_host)."""
    CLOCK.set_offset(timedelta(seconds=seconds))
