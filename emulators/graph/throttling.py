"""Outlook-style throttling and injected 429/503 answers.

Per app and mailbox (learn.microsoft.com/graph/throttling-limits#outlook-service-limits):
at most ``mailboxConcurrency`` (4) requests in flight, and ``mailboxBudgetPer10Min``
(10,000) requests per 10 minutes of virtual time. Past either limit the answer is
429 with ``Retry-After``, and the code/message Outlook uses ("Application is over its
MailboxConcurrency limit.", learn.microsoft.com/answers/questions/1660054).
``throttleRate`` / ``serverErrorRate`` inject 429 / 503 from a seeded stream, before
the request is carried out; ``appliedThenFailRate`` a 503 after (``lost_answers``).
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from .errors import GraphError
from .faults import Faults
from .lost_answers import service_unavailable

WINDOW = timedelta(minutes=10)
Key = tuple[str, str]  # (client id, mailbox key)


class Throttler:
    def __init__(self) -> None:
        self.faults = Faults()
        self._rng = self.faults.rng("graph-requests")
        self._lost_rng = self.faults.rng("applied-then-fail")
        self._in_flight: dict[Key, int] = {}
        self._history: dict[Key, deque[datetime]] = {}

    def configure(self, faults: Faults) -> None:
        self.faults = faults
        self._rng = faults.rng("graph-requests")
        self._lost_rng = faults.rng("applied-then-fail")

    def reset(self) -> None:
        self.configure(Faults())
        self._in_flight.clear()
        self._history.clear()

    def inject(self) -> GraphError | None:
        """An injected fault for the next Graph request, if the dice say so."""
        f = self.faults
        if f.throttleRate <= 0 and f.serverErrorRate <= 0:
            return None
        draw = self._rng.random()
        retry = {"Retry-After": str(f.retryAfterSeconds)}
        if draw < f.throttleRate:
            return GraphError(
                429,
                "TooManyRequests",
                "Too many requests. Please retry after the time given in Retry-After.",
                retry,
            )
        if draw < f.throttleRate + f.serverErrorRate:
            return GraphError(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry later.",
                retry,
            )
        return None

    def applied_then_fail(self) -> GraphError | None:
        """``appliedThenFailRate``: a 503 for a write that was carried out."""
        rate = self.faults.appliedThenFailRate
        if rate <= 0 or self._lost_rng.random() >= rate:
            return None
        return service_unavailable(self.faults.retryAfterSeconds)

    def acquire(self, client_id: str, mailbox: str, now: datetime) -> GraphError | None:
        """Take a concurrency slot and a budget unit, or say why not (429)."""
        key = (client_id, mailbox)
        history = self._history.setdefault(key, deque())
        while history and history[0] <= now - WINDOW:
            history.popleft()
        if len(history) >= self.faults.mailboxBudgetPer10Min:
            wait = max(1, math.ceil((history[0] + WINDOW - now).total_seconds()))
            return GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxRequests limit.",
                {"Retry-After": str(wait)},
            )
        if self._in_flight.get(key, 0) >= self.faults.mailboxConcurrency:
            return GraphError(
                429,
                "ApplicationThrottled",
                "Application is over its MailboxConcurrency limit.",
                {"Retry-After": "1"},
            )
        self._in_flight[key] = self._in_flight.get(key, 0) + 1
        history.append(now)
        return None

    def release(self, client_id: str, mailbox: str) -> None:
        key = (client_id, mailbox)
        left = self._in_flight.get(key, 0) - 1
        if left > 0:
            self._in_flight[key] = left
        else:
            self._in_flight.pop(key, None)

    def in_flight(self, client_id: str, mailbox: str) -> int:
        return self._in_flight.get((client_id, mailbox), 0)
