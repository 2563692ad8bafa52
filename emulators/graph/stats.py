"""Request counters: every Graph request by method, route template, mailbox, status and
the calling app (client id, so two apps on one tenant are told apart).

Benchmarks read Graph cost from ``GET /_emulator/stats``. Graph throttles and counts
every request inside a ``$batch`` on its own (learn.microsoft.com/graph/json-batching:
"each request is evaluated individually against applicable throttling limits"), so
inner requests are counted on their own routes with ``inBatch: true``, and the
``$batch`` envelope itself once (route ``/$batch``, ``inBatch: false``). The cost of a
workload as Graph sees it is therefore every row except ``/$batch``
(``graphRequests`` in the answer).

Subscription writes (create, renew, delete; inner batch requests included) are also
time-stamped per tenant in real seconds, the clock of Graph's 500 per 20 s limit, so
a benchmark can read the busiest 20 s window it really caused; expirations of
unrenewed subscriptions are counted per tenant.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

NOTIFICATION_COUNTERS = ("sent", "dropped", "duplicated", "failed", "retried")
BATCH_ROUTE = "/$batch"
WRITE_WINDOW_SECONDS = 20.0


def peak_in_window(stamps: list[float], window: float = WRITE_WINDOW_SECONDS) -> int:
    """The most stamps inside any window of ``window`` seconds (sorted input)."""
    peak, first = 0, 0
    for last, stamp in enumerate(stamps):
        while stamp - stamps[first] >= window:
            first += 1
        peak = max(peak, last - first + 1)
    return peak


class Stats:
    def __init__(self) -> None:
        # (method, route, mailbox, status, inBatch, app client id)
        self.requests: Counter[tuple[str, str, str | None, int, bool, str | None]] = Counter()
        self.notifications: Counter[str] = Counter()
        self.subscription_writes: dict[str, list[float]] = defaultdict(list)
        self.subscriptions_expired: Counter[str] = Counter()

    def record(
        self,
        method: str,
        route: str,
        mailbox: str | None,
        status: int,
        in_batch: bool = False,
        app: str | None = None,
    ) -> None:
        self.requests[(method.upper(), route, mailbox, status, in_batch, app)] += 1

    def count_notification(self, what: str, n: int = 1) -> None:
        self.notifications[what] += n

    def subscription_write(self, tenant_id: str) -> None:
        self.subscription_writes[tenant_id].append(time.monotonic())

    def subscription_expired(self, tenant_id: str) -> None:
        self.subscriptions_expired[tenant_id] += 1

    def reset(self) -> None:
        self.requests.clear()
        self.notifications.clear()
        self.subscription_writes.clear()
        self.subscriptions_expired.clear()

    def to_json(self) -> dict[str, Any]:
        names = ("method", "route", "mailbox", "status", "inBatch", "app")
        ordered = sorted(
            self.requests.items(), key=lambda kv: tuple("" if v is None else str(v) for v in kv[0])
        )
        rows = [{**dict(zip(names, key, strict=True)), "count": c} for key, c in ordered]
        tenants = set(self.subscription_writes) | set(self.subscriptions_expired)
        envelopes = sum(c for key, c in self.requests.items() if key[1] == BATCH_ROUTE)
        return {
            "requests": rows,
            "graphRequests": sum(self.requests.values()) - envelopes,
            "batchEnvelopes": envelopes,
            "notifications": {k: self.notifications.get(k, 0) for k in NOTIFICATION_COUNTERS},
            "subscriptionWrites": {
                t: {
                    "total": len(self.subscription_writes.get(t, [])),
                    "peakPer20Seconds": peak_in_window(self.subscription_writes.get(t, [])),
                    "expired": self.subscriptions_expired.get(t, 0),
                }
                for t in sorted(tenants)
            },
        }
