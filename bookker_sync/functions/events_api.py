"""The events told to Bookker: the pull feed (GET /api/tenants/{id}/events), the push
queue and the timers that retry pushes and purge what is past retention.

Use cases are imported when a function first runs, not at start-up (functions/deps.py).
"""

from __future__ import annotations

import logging

import azure.functions as func

from bookker_sync.functions.auth import API_LEVEL, ROLE_BOOKINGS, requires
from bookker_sync.functions.deps import services
from bookker_sync.functions.http_helpers import handle, route_id
from bookker_sync.functions.observability import observed
from bookker_sync.functions.queue_functions import to_poison
from bookker_sync.functions.responses import json_response
from bookker_sync.storage.queue_names import EVENT_PUSH_QUEUE

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]
# Fixed schedules (NCRONTAB, UTC): pushes due for a retry are looked for every minute;
# data past retention is purged daily at 03:30.
DELIVERY_SCHEDULE = "0 * * * * *"
PURGE_SCHEDULE = "0 30 3 * * *"


@bp.route(route="tenants/{tenantId}/events", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def events_feed(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.sync.events.feed import parse_limit, read_feed

    async def work() -> func.HttpResponse:
        tenant_id = route_id(req, "tenantId")
        limit = parse_limit(req.params.get("limit"))
        page = await read_feed(services(), tenant_id, req.params.get("after"), limit)
        return json_response({"value": page.events, "cursor": page.cursor})

    return await handle(work)


@bp.function_name("push_events")
@bp.queue_trigger(arg_name="msg", queue_name=EVENT_PUSH_QUEUE, connection="AzureWebJobsStorage")
@observed
async def push_events_fn(msg: func.QueueMessage, context: func.Context) -> None:
    from bookker_sync.sync.events import push
    from bookker_sync.sync.messages import BadMessage, EventPushMessage, parse_message

    try:
        message = parse_message(EventPushMessage, msg.get_body())
    except BadMessage as exc:
        await to_poison(EVENT_PUSH_QUEUE, msg, str(exc))
        return
    result = await push.deliver(services(), message.tenant_id)
    log.info(
        "push for %s: delivered=%d dead=%d failed=%s skipped=%s",
        message.tenant_id, result.delivered, result.dead_lettered, result.failed, result.skipped,
    )  # fmt: skip


@bp.function_name("deliver_events")
@bp.timer_trigger(schedule=DELIVERY_SCHEDULE, arg_name="timer", run_on_startup=False)
@observed
async def deliver_events_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.events import push

    await push.poke_due(services())


@bp.function_name("purge_expired")
@bp.timer_trigger(schedule=PURGE_SCHEDULE, arg_name="timer", run_on_startup=False)
@observed
async def purge_expired_fn(timer: func.TimerRequest, context: func.Context) -> None:
    from bookker_sync.sync.ops.retention import purge_expired

    await purge_expired(services())
