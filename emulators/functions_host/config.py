"""host.json and local.settings.json, read the way the Functions host reads them."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d+))?$")


def parse_timespan(value: str) -> timedelta:
    """.NET TimeSpan text ("00:00:30", "1.00:00:00") → timedelta."""
    match = _TIMESPAN.match(value.strip())
    if not match:
        raise ValueError(f"not a TimeSpan: {value!r} (expected [d.]hh:mm:ss)")
    days, hours, minutes, seconds, frac = match.groups()
    return timedelta(
        days=int(days or 0),
        hours=int(hours),
        minutes=int(minutes),
        seconds=int(seconds) + float(f"0.{frac}" if frac else 0),
    )


@dataclass(frozen=True)
class QueueOptions:
    """extensions.queues in host.json, with the real host's defaults."""

    batch_size: int = 16
    new_batch_threshold: int | None = None
    max_polling_interval: timedelta = timedelta(minutes=1)
    visibility_timeout: timedelta = timedelta(0)
    max_dequeue_count: int = 5
    message_encoding: str = "base64"

    @property
    def threshold(self) -> int:
        return (
            self.new_batch_threshold
            if self.new_batch_threshold is not None
            else (self.batch_size // 2)
        )


@dataclass(frozen=True)
class SingletonOptions:
    """``singleton`` in host.json: the timer listener lock, with the real host's defaults.

    The real host's blob leases limit the period to 15..60 s; a table lease has no such
    limit, so tests may use a short one.
    """

    listener_lock_period: timedelta = timedelta(seconds=60)
    listener_lock_recovery_polling_interval: timedelta = timedelta(seconds=60)


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()
    function_timeout: timedelta = timedelta(minutes=10)
    singleton: SingletonOptions = SingletonOptions()

    @classmethod
    def load(cls, path: Path) -> HostConfig:
        data: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
        if data and data.get("version") != "2.0":
            raise ValueError(f'{path}: host.json must have "version": "2.0"')
        ext = data.get("extensions", {})
        q = ext.get("queues", {})
        queues = QueueOptions(
            batch_size=int(q.get("batchSize", 16)),
            new_batch_threshold=(int(q["newBatchThreshold"]) if "newBatchThreshold" in q else None),
            max_polling_interval=parse_timespan(q.get("maxPollingInterval", "00:01:00")),
            visibility_timeout=parse_timespan(q.get("visibilityTimeout", "00:00:00")),
            max_dequeue_count=int(q.get("maxDequeueCount", 5)),
            message_encoding=str(q.get("messageEncoding", "base64")).lower(),
        )
        if not 1 <= queues.batch_size <= 32:
            raise ValueError("host.json extensions.queues.batchSize must be 1..32")
        s = data.get("singleton", {})
        singleton = SingletonOptions(
            listener_lock_period=parse_timespan(s.get("listenerLockPeriod", "00:01:00")),
            listener_lock_recovery_polling_interval=parse_timespan(
                s.get("listenerLockRecoveryPollingInterval", "00:01:00")
            ),
        )
        if singleton.listener_lock_period < timedelta(seconds=1):
            raise ValueError("host.json singleton.listenerLockPeriod must be at least 1 second")
        return cls(
            route_prefix=str(ext.get("http", {}).get("routePrefix", "api")).strip("/"),
            queues=queues,
            function_timeout=parse_timespan(data.get("functionTimeout", "00:10:00")),
            singleton=singleton,
        )


def load_local_settings(path: Path) -> dict[str, str]:
    """``Values`` of local.settings.json; like `func start`, real env vars win."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    values = data.get("Values", {})
    if not isinstance(values, dict):
        raise ValueError(f"{path}: Values must be an object")
    return {str(k): str(v) for k, v in values.items() if k not in os.environ}


_SETTING_REF = re.compile(r"%([A-Za-z0-9_:.\-]+)%")


def resolve_app_setting_refs(text: str, env: dict[str, str] | os._Environ[str]) -> str:
    """Binding expressions like ``%RECONCILE_SCHEDULE%`` → the app setting's value."""

    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            raise KeyError(f"app setting {name} (referenced as %{name}%) is not set")
        return env[name]

    return _SETTING_REF.sub(sub, text)
