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
from bookker_sync.graph.errors import GraphChangedError
from bookker_sync.sync.room_declines import RoomDecline, decline_room_copy
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
CONDITIONAL_ATTEMPTS = 3


async def tell_outlook_cancelled(
    services: Services, tenant: Tenant, booking: Booking, reason: str, *, room_decides: bool
) -> None:
    action = outlook_cancellation(booking, reason, room_decides=room_decides)
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    ref = booking.outlook
    match action:
        case DeclineRoomCopy():
            await _room_declines(services, calendar, booking, action.reason)
        case CancelOrganizerEvent(notify_attendees=notify):
            assert ref.organizer_mailbox and ref.organizer_event_id
            await _cancel_organizer_event(
                calendar, ref.organizer_mailbox, ref.organizer_event_id, ref.change_key,
                reason, notify=notify,
            )  # fmt: skip
        case _:
            log.info("cancellation of %s: nothing to tell Outlook (%s)", booking.id, action)


async def _cancel_organizer_event(
    calendar: CalendarApi,
    mailbox: str,
    event_id: str,
    change_key: str | None,
    reason: str,
    *,
    notify: bool,
) -> None:
    """Cancelled (attendees told) or deleted, conditional on the version last seen: if
    the person changed the event meanwhile (412), it is read again and judged again.
    Bookker cancelled the booking, so a still-live event is cancelled all the same; one
    already cancelled or gone is left as it is."""
    for _ in range(CONDITIONAL_ATTEMPTS):
        try:
            if notify:
                await calendar.cancel_event(mailbox, event_id, reason, if_match=change_key)
            else:
                await calendar.delete_event(mailbox, event_id, if_match=change_key)
            return
        except GraphChangedError:
            fresh = await calendar.get_event(mailbox, event_id)
            if fresh is None or fresh.is_cancelled:
                return
            change_key = fresh.change_key
    raise GraphChangedError(412, "KeptChanging", f"event {event_id} kept changing")


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
