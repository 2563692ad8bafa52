"""A booking as Bookker sees it (the API's answers and the events' ``data.booking``):
the booking, what its Outlook event carries, and how far it is in sync.

Bookings made in Outlook show the organizer's attendees, body preview and Teams link
from the stored copy; a private meeting shows none of that (only that it exists).
"""

from __future__ import annotations

from bookker_sync.domain.models import BookingSource, BookingStatus
from bookker_sync.domain.outlook_fields import OutlookView
from bookker_sync.domain.reconcile import PRIVATE_SUBJECT
from bookker_sync.graph.event_json import outlook_view, own_response
from bookker_sync.json_types import JsonObject
from bookker_sync.storage.repositories import BookingRecord

PENDING_ANSWERS = (None, "none", "notResponded", "tentativelyAccepted")


def booking_json(record: BookingRecord, *, expand_outlook: bool = False) -> JsonObject:
    booking = record.booking
    out = booking.to_json_dict()
    event = record.organizer_event or record.resource_event
    view = outlook_view(event, booking.outlook.resource_mailbox) if event else None
    if view is not None:
        out.update(_outlook_fields(view, booking.source))
    out["sync"] = _sync_state(record, view)
    if expand_outlook:
        out["outlookEvent"] = record.organizer_event
        out["roomEvent"] = record.resource_event
    return out


def _outlook_fields(view: OutlookView, source: BookingSource) -> JsonObject:
    shown: JsonObject = {"sensitivity": view.sensitivity}
    if view.private:
        # a private meeting's subject, people, text and link are not Bookker's to show
        shown["subject"] = PRIVATE_SUBJECT
        return shown
    shown.update({
        "attendees": list(view.attendees),
        "bodyPreview": view.body_preview,
        "isOnlineMeeting": view.is_online_meeting,
        "categories": list(view.categories),
    })  # fmt: skip
    if view.join_url:
        shown["onlineMeeting"] = {"joinUrl": view.join_url}
    if view.show_as:
        shown["showAs"] = view.show_as
    if view.reminder_minutes_before_start is not None:
        shown["reminderMinutesBeforeStart"] = view.reminder_minutes_before_start
    if source is BookingSource.BOOKKER and view.body is not None:
        shown["body"] = {"contentType": view.body.content_type, "content": view.body.content}
    return shown


def _sync_state(record: BookingRecord, view: OutlookView | None) -> JsonObject:
    """``synced``: Outlook holds what Bookker holds; ``pending``: Outlook (the room) has
    not caught up yet; ``failed``: Outlook refused the last write."""
    booking = record.booking
    ref = booking.outlook
    room_response = own_response(record.resource_event) if record.resource_event else None
    if room_response is None and view is not None:
        room_response = view.room_response
    state = "synced"
    if record.sync_error:
        state = "failed"
    elif booking.status is BookingStatus.CONFIRMED:
        no_event = booking.source is BookingSource.BOOKKER and not ref.organizer_event_id
        if no_event or (ref.resource_mailbox and room_response in PENDING_ANSWERS):
            state = "pending"
    synced_at = record.synced_at.isoformat() if record.synced_at else None
    return {"state": state, "roomResponse": room_response, "lastSyncedAt": synced_at}
