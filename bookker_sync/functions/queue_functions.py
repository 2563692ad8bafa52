"""Queue-triggered functions: decode, hand to sync/, let the host retry on failure.

A message that can never succeed (not JSON, wrong shape) is moved straight to the
queue's poison queue with the reason, instead of burning maxDequeueCount retries.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import azure.functions as func

from bookker_sync import log_context, telemetry
from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed
from bookker_sync.storage.queue_names import (
    LIFECYCLE_QUEUE,
    MAILBOX_SYNC_QUEUE,
    OUTBOUND_QUEUE,
    poison_queue,
)

if TYPE_CHECKING:
    from bookker_sync.sync.messages import MailboxSyncMessage

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]


async def to_poison(queue: str, msg: func.QueueMessage, reason: str) -> None:
    from bookker_sync.sync.messages import PoisonMessage, send_poison

    body = msg.get_body().decode("utf-8", errors="replace")
    await send_poison(services().queues, queue, PoisonMessage(reason=reason, body=body, id=msg.id))
    telemetry.POISON_MESSAGES.add(1, {"queue": queue})
    log.error("message %s on %s moved to %s: %s", msg.id, queue, poison_queue(queue), reason)


@bp.function_name("apply_outbound")
@bp.queue_trigger(arg_name="msg", queue_name=OUTBOUND_QUEUE, connection="AzureWebJobsStorage")
@observed
async def apply_outbound_fn(msg: func.QueueMessage, context: func.Context) -> None:
    # Use cases are imported when first run, not at start-up (functions/deps.py).
    from bookker_sync.sync.messages import BadMessage, OutboundMessage, parse_message
    from bookker_sync.sync.outbound.release import apply_outbound

    try:
        message = parse_message(OutboundMessage, msg.get_body())
    except BadMessage as exc:
        await to_poison(OUTBOUND_QUEUE, msg, str(exc))
        return
    await apply_outbound(services(), message)


@bp.function_name("sync_mailbox")
@bp.queue_trigger(arg_name="msg", queue_name=MAILBOX_SYNC_QUEUE, connection="AzureWebJobsStorage")
@observed
async def sync_mailbox_fn(msg: func.QueueMessage, context: func.Context) -> None:
    from bookker_sync.sync.messages import BadMessage, parse_sync_pokes

    try:
        pokes = parse_sync_pokes(msg.get_body())
    except BadMessage as exc:
        await to_poison(MAILBOX_SYNC_QUEUE, msg, str(exc))
        return
    # A batch of pokes (one per mailbox) runs concurrently; each sync takes its own
    # mailbox lease. If one fails the message is retried and the others re-run as
    # cheap incremental deltas.
    await asyncio.gather(*(_sync_one(poke) for poke in pokes))


async def _sync_one(message: MailboxSyncMessage) -> None:
    from bookker_sync.sync.errors import NotFoundAppError
    from bookker_sync.sync.inbound.mailbox_sync import sync_mailbox

    log_context.bind(tenant=message.tenant_id, mailbox=message.mailbox)  # this task only
    try:
        result = await sync_mailbox(
            services(), message.tenant_id, message.mailbox, full=message.full,
            notified_at=message.notified_at,
            unless_synced_after=message.unless_synced_after,
        )  # fmt: skip
    except NotFoundAppError as exc:  # tenant deleted since the poke: nothing to sync
        log.warning("sync of %s skipped: %s", message.mailbox, exc)
        return
    log.info(
        "synced %s: ran=%s runs=%d items=%d full=%s actions=%s",
        result.mailbox, result.ran, result.runs, result.items, result.full_resync, result.actions,
    )  # fmt: skip


@bp.function_name("process_lifecycle")
@bp.queue_trigger(arg_name="msg", queue_name=LIFECYCLE_QUEUE, connection="AzureWebJobsStorage")
@observed
async def process_lifecycle_fn(msg: func.QueueMessage, context: func.Context) -> None:
    from bookker_sync.sync.messages import BadMessage, RunNowMessage, parse_lifecycle
    from bookker_sync.sync.ops.run_now import run_now
    from bookker_sync.sync.subscriptions import lifecycle

    try:
        message = parse_lifecycle(msg.get_body())
    except BadMessage as exc:
        await to_poison(LIFECYCLE_QUEUE, msg, str(exc))
        return
    if isinstance(message, RunNowMessage):
        await run_now(services(), message)
        return
    await lifecycle.process(services(), message)
