"""The world's virtual clock.

Everything time-based in the emulated world (booking windows, propagation delays,
delta bookkeeping, later subscription expiry) reads :meth:`VirtualClock.now`.
By default it is the real time; ``POST /_emulator/clock`` shifts it. Access tokens
deliberately do *not* use it: they expire on real time so SDK token
caches stay valid across clock jumps.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class VirtualClock:
    """Real time plus an adjustable offset."""

    def __init__(self) -> None:
        self._offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> datetime:
        self._offset += timedelta(seconds=seconds)
        return self.now()

    def set(self, when: datetime) -> datetime:
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        self._offset = when - datetime.now(UTC)
        return self.now()

    def reset(self) -> None:
        self._offset = timedelta(0)
