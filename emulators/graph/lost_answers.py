"""Requests that Graph applies while the client sees a failure.

Graph can carry out a write and still answer 503/504, or not answer before the
client gives up; clients then retry (msgraph-sdk's RetryHandler retries 429/503/504,
POST included), which is why events have ``transactionId``
(learn.microsoft.com/graph/api/resources/event: "to avoid redundant POST operations
in case of client retries"). Three knobs make that happen on purpose:

- ``appliedThenFailRate`` (``PUT /_emulator/faults``): that share of successful
  writes (POST, PATCH, PUT, DELETE) answers 503 ``serviceNotAvailable`` with
  ``Retry-After`` once applied; drawn from the seeded stream ``applied-then-fail``.
- ``POST /_emulator/faults/next`` (``AnswerRule``): the next ``count`` successful
  requests matching a method, a route template (``/users/{id}/events``) and
  optionally a mailbox are applied and then answered 503, 504 (after
  ``timeoutSeconds``), or not at all (``timeout``: the connection is closed after
  ``timeoutSeconds``; inside ``$batch`` that item answers 504).
- ``answer: "delay"`` in such a rule: the matching request waits ``timeoutSeconds``
  (default 2) *before* it is applied, then is answered normally: a slow path through
  the service, so another client's request can overtake it (the race between a
  client's read and its write).
- ``POST /_emulator/freeze {seconds}`` (``Freezer``): Graph requests that arrive in
  the next ``seconds`` (real time) wait; when the freeze ends they are applied one at
  a time in arrival order and answered. A client that gave up meanwhile still has its
  request applied.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from .errors import GraphError

Answer = Literal[503, 504, "timeout", "delay"]
WRITE_METHODS = frozenset({"POST", "PATCH", "PUT", "DELETE"})


@dataclass
class AnswerRule:
    method: str
    route: str
    mailbox: str | None
    count: int
    answer: Answer
    timeout_seconds: float

    @classmethod
    def from_json(cls, raw: Any) -> AnswerRule:
        if not isinstance(raw, dict):
            raise ValueError("body must be a JSON object")
        unknown = sorted(set(raw) - {"method", "route", "mailbox", "count", "answer",
                                     "timeoutSeconds"})  # fmt: skip
        if unknown:
            raise ValueError(f"unknown fields: {', '.join(unknown)}")
        route = raw.get("route")
        if not isinstance(route, str) or not route.strip():
            raise ValueError("route is required, e.g. '/users/{id}/events'")
        method, _, path = route.strip().rpartition(" ")
        method = str(raw.get("method") or method or "").upper()
        if not method:
            raise ValueError("method is required (or give route as 'POST /users/{id}/events')")
        mailbox = raw.get("mailbox")
        if mailbox is not None and not isinstance(mailbox, str):
            raise ValueError("mailbox must be an address")
        count = raw.get("count", 1)
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        answer = raw.get("answer", 503)
        if answer not in (503, 504, "timeout", "delay"):
            raise ValueError("answer must be 503, 504, 'timeout' or 'delay'")
        timeout = raw.get("timeoutSeconds", {503: 0, "delay": 2}.get(answer, 30))
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout < 0:
            raise ValueError("timeoutSeconds must be a non-negative number")
        return cls(method, "/" + path.strip("/"), mailbox and mailbox.lower(), count, answer,
                   float(timeout))  # fmt: skip

    def matches(self, method: str, template: str, mailbox: str | None) -> bool:
        return (
            self.method == method
            and self.route.lower() == template.lower()
            and (self.mailbox is None or self.mailbox == mailbox)
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "route": self.route,
            "mailbox": self.mailbox,
            "count": self.count,
            "answer": self.answer,
            "timeoutSeconds": self.timeout_seconds,
        }


class AnswerRules:
    def __init__(self) -> None:
        self.rules: list[AnswerRule] = []

    def reset(self) -> None:
        self.rules.clear()

    def take(
        self, method: str, template: str, mailbox: str | None, *, before: bool = False
    ) -> AnswerRule | None:
        """The first rule matching this request, one use of it spent: ``before`` it is
        applied (delays), or after (lost answers)."""
        for rule in self.rules:
            if (rule.answer == "delay") is before and rule.matches(method, template, mailbox):
                rule.count -= 1
                if rule.count <= 0:
                    self.rules.remove(rule)
                return rule
        return None


def service_unavailable(retry_after: int) -> GraphError:
    return GraphError(
        503,
        "serviceNotAvailable",
        "The service is temporarily unavailable. Please retry later.",
        {"Retry-After": str(retry_after)},
    )


def gateway_timeout() -> GraphError:
    return GraphError(504, "UnknownError", "Gateway Timeout")


class Freezer:
    """Holds Graph requests during a freeze, then lets them through one at a time."""

    def __init__(self) -> None:
        self._until: float | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._queue: deque[asyncio.Future[None]] = deque()
        self._running = False

    @property
    def frozen_until(self) -> float | None:
        return self._until

    def freeze(self, seconds: float) -> None:
        """Freeze for ``seconds`` from now (extends or shortens a running freeze)."""
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        if seconds <= 0:
            self.thaw()
            return
        self._until = time.time() + seconds
        self._handle = asyncio.get_running_loop().call_later(seconds, self.thaw)

    def thaw(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
        self._until = None
        self._next()

    def reset(self) -> None:
        self.thaw()

    def held(self) -> int:
        return len(self._queue)

    def _next(self) -> None:
        while self._queue and self._until is None:
            fut = self._queue.popleft()
            if not fut.done():
                self._running = True
                fut.set_result(None)
                return
        self._running = False

    @contextlib.asynccontextmanager
    async def gate(self) -> AsyncIterator[None]:
        """Wait for the end of a freeze (if any) and for the requests held before."""
        if self._until is None and not self._queue and not self._running:
            yield
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(fut)
        if self._until is None and not self._running:
            self._next()
        try:
            await fut
            yield
        finally:
            if fut.done() and not fut.cancelled():
                self._next()
            else:
                fut.cancel()
