"""The fault configuration of ``PUT /_emulator/faults``.

All documented fault fields are stored now. ``throttleRate`` and ``serverErrorRate``
act on Graph requests (``throttling``), as does ``appliedThenFailRate`` (a 503 for a
write that *was* carried out, ``lost_answers``); the notification fields on change
notification delivery (``notifications``). A few emulator knobs live here too, so that
``reset`` restores them with the rest:

- ``latencyMs``: extra service time of every Graph request (lets concurrency limits
  be observed; real Graph answers in tens of milliseconds);
- ``propagationDelaySeconds``: virtual seconds before meeting messages and
  responses reach other mailboxes (default 0: delivered before the request returns);
- ``mailboxConcurrency`` (4) and ``mailboxBudgetPer10Min`` (10,000): Outlook's
  per-app, per-mailbox limits (learn.microsoft.com/graph/throttling-limits#outlook-service-limits);
- ``retryAfterSeconds``: the Retry-After of injected 429/503 answers (0 allowed);
- ``subscriptionWritesPer20Seconds`` (500) and ``subscriptionReauthorizationsPer20Seconds``
  (1,000): the subscription service's per app, per tenant limits, counted in *real*
  seconds (learn.microsoft.com/graph/throttling-limits#subscription-service-limits);
- ``reauthorizationWarningMinutes`` (60; 0 turns it off): how long before expiry a
  subscription with a ``lifecycleNotificationUrl`` starts getting automatic
  ``reauthorizationRequired`` notifications (``notifications``).

The notification fields act on change notifications only (``notifications``):
``notificationDropRate`` / ``notificationDuplicateRate`` are per notification item,
``notificationDelaySeconds`` is virtual time added before an item is due, ``reorder``
shuffles the items of each due POST, ``silentMailboxes`` never produce notifications.

Random draws come from ``random.Random`` seeded with ``seed`` and a stream name, so a
run with the same seed and the same request order gets the same faults.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    seed: int = 0
    notificationDropRate: float = 0.0
    notificationDuplicateRate: float = 0.0
    notificationDelaySeconds: tuple[float, float] = (0.0, 0.0)
    reorder: bool = False
    throttleRate: float = 0.0
    serverErrorRate: float = 0.0
    appliedThenFailRate: float = 0.0
    silentMailboxes: list[str] = field(default_factory=list)
    latencyMs: float = 0.0
    propagationDelaySeconds: float = 0.0
    mailboxConcurrency: int = 4
    mailboxBudgetPer10Min: int = 10_000
    retryAfterSeconds: int = 1
    subscriptionWritesPer20Seconds: int = 500
    subscriptionReauthorizationsPer20Seconds: int = 1000
    reauthorizationWarningMinutes: int = 60

    @classmethod
    def from_json(cls, raw: Any) -> Faults:
        if not isinstance(raw, dict):
            raise ValueError("faults must be a JSON object")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        out = cls()
        for name, value in raw.items():
            if value is None:
                continue
            setattr(out, name, _check(name, value))
        return out

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["notificationDelaySeconds"] = list(self.notificationDelaySeconds)
        return out

    def rng(self, stream: str) -> random.Random:
        """An independent, reproducible random stream for one kind of fault."""
        return random.Random(f"{self.seed}:{stream}")


_RATES = {
    "notificationDropRate",
    "notificationDuplicateRate",
    "throttleRate",
    "serverErrorRate",
    "appliedThenFailRate",
}


def _number(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


def _check(name: str, value: Any) -> Any:
    if name in _RATES:
        rate = _number(name, value)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1")
        return rate
    if name == "seed":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("seed must be an integer")
        return value
    if name == "notificationDelaySeconds":
        if (
            not isinstance(value, list | tuple)
            or len(value) != 2
            or _number(name, value[0]) > _number(name, value[1])
            or _number(name, value[0]) < 0
        ):
            raise ValueError("notificationDelaySeconds must be [min, max] with 0 <= min <= max")
        return (float(value[0]), float(value[1]))
    if name == "reorder":
        if not isinstance(value, bool):
            raise ValueError("reorder must be a boolean")
        return value
    if name == "silentMailboxes":
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError("silentMailboxes must be a list of addresses")
        return [v.lower() for v in value]
    if name in ("reauthorizationWarningMinutes", "retryAfterSeconds"):  # 0 is meaningful
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer")
        return value
    if name in ("latencyMs", "propagationDelaySeconds"):
        number = _number(name, value)
        if number < 0:
            raise ValueError(f"{name} must not be negative")
        return number
    # integer knobs
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer")
    return value
