"""Telling Outlook that Bookker cancelled or released a booking.

What to write is decided in the domain (``outlook_cancellation``); this module does it.
Every write is idempotent (an event already gone counts as done), so a retried request
or a redelivered queue message changes nothing the second time.
"""

from __future__ import annotations

import logging

from bookker_sync.domain.models import Booking, Tenant
from bookker_sync.domain.reconcile import (
    CancelOrganizerEvent,
    DeclineRoomCopy,
    outlook_cancellation,
)
from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.sync.room_declines import RoomDecline, decline_room_copy
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


async def tell_outlook_cancelled(
    services: Services, tenant: Tenant, booking: Booking, reason: str, *, room_decides: bool
) -> None:
    action = outlook_cancellation(booking, reason, room_decides=room_decides)
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    ref = booking.outlook
    match action:
        case DeclineRoomCopy():
            await _room_declines(services, calendar, booking, action.reason)
        case CancelOrganizerEvent(notify_attendees=True):
            assert ref.organizer_mailbox and ref.organizer_event_id
            await calendar.cancel_event(ref.organizer_mailbox, ref.organizer_event_id, reason)
        case CancelOrganizerEvent():
            assert ref.organizer_mailbox and ref.organizer_event_id
            await calendar.delete_event(ref.organizer_mailbox, ref.organizer_event_id)
        case _:
            log.info("cancellation of %s: nothing to tell Outlook (%s)", booking.id, action)


async def _room_declines(
    services: Services, calendar: CalendarApi, booking: Booking, reason: str
) -> None:
    ref = booking.outlook
    assert ref.resource_mailbox is not None
    room_event_id = ref.resource_event_id
    if room_event_id is None and ref.i_cal_uid:
        found = await calendar.find_by_ical_uid(ref.resource_mailbox, ref.i_cal_uid)
        room_event_id = found.id if found else None
    if room_event_id is None:
        log.info("cancellation of %s: the room holds no copy to decline", booking.id)
        return
    await decline_room_copy(services, calendar, RoomDecline(
        tenant_id=booking.tenant_id, space_id=booking.space_id, room=ref.resource_mailbox,
        room_event_id=room_event_id, reason=reason,
        organizer=ref.organizer_mailbox, subject=booking.subject,
        start=booking.start, end=booking.end,
    ))  # fmt: skip
