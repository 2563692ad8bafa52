"""Runs one invocation: builds the context, calls the function, logs one line."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import azure.functions as func

from emulators.functions_host.registry import FunctionSpec

log = logging.getLogger("functions_host")


class _TraceContext(func._abc.TraceContext):
    def __init__(self) -> None:
        self._parent = f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01"

    @property
    def trace_parent(self) -> str:
        return self._parent

    @property
    def trace_state(self) -> str:
        return ""

    @property
    def attributes(self) -> dict[str, str]:
        return {}


class _RetryContext(func._abc.RetryContext):
    def __init__(self, retry_count: int, max_retry_count: int) -> None:
        self._count, self._max = retry_count, max_retry_count

    @property
    def retry_count(self) -> int:
        return self._count

    @property
    def max_retry_count(self) -> int:
        return self._max

    @property
    def exception(self) -> func._abc.RpcException:
        return None  # type: ignore[return-value]  # no exception on a first try


class Context(func.Context):
    def __init__(self, name: str, retry_count: int = 0, max_retry_count: int = 0) -> None:
        self._id = str(uuid.uuid4())
        self._name = name
        self._trace = _TraceContext()
        self._retry = _RetryContext(retry_count, max_retry_count)
        self._tls = threading.local()

    @property
    def invocation_id(self) -> str:
        return self._id

    @property
    def function_name(self) -> str:
        return self._name

    @property
    def function_directory(self) -> str:
        return ""

    @property
    def thread_local_storage(self) -> type[threading.local]:
        return self._tls  # type: ignore[return-value]  # the SDK's stub says the class

    @property
    def trace_context(self) -> func._abc.TraceContext:
        return self._trace

    @property
    def retry_context(self) -> func._abc.RetryContext:
        return self._retry


@dataclass
class Outcome:
    ok: bool
    result: Any = None
    error: BaseException | None = None
    invocation_id: str = ""


class Invoker:
    """Calls user functions: async ones on the host loop, sync ones in a thread pool
    (as the Python worker does)."""

    def __init__(self, timeout_seconds: float, before_invoke: Callable[[], Awaitable[None]]):
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="fn")
        self._timeout = timeout_seconds
        self._before = before_invoke

    async def invoke(
        self, spec: FunctionSpec, trigger_value: Any, *, retry_count: int = 0, max_retry: int = 0
    ) -> Outcome:
        await self._before()
        context = Context(spec.name, retry_count, max_retry)
        kwargs: dict[str, Any] = {spec.trigger_arg: trigger_value}
        context_arg = spec.wants_context
        if context_arg:
            kwargs[context_arg] = context
        started = time.perf_counter()
        try:
            if spec.is_async:
                result = await asyncio.wait_for(spec.user_function(**kwargs), self._timeout)
            else:
                loop = asyncio.get_running_loop()
                call = functools.partial(spec.user_function, **kwargs)
                ctx = contextvars.copy_context()
                result = await asyncio.wait_for(
                    loop.run_in_executor(self._pool, ctx.run, call), self._timeout
                )
            outcome = Outcome(ok=True, result=result, invocation_id=context.invocation_id)
        except Exception as exc:  # the host reports, it doesn't die
            outcome = Outcome(ok=False, error=exc, invocation_id=context.invocation_id)
        duration_ms = (time.perf_counter() - started) * 1000
        status = (
            "Succeeded"
            if outcome.ok
            else f"Failed ({type(outcome.error).__name__}: {outcome.error})"
        )
        log.info(
            "Executed 'Functions.%s' (%s, Id=%s, Duration=%.0fms)",
            spec.name, status, context.invocation_id, duration_ms,
        )  # fmt: skip
        if not outcome.ok and outcome.error is not None:
            log.debug("invocation %s failed", context.invocation_id, exc_info=outcome.error)
        return outcome

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
