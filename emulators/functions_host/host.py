"""The runtime: wires HTTP, queue and timer triggers around one Invoker."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from azure.data.tables.aio import TableClient

from emulators.functions_host.clock_follower import ClockFollower, load_callable, load_hook
from emulators.functions_host.config import HostConfig, resolve_app_setting_refs
from emulators.functions_host.http_server import HttpHost, request_body_limit
from emulators.functions_host.invoker import Invoker, Outcome
from emulators.functions_host.queue_listener import QueueListener, admin_queue_message
from emulators.functions_host.registry import FunctionSpec, describe, load_app
from emulators.functions_host.singleton import (
    ScheduleMonitor,
    ScheduleStatus,
    TableLease,
    host_id_from_env,
    instance_id,
    open_hosts_table,
)
from emulators.functions_host.timers import (
    Coordination,
    Schedule,
    TimerRunner,
    timer_request,
)

log = logging.getLogger("functions_host")


@dataclass
class HostOptions:
    app_target: str = "function_app:app"
    app_dir: Path = field(default_factory=Path.cwd)
    host: str = "127.0.0.1"
    port: int = 7071
    function_key: str | None = None
    master_key: str | None = None
    clock_url: str | None = None
    clock_ca: str | None = None
    clock_hook: str | None = None
    disabled: tuple[str, ...] = ()
    grace_seconds: float = 20.0
    shutdown_hook: str | None = None


class FunctionsHost:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.config = HostConfig.load(options.app_dir / "host.json")
        app = load_app(options.app_target, options.app_dir)
        self.specs = describe(app)
        hook = load_hook(options.clock_hook) if options.clock_hook else None
        self.clock = ClockFollower(options.clock_url, hook, options.clock_ca)
        self.invoker = Invoker(self.config.function_timeout.total_seconds(), self.clock.sync)
        self.host_id = host_id_from_env(options.app_dir, options.app_target)
        self.instance_id = instance_id()
        self._hosts_table: TableClient | None = None
        hook_target = options.shutdown_hook
        self._shutdown_hook = load_callable(hook_target) if hook_target else None
        self._queues: list[QueueListener] = []
        self._timers: list[TimerRunner] = []
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self._background: set[asyncio.Task[Outcome]] = set()

    def _enabled(self, spec: FunctionSpec) -> bool:
        flag = os.environ.get(f"AzureWebJobs.{spec.name}.Disabled", "").lower()
        return spec.name not in self.options.disabled and flag not in ("1", "true")

    async def start(self) -> None:
        await self.clock.sync()
        for spec in self.specs:
            if not self._enabled(spec):
                log.info("Function %s is disabled", spec.name)
            elif spec.trigger_type == "queueTrigger":
                self._queues.append(self._queue_listener(spec))
            elif spec.trigger_type == "timerTrigger":
                self._timers.append(await self._timer_runner(spec))
            elif spec.trigger_type != "httpTrigger":
                raise ValueError(f"{spec.name}: trigger {spec.trigger_type} not supported locally")
        http = HttpHost(
            self.specs, self.invoker, self.config.route_prefix, self._run_non_http,
            self.options.function_key, self.options.master_key,
            max_body_bytes=request_body_limit(os.environ),
        )  # fmt: skip
        self._runner = web.AppRunner(http.app(), access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.options.host, self.options.port).start()
        self._tasks = [asyncio.create_task(q.run(), name=q.spec.name) for q in self._queues]
        self._tasks += [asyncio.create_task(t.run(), name=t.spec.name) for t in self._timers]
        if self.clock.enabled:
            self._tasks.append(asyncio.create_task(self.clock.run(), name="clock"))
        for spec in self.specs:
            log.info("Functions: %s: %s", spec.name, _describe_trigger(spec, self.config))
        log.info(
            "Host started: http://%s:%d/%s (host id %s, instance %s)", self.options.host,
            self.options.port, self.config.route_prefix, self.host_id, self.instance_id,
        )  # fmt: skip

    def _queue_listener(self, spec: FunctionSpec) -> QueueListener:
        setting = str(spec.trigger.get("connection") or "AzureWebJobsStorage")
        connection = os.environ.get(setting)
        if not connection:
            raise ValueError(f"{spec.name}: app setting {setting} (queue connection) is not set")
        queue = resolve_app_setting_refs(str(spec.trigger["queueName"]), os.environ)
        # The real host hides a dequeued message for 10 minutes and renews that while
        # the function runs; FUNCTIONS_HOST_QUEUE_LEASE_SECONDS shortens it (chaos tests
        # kill the host and want orphaned messages back soon).
        lock = int(os.environ.get("FUNCTIONS_HOST_QUEUE_LEASE_SECONDS", "600"))
        return QueueListener(spec, connection, queue, self.config.queues, self.invoker, lock)

    async def _timer_runner(self, spec: FunctionSpec) -> TimerRunner:
        expression = resolve_app_setting_refs(str(spec.trigger["schedule"]), os.environ)
        schedule = Schedule(expression)
        return TimerRunner(
            spec, schedule, self.invoker, self.clock.now,
            bool(spec.trigger.get("runOnStartup")), await self._coordination(spec, schedule),
        )  # fmt: skip

    async def _coordination(self, spec: FunctionSpec, schedule: Schedule) -> Coordination | None:
        """Timers of all instances with one host id share a lock and a schedule status
        in AzureWebJobsStorage, as the real host's do (without it, this one runs alone)."""
        connection = os.environ.get("AzureWebJobsStorage")
        if not connection:
            log.warning("AzureWebJobsStorage is not set: timer %s runs unshared", spec.name)
            return None
        if self._hosts_table is None:
            self._hosts_table = await open_hosts_table(connection)
        name = f"Host.Functions.{spec.name}"
        singleton = self.config.singleton
        lease = TableLease(
            self._hosts_table, self.host_id, f"{name}.Listener", self.instance_id,
            singleton.listener_lock_period,
        )  # fmt: skip
        use_monitor = spec.trigger.get("useMonitor")
        if use_monitor is None:
            use_monitor = schedule.monitored_by_default(self.clock.now())
        monitor = ScheduleMonitor(self._hosts_table, self.host_id, name) if use_monitor else None
        return Coordination(lease, monitor, singleton.listener_lock_recovery_polling_interval)

    async def _run_non_http(self, spec: FunctionSpec, given: str | None) -> dict[str, Any]:
        if spec.trigger_type == "queueTrigger":
            value: Any = admin_queue_message(given or "")
        elif spec.trigger_type == "timerTrigger":
            expression = resolve_app_setting_refs(str(spec.trigger["schedule"]), os.environ)
            now = self.clock.now()
            status = ScheduleStatus(None, Schedule(expression).next_after(now), now)
            # The real host ignores the admin body's "input" for a timer: so do we.
            value = timer_request(status, False)
        else:
            raise ValueError(f"cannot run {spec.trigger_type} from the admin endpoint")
        task = asyncio.create_task(self.invoker.invoke(spec, value))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

        async def wait() -> dict[str, Any]:
            outcome = await task
            return {
                "invocationId": outcome.invocation_id,
                "status": "Succeeded" if outcome.ok else "Failed",
                "error": None if outcome.ok else f"{type(outcome.error).__name__}: {outcome.error}",
            }

        return {"wait": wait}

    async def stop(self) -> None:
        log.info("Stopping host...")
        grace = self.options.grace_seconds
        for timer in self._timers:
            timer.stop()
        await asyncio.gather(*(q.stop(grace) for q in self._queues), return_exceptions=True)
        if self._background:
            await asyncio.wait(self._background, timeout=grace)
        # Timers finish a running occurrence, record it and release their lock.
        timers = [t for t in self._tasks if t.get_name() in {r.spec.name for r in self._timers}]
        if timers:
            await asyncio.wait(timers, timeout=grace)
        await self.clock.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        await self._app_shutdown()
        if self._hosts_table is not None:
            await self._hosts_table.close()
        self.invoker.close()
        log.info("Host stopped")

    async def _app_shutdown(self) -> None:
        """The app's shutdown hook (module:function, sync or async), on the loop its
        clients were made on, so SDK sessions close before the interpreter goes."""
        if self._shutdown_hook is None:
            return
        try:
            result = self._shutdown_hook()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("shutdown hook %s failed", self.options.shutdown_hook)


def _describe_trigger(spec: FunctionSpec, config: HostConfig) -> str:
    t = spec.trigger
    if spec.trigger_type == "httpTrigger":
        methods = ",".join(t.get("methods") or ["*"])
        return f"[{methods}] /{config.route_prefix}/{t.get('route') or spec.name}"
    if spec.trigger_type == "queueTrigger":
        return f"queueTrigger {t.get('queueName')}"
    if spec.trigger_type == "timerTrigger":
        return f"timerTrigger {t.get('schedule')}"
    return spec.trigger_type
