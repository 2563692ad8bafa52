"""Creation intents (domain/creation_intent.py): recorded before a booking's Outlook
write, removed when the request completes, undone by a sweep once their deadline has
passed. The sweep runs with every room sync (for that space) and with the reconcile
timer (every tenant)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bookker_sync.domain.creation_intent import (
    CreationIntent,
    IntentState,
    Verdict,
    in_flight,
    verdict,
)
from bookker_sync.graph.errors import GraphError
from bookker_sync.storage.errors import ConflictError, NotFoundError
from bookker_sync.storage.ledger import Claim
from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.tables import Stored
from bookker_sync.sync import messages
from bookker_sync.sync.errors import ConflictAppError, NotFoundAppError
from bookker_sync.sync.messages import MailboxSyncMessage
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
ABANDONED_MESSAGE = (
    "an earlier request with this Idempotency-Key failed and was undone (nothing is "
    "booked); send the booking again with a new key"
)


async def begin(services: Services, intent: CreationIntent) -> Stored[CreationIntent]:
    """Record the intent (or find the one a retried request recorded: resumed)."""
    table = services.repos.intents
    try:
        etag = await table.insert(intent.tenant_id, intent.booking_id, intent)
        return Stored(intent, etag)
    except ConflictError:
        stored = await table.find(intent.tenant_id, intent.booking_id)
    if stored is None:  # forgotten in between: record it afresh
        return await begin(services, intent)
    if stored.value.state is not IntentState.PENDING:
        raise ConflictAppError(ABANDONED_MESSAGE)
    return stored


async def unresolved(services: Services, tenant_id: str, booking_id: str) -> bool:
    """True when an intent of this id is pending (to be resumed); refused (409) when it
    was undone."""
    found = await services.repos.intents.find(tenant_id, booking_id)
    if found is not None and found.value.state is not IntentState.PENDING:
        raise ConflictAppError(ABANDONED_MESSAGE)
    return found is not None


async def complete(services: Services, stored: Stored[CreationIntent]) -> None:
    """The request's last write before it answers 201: the intent goes. Lost to a sweep
    that already undid it → the request must not answer 201."""
    i = stored.value
    try:
        await services.repos.intents.delete(i.tenant_id, i.booking_id, etag=stored.etag)
    except ConflictError as exc:
        raise ConflictAppError(
            "the booking took too long and was undone (nothing is booked); try again"
        ) from exc


async def pending(services: Services, tenant_id: str) -> list[CreationIntent]:
    return await services.repos.intents.list(tenant_id)


async def hidden_ids(services: Services, tenant_id: str) -> set[str]:
    """Bookings of unresolved intents: not shown by the API (not booked yet, or being
    undone)."""
    return {
        s.booking_id
        for i in await pending(services, tenant_id)
        if i.state is not IntentState.ABANDONED
        for s in i.slots
    }


async def require_visible(services: Services, tenant_id: str, booking_id: str) -> None:
    if booking_id in await hidden_ids(services, tenant_id):
        raise NotFoundAppError(f"booking {booking_id} not found")


async def in_flight_slots(
    services: Services, tenant_id: str, space_id: str
) -> list[tuple[datetime, datetime]]:
    intents = await services.repos.intents.list(tenant_id, "SpaceId eq @s", s=space_id)
    return list(in_flight(intents))


# -- the sweep --------------------------------------------------------------------------
async def resolve_due(services: Services, tenant_id: str, space_id: str | None = None) -> int:
    """Undo the tenant's (or one space's) intents past their deadline; returns how many."""
    undone, _ = await sweep(services, tenant_id, space_id)
    return undone


async def sweep(
    services: Services, tenant_id: str, space_id: str | None = None
) -> tuple[int, list[CreationIntent]]:
    """resolve_due, also returning the intents left (read once: a room sync uses them
    as its in-flight creations)."""
    where = "SpaceId eq @s" if space_id else None
    params = {"s": space_id} if space_id else {}
    undone, left = 0, []
    now = services.clock.now()
    found = [s async for s in services.repos.intents.query(tenant_id, where, **params)]
    for stored in found:
        match verdict(stored.value, now):
            case Verdict.UNDO:
                if await _undo(services, stored):
                    undone += 1
            case Verdict.FORGET:
                await services.repos.intents.delete(
                    tenant_id, stored.value.booking_id, etag=stored.etag
                )
            case Verdict.WAIT:
                left.append(stored.value)
    return undone, left


async def _undo(services: Services, stored: Stored[CreationIntent]) -> bool:
    intent = await _claim_undo(services, stored)
    if intent is None:
        return False  # its request completed it meanwhile
    log.warning(
        "booking %s: creation not completed by %s; undoing what Outlook and Bookker have",
        intent.booking_id, intent.deadline.isoformat(),
    )  # fmt: skip
    await _cancel_in_outlook(services, intent)
    for slot in intent.slots:
        await services.repos.bookings.delete(intent.tenant_id, slot.booking_id)
    claims = [Claim(s.booking_id, s.start, s.end) for s in intent.slots]
    await services.ledger.release(intent.tenant_id, intent.space_id, claims)

    def done(i: CreationIntent) -> bool:
        i.state, i.resolved_at = IntentState.ABANDONED, services.clock.now()
        return True

    await update_document(services.repos.intents, intent.tenant_id, intent.booking_id, done)
    if intent.room_mailbox:
        # The room copy (if any) changed: its room's sync judges it again.
        await messages.send(services.queues, MailboxSyncMessage(
            tenant_id=intent.tenant_id, mailbox=intent.room_mailbox
        ))  # fmt: skip
    return True


async def _claim_undo(services: Services, stored: Stored[CreationIntent]) -> CreationIntent | None:
    """PENDING → ABANDONING under the ETag the request will complete with."""
    now = services.clock.now()

    def change(i: CreationIntent) -> bool:
        if i.state is IntentState.PENDING and now >= i.deadline:
            i.state = IntentState.ABANDONING
            return True
        return False

    i = stored.value
    try:
        after = await update_document(
            services.repos.intents, i.tenant_id, i.booking_id, change, first=stored
        )
    except NotFoundError:
        return None
    return after if after.state is IntentState.ABANDONING else None


async def _cancel_in_outlook(services: Services, intent: CreationIntent) -> None:
    """Whatever Graph applied for this transactionId (maybe after we gave up) is
    cancelled (the room is told) or, without a room, deleted."""
    tenant = await get_tenant(services, intent.tenant_id)
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    start, end = intent.window
    margin = timedelta(minutes=1)
    event = await calendar.find_by_transaction_id(
        intent.organizer_mailbox, intent.booking_id, start - margin, end + margin
    )
    if event is None:
        return
    try:
        if intent.room_mailbox:
            await calendar.cancel_event(
                intent.organizer_mailbox, event.id, "This booking could not be completed."
            )
        else:
            await calendar.delete_event(intent.organizer_mailbox, event.id)
    except GraphError as exc:
        if exc.status not in (400, 404):  # already cancelled or gone
            raise
