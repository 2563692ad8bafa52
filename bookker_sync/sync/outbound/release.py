"""Queue ``outbound``: Bookker system actions applied to Outlook calendars.

Release (DESIGN.md §1): bidirectional → the room declines its copy with the reason
(the user sees why); unidirectional → the user's event is cancelled. Every step is
idempotent, so a redelivered message changes nothing the second time.
"""

from __future__ import annotations

import logging

from pydantic import BaseModel, ConfigDict, Field

from bookker_sync.domain.models import BookingStatus, TenantMode
from bookker_sync.graph.errors import GraphNotFoundError
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.booking_records import get_record
from bookker_sync.sync.errors import NotFoundAppError
from bookker_sync.sync.outbound.bookings import cancel_in_outlook
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


class OutboundMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    action: str = Field(pattern="^release$")
    tenant_id: str = Field(alias="tenantId", min_length=1)
    booking_id: str = Field(alias="bookingId", min_length=1)
    reason: str = ""


async def apply_outbound(services: Services, message: OutboundMessage) -> None:
    try:
        tenant = await get_tenant(services, message.tenant_id)
        stored = await get_record(services, message.tenant_id, message.booking_id)
    except NotFoundAppError as exc:
        log.warning("outbound %s for a missing tenant/booking: %s", message.action, exc)
        return
    booking = stored.value.booking
    if booking.status is not BookingStatus.CANCELLED:
        log.info("outbound release of %s skipped: booking is %s", booking.id, booking.status)
        return
    if tenant.mode is TenantMode.BIDIRECTIONAL and booking.outlook.resource_mailbox:
        await _room_declines(services, tenant.graph_tenant_id, stored.value, message.reason)
    else:
        await cancel_in_outlook(services, tenant, booking, message.reason or "Released")


async def _room_declines(
    services: Services, graph_tenant_id: str, record: BookingRecord, reason: str
) -> None:
    ref = record.booking.outlook
    calendar = services.graph.calendar(graph_tenant_id)
    assert ref.resource_mailbox is not None
    room_event_id = ref.resource_event_id
    if room_event_id is None and ref.i_cal_uid:
        found = await calendar.find_by_ical_uid(ref.resource_mailbox, ref.i_cal_uid)
        room_event_id = found.id if found else None
    if room_event_id is None:
        log.info("release of %s: the room holds no copy; nothing to decline", record.booking.id)
        return
    try:
        await calendar.decline_event(ref.resource_mailbox, room_event_id, reason or "Released")
    except GraphNotFoundError:
        return
