"""Queue-triggered functions: decode, hand to sync/, let the host retry on failure.

A message that can never succeed (not JSON, wrong shape) is moved straight to the
queue's poison queue with the reason, instead of burning maxDequeueCount retries.
"""

from __future__ import annotations

import logging

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.storage.queues import OUTBOUND_QUEUE, poison_queue
from bookker_sync.sync.outbound import BadOutboundMessage, apply_outbound, parse_outbound

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]


async def to_poison(queue: str, msg: func.QueueMessage, reason: str) -> None:
    body = msg.get_body().decode("utf-8", errors="replace")
    await services().queues.send(
        poison_queue(queue), {"reason": reason, "body": body, "id": msg.id}
    )
    log.error("message %s on %s moved to %s: %s", msg.id, queue, poison_queue(queue), reason)


@bp.function_name("apply_outbound")
@bp.queue_trigger(arg_name="msg", queue_name=OUTBOUND_QUEUE, connection="AzureWebJobsStorage")
async def apply_outbound_fn(msg: func.QueueMessage) -> None:
    try:
        message = parse_outbound(msg.get_body())
    except BadOutboundMessage as exc:
        await to_poison(OUTBOUND_QUEUE, msg, str(exc))
        return
    await apply_outbound(services(), message)
