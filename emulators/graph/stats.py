"""Request counters: every Graph request by method, route template, mailbox, status.

Benchmarks read Graph cost from ``GET /_emulator/stats``. Inner requests of a
``$batch`` are counted on their own routes, and the ``$batch`` request itself once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

NOTIFICATION_COUNTERS = ("sent", "dropped", "duplicated", "failed", "retried")


class Stats:
    def __init__(self) -> None:
        self.requests: Counter[tuple[str, str, str | None, int]] = Counter()
        self.notifications: Counter[str] = Counter()

    def record(self, method: str, route: str, mailbox: str | None, status: int) -> None:
        self.requests[(method.upper(), route, mailbox, status)] += 1

    def count_notification(self, what: str, n: int = 1) -> None:
        self.notifications[what] += n

    def reset(self) -> None:
        self.requests.clear()
        self.notifications.clear()

    def to_json(self) -> dict[str, Any]:
        rows = [
            {"method": m, "route": r, "mailbox": mb, "status": s, "count": c}
            for (m, r, mb, s), c in sorted(
                self.requests.items(), key=lambda kv: (kv[0][1], kv[0][0], kv[0][2] or "", kv[0][3])
            )
        ]
        return {
            "requests": rows,
            "notifications": {k: self.notifications.get(k, 0) for k in NOTIFICATION_COUNTERS},
        }
