"""The runtime: wires HTTP, queue and timer triggers around one Invoker."""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from emulators.functions_host.clock_follower import ClockFollower, load_hook
from emulators.functions_host.config import HostConfig, resolve_app_setting_refs
from emulators.functions_host.http_server import HttpHost
from emulators.functions_host.invoker import Invoker, Outcome
from emulators.functions_host.queue_listener import QueueListener, admin_queue_message
from emulators.functions_host.registry import FunctionSpec, describe, load_app
from emulators.functions_host.timers import Schedule, TimerRunner, parse_admin_input, timer_request

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


class FunctionsHost:
    def __init__(self, options: HostOptions) -> None:
        self.options = options
        self.config = HostConfig.load(options.app_dir / "host.json")
        app = load_app(options.app_target, options.app_dir)
        self.specs = describe(app)
        hook = load_hook(options.clock_hook) if options.clock_hook else None
        self.clock = ClockFollower(options.clock_url, hook, options.clock_ca)
        self.invoker = Invoker(self.config.function_timeout.total_seconds(), self.clock.sync)
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
                self._timers.append(self._timer_runner(spec))
            elif spec.trigger_type != "httpTrigger":
                raise ValueError(f"{spec.name}: trigger {spec.trigger_type} not supported locally")
        http = HttpHost(
            self.specs, self.invoker, self.config.route_prefix, self._run_non_http,
            self.options.function_key, self.options.master_key,
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
            "Host started: http://%s:%d/%s", self.options.host, self.options.port,
            self.config.route_prefix,
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

    def _timer_runner(self, spec: FunctionSpec) -> TimerRunner:
        expression = resolve_app_setting_refs(str(spec.trigger["schedule"]), os.environ)
        return TimerRunner(
            spec, Schedule(expression), self.invoker, self.clock.now,
            bool(spec.trigger.get("runOnStartup")),
        )  # fmt: skip

    async def _run_non_http(self, spec: FunctionSpec, given: str | None) -> dict[str, Any]:
        if spec.trigger_type == "queueTrigger":
            value: Any = admin_queue_message(given or "")
        elif spec.trigger_type == "timerTrigger":
            expression = resolve_app_setting_refs(str(spec.trigger["schedule"]), os.environ)
            schedule = Schedule(expression)
            value = timer_request(
                schedule, False, None, schedule.next_after(self.clock.now()),
                parse_admin_input(given),
            )  # fmt: skip
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
        await self.clock.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
        self.invoker.close()
        log.info("Host stopped")


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
