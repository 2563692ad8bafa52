"""Timer triggers on 6-field NCRONTAB schedules (or TimeSpan), on the app's clock.

The clock may jump (virtual time): a schedule found behind runs once with
``past_due`` and the next occurrence is computed from now, like the real host.
With several instances of one app, a timer runs on one of them at a time (the
holder of its listener lock) and the schedule status is shared (see singleton.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from azure.functions.timer import TimerRequest
from croniter import croniter

from emulators.functions_host.config import parse_timespan
from emulators.functions_host.invoker import Invoker
from emulators.functions_host.registry import FunctionSpec
from emulators.functions_host.singleton import ScheduleMonitor, ScheduleStatus, TableLease

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

    def monitored_by_default(self, moment: datetime) -> bool:
        """The real host monitors a schedule (useMonitor) unless it recurs more often
        than once a minute."""
        first = self.next_after(moment)
        return self.next_after(first) - first >= timedelta(minutes=1)


def timer_request(status: ScheduleStatus, past_due: bool) -> TimerRequest:
    """What the function gets: like the real TimerInfo, the status as it was before
    this run (Last = the previous occurrence, Next = this one). Nothing else: the real
    host passes no input to a timer, not even one run from the admin endpoint."""
    return TimerRequest(
        past_due=past_due, schedule_status=status.as_dict(), schedule={"AdjustForDST": True}
    )


@dataclass(frozen=True)
class Coordination:
    """How instances of one app share a timer: one listener lock, one schedule status."""

    lease: TableLease
    monitor: ScheduleMonitor | None
    recovery_interval: timedelta


class TimerRunner:
    """Runs one timer function. With coordination, only while this instance holds the
    timer's listener lock (the real host makes timer listeners singletons)."""

    def __init__(
        self,
        spec: FunctionSpec,
        schedule: Schedule,
        invoker: Invoker,
        now: Callable[[], datetime],
        run_on_startup: bool,
        coordination: Coordination | None = None,
    ) -> None:
        self.spec = spec
        self.schedule = schedule
        self._invoker = invoker
        self._now = now
        self._run_on_startup = run_on_startup
        self._shared = coordination
        self._stopping = asyncio.Event()
        self._status: ScheduleStatus | None = None

    async def run(self) -> None:
        if self._shared is None:
            await self._listen()
            return
        try:
            while not self._stopping.is_set():
                if await self._try_hold():
                    log.info("Timer %s: this instance holds the listener lock", self.spec.name)
                    await self._listen()
                else:
                    await self._sleep(self._shared.recovery_interval.total_seconds())
        finally:
            await self._shared.lease.release()

    def _active(self) -> bool:
        lease = self._shared.lease if self._shared else None
        return not self._stopping.is_set() and (lease is None or lease.held)

    async def _try_hold(self) -> bool:
        assert self._shared is not None
        try:
            return await self._shared.lease.try_hold()
        except Exception as exc:  # storage hiccup: try again at the next poll
            log.warning("Timer %s: listener lock: %s", self.spec.name, exc)
            return False

    async def _keep_lease(self) -> None:
        assert self._shared is not None
        while True:
            await asyncio.sleep(self._shared.lease.period.total_seconds() / 3)
            if not await self._try_hold() and not self._shared.lease.held:
                log.warning("Timer %s: listener lock lost", self.spec.name)
                return

    async def _listen(self) -> None:
        keeper = asyncio.create_task(self._keep_lease()) if self._shared else None
        try:
            await self._start_listening()
            due = self.schedule.next_after(self._now())
            while self._active():
                now = self._now()
                if now >= due:
                    await self._fire(past_due=now - due > PAST_DUE_AFTER, due=due)
                    due = self.schedule.next_after(max(self._now(), due))
                    continue
                await self._sleep(TICK_SECONDS)
        finally:
            if keeper is not None:
                keeper.cancel()

    async def _start_listening(self) -> None:
        monitor = self._shared.monitor if self._shared else None
        now = self._now()
        if monitor is not None:
            try:
                self._status = await monitor.get()
            except Exception as exc:  # run on schedule anyway; the next run records
                log.warning("Timer %s: reading schedule status failed: %s", self.spec.name, exc)
        if self._run_on_startup:
            await self._fire(past_due=False, due=now)
        elif self._status is not None and now > self._status.next:
            # Missed while no instance listened (all down, or the holder died): run
            # once, past due, for the missed occurrence, then resume from now.
            await self._fire(past_due=True, due=self._status.next)
        elif self._status is None and monitor is not None:
            await self._record(ScheduleStatus(None, self.schedule.next_after(now), now))

    async def _fire(self, past_due: bool, due: datetime) -> None:
        if not self._active():
            return  # the lock expired under us: the new holder runs this occurrence
        last = self._status.last if self._status else None
        request = timer_request(ScheduleStatus(last, due, self._now()), past_due)
        await self._invoker.invoke(self.spec, request)
        await self._record(ScheduleStatus(due, self.schedule.next_after(due), self._now()))

    async def _record(self, status: ScheduleStatus) -> None:
        self._status = status
        monitor = self._shared.monitor if self._shared else None
        if monitor is None:
            return
        try:
            await monitor.put(status)
        except Exception as exc:  # the next run records again
            log.warning("Timer %s: saving schedule status failed: %s", self.spec.name, exc)

    async def _sleep(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            pass

    def stop(self) -> None:
        self._stopping.set()
