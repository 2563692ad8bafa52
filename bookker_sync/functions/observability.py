"""``@observed``: every log line of an invocation names its function, invocation id,
tenant and mailbox, and the invocation is one trace span.

Put it under the trigger decorators; the function takes ``context: func.Context``
(the Functions host passes it to functions that ask for it)::

    @bp.route(route="tenants/{tenantId}", ...)
    @observed
    async def put_tenant(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:

Tenant and mailbox come from the trigger when it carries them: an HTTP route's
``tenantId``, a queue message's ``tenantId`` / ``mailbox``. Code that learns them
later narrows the scope with ``bookker_sync.log_context.bind``.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import azure.functions as func

from bookker_sync.log_context import log_scope
from bookker_sync.telemetry import tracer

P = ParamSpec("P")
R = TypeVar("R")
MAX_PEEK_BYTES = 64 * 1024


def _from_trigger(values: list[Any]) -> dict[str, str]:
    fields: dict[str, str] = {}
    for value in values:
        if isinstance(value, func.HttpRequest):
            tenant = value.route_params.get("tenantId")
            if tenant:
                fields["tenant"] = str(tenant)
        elif isinstance(value, func.QueueMessage):
            body = value.get_body()
            if len(body) > MAX_PEEK_BYTES:
                continue
            try:
                data = json.loads(body)
            except ValueError:
                continue
            if isinstance(data, dict):
                for key, field in (("tenantId", "tenant"), ("mailbox", "mailbox")):
                    if isinstance(data.get(key), str):
                        fields[field] = data[key]
    return fields


def observed(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    @functools.wraps(fn)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        context = kwargs.get("context")
        fields: dict[str, str] = {"function": fn.__name__}
        if isinstance(context, func.Context):
            fields["function"] = context.function_name or fn.__name__
            fields["invocation"] = context.invocation_id
        fields.update(_from_trigger([*args, *kwargs.values()]))
        with (
            log_scope(**fields),
            tracer.start_as_current_span(fields["function"], attributes=_attributes(fields)),
        ):
            return await fn(*args, **kwargs)

    return wrapper


def _attributes(fields: Mapping[str, str]) -> dict[str, str]:
    names = {
        "function": "faas.name",
        "invocation": "faas.invocation_id",
        "tenant": "bookker.tenant",
        "mailbox": "bookker.mailbox",
    }
    return {names[k]: v for k, v in fields.items() if k in names}
