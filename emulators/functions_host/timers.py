"""Timer triggers on 6-field NCRONTAB schedules (or TimeSpan), on the app's clock.

The clock may jump (virtual time): a schedule found behind runs once with
``past_due`` and the next occurrence is computed from now, like the real host.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from azure.functions.timer import TimerRequest
from croniter import croniter

from emulators.functions_host.config import parse_timespan
from emulators.functions_host.invoker import Invoker
from emulators.functions_host.registry import FunctionSpec

log = logging.getLogger("functions_host.timers")
TICK_SECONDS = 0.25
PAST_DUE_AFTER = timedelta(seconds=5)


class Schedule:
    def __init__(self, expression: str) -> None:
        self.expression = expression.strip()
        self._interval: timedelta | None = None
        if ":" in self.expression and " " not in self.expression:
            self._interval = parse_timespan(self.expression)
            if self._interval <= timedelta(0):
                raise ValueError(f"timer interval must be positive: {expression!r}")
        else:
            fields = self.expression.split()
            if len(fields) != 6:
                raise ValueError(
                    "NCRONTAB needs 6 fields (second minute hour day month weekday): "
                    f"{expression!r}"
                )
            if not croniter.is_valid(self.expression, second_at_beginning=True):
                raise ValueError(f"invalid NCRONTAB expression {expression!r}")

    def next_after(self, moment: datetime) -> datetime:
        if self._interval is not None:
            return moment + self._interval
        it = croniter(self.expression, moment, second_at_beginning=True)
        result: datetime = it.get_next(datetime)
        return result


def timer_request(
    schedule: Schedule,
    past_due: bool,
    last: datetime | None,
    next_due: datetime,
    given: dict[str, Any] | None = None,
) -> TimerRequest:
    request = TimerRequest(
        past_due=past_due,
        schedule_status={
            "Last": last.isoformat() if last else None,
            "Next": next_due.isoformat(),
            "LastUpdated": (last or next_due).isoformat(),
        },
        schedule={"AdjustForDST": True},
    )
    # Admin-endpoint input (e.g. {"force": true}) rides along on the request object.
    request.input = given or {}  # type: ignore[attr-defined]
    return request


def parse_admin_input(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


class TimerRunner:
    def __init__(
        self,
        spec: FunctionSpec,
        schedule: Schedule,
        invoker: Invoker,
        now: Callable[[], datetime],
        run_on_startup: bool,
    ) -> None:
        self.spec = spec
        self.schedule = schedule
        self._invoker = invoker
        self._now = now
        self._run_on_startup = run_on_startup
        self._stopping = asyncio.Event()
        self._last: datetime | None = None

    async def run(self) -> None:
        if self._run_on_startup:
            await self._fire(past_due=False, due=self._now())
        due = self.schedule.next_after(self._now())
        while not self._stopping.is_set():
            now = self._now()
            if now >= due:
                await self._fire(past_due=now - due > PAST_DUE_AFTER, due=due)
                due = self.schedule.next_after(max(self._now(), due))
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), TICK_SECONDS)
            except TimeoutError:
                pass

    async def _fire(self, past_due: bool, due: datetime) -> None:
        request = timer_request(self.schedule, past_due, self._last, self.schedule.next_after(due))
        self._last = due
        await self._invoker.invoke(self.spec, request)

    def stop(self) -> None:
        self._stopping.set()
