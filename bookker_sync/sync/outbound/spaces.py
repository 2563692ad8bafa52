"""Removing a space: its future bookings first (``?force=true``), then the space and,
through the lifecycle queue, its room's subscription."""

from __future__ import annotations

import logging

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.events import Origin
from bookker_sync.domain.models import Booking, BookingStatus, TenantMode
from bookker_sync.graph.errors import GraphError
from bookker_sync.sync import messages
from bookker_sync.sync.booking_records import get_record
from bookker_sync.sync.errors import ConflictAppError, GraphFailureError
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.outbound.bookings import mark_cancelled
from bookker_sync.sync.outbound.cancellation import tell_outlook_cancelled
from bookker_sync.sync.outbound.tenants import get_space, get_tenant
from bookker_sync.sync.ownership import release_room
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
SPACE_REMOVED = "The space was removed from Bookker"


async def future_bookings(services: Services, tenant_id: str, space_id: str) -> list[Booking]:
    records = await services.repos.bookings.list(
        tenant_id, "SpaceId eq @s and Status eq @c and End gt @t",
        s=space_id, c=BookingStatus.CONFIRMED.value, t=services.clock.now(),
    )  # fmt: skip
    return sorted((r.booking for r in records), key=lambda b: (b.start, b.id))


async def delete_space(services: Services, tenant_id: str, space_id: str, *, force: bool) -> int:
    """Remove the space; returns how many future bookings were cancelled. Without
    ``force`` a space with future confirmed bookings is kept (ConflictAppError)."""
    tenant = await get_tenant(services, tenant_id)
    space = await get_space(services, tenant_id, space_id)
    upcoming = await future_bookings(services, tenant_id, space_id)
    if upcoming and not force:
        raise ConflictAppError(
            f"space {space_id} has {len(upcoming)} future confirmed booking(s); "
            "delete with ?force=true to cancel them",
            bookings=[b.id for b in upcoming[:50]],
        )
    for booking in upcoming:
        # Outlook first (the room declines its copy, or the user's event is cancelled),
        # then Bookker: a Graph failure leaves the booking, and the space, in place.
        try:
            await tell_outlook_cancelled(
                services, tenant, booking, SPACE_REMOVED,
                room_decides=tenant.mode is TenantMode.BIDIRECTIONAL,
            )  # fmt: skip
        except GraphError as exc:
            raise GraphFailureError(
                f"Outlook did not accept the cancellation of {booking.id}: {exc.message}",
                transient=exc.transient,
            ) from exc
        stored = await get_record(services, tenant_id, booking.id)
        await mark_cancelled(services, stored, reason=SPACE_REMOVED, origin=Origin.SYSTEM)
    await services.repos.spaces.delete(tenant_id, space_id)
    room = Mailbox.parse(space.resource_email)
    if room is not None:  # the room is free for another space (or tenant) again
        await release_room(services, tenant_id, tenant.graph_tenant_id, room, space_id)
    await messages.send(
        services.queues, LifecycleMessage(kind="ensure", tenant_id=tenant_id, space_id=space_id)
    )
    log.info("space %s of %s removed (%d bookings cancelled)", space_id, tenant_id, len(upcoming))
    return len(upcoming)
