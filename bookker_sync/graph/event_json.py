"""Graph event JSON ↔ our values: building request bodies, parsing responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.outlook_fields import Body, OutlookFields, OutlookView
from bookker_sync.domain.remote import Attendee, EventType, RemoteEvent, Response
from bookker_sync.graph.graph_times import (
    graph_datetime,
    graph_local_datetime,
    parse_graph_datetime,
    parse_instant,
)
from bookker_sync.graph.graph_types import AttendeeJson, EventJson, GraphEvent, JsonObject

E = TypeVar("E", EventType, Response)
# The time helpers live in graph_times; callers may still import them from here.
__all__ = [
    "EXTENSION_ID",
    "EXTENSION_NAME",
    "extension_body",
    "fields_patch",
    "graph_datetime",
    "graph_local_datetime",
    "new_event_body",
    "outlook_view",
    "parse_event",
    "parse_graph_datetime",
    "parse_instant",
    "time_patch",
]

EXTENSION_NAME = "com.bookker.sync"
# Graph's id for an open extension is this prefix + extensionName.
EXTENSION_ID = f"Microsoft.OutlookServices.OpenTypeExtension.{EXTENSION_NAME}"


def extension_body(booking_id: str, tenant_id: str, space_id: str) -> JsonObject:
    return {
        "@odata.type": "microsoft.graph.openTypeExtension",
        "extensionName": EXTENSION_NAME,
        "bookingId": booking_id,
        "tenantId": tenant_id,
        "spaceId": space_id,
    }


def new_event_body(
    *,
    subject: str,
    start: datetime,
    end: datetime,
    location_name: str,
    room_email: str | None,
    transaction_id: str,
    extension: JsonObject,
    recurrence: JsonObject | None = None,
    fields: OutlookFields | None = None,
) -> JsonObject:
    body: JsonObject = {
        "subject": subject,
        "start": graph_datetime(start),
        "end": graph_datetime(end),
        "location": {"displayName": location_name},
        "transactionId": transaction_id,
        "body": {"contentType": "text", "content": "Booked with Bookker."},
        "extensions": [extension],
    }
    if room_email:
        body["location"] = {
            "displayName": location_name,
            "locationType": "conferenceRoom",
            "locationEmailAddress": room_email,
        }
        body["attendees"] = [
            {"emailAddress": {"address": room_email, "name": location_name}, "type": "resource"}
        ]
    if recurrence is not None:
        body["recurrence"] = recurrence
    if fields is not None:
        body.update(fields_patch(fields, room_email=room_email, location_name=location_name))
    return body


def fields_patch(
    fields: OutlookFields, *, room_email: str | None, location_name: str
) -> JsonObject:
    """The Graph properties for the Outlook fields given (and only those): a PATCH built
    from it leaves everything else Outlook holds as it is. Attendees replace the list,
    so the room (a resource attendee) is always named again with them."""
    patch: JsonObject = {}
    if fields.attendees is not None:
        people: list[JsonObject] = [
            {"emailAddress": {"address": email}, "type": "required"}
            for email in fields.attendees
            if Mailbox.parse(email) != Mailbox.parse(room_email)
        ]
        if room_email:
            people.append(
                {"emailAddress": {"address": room_email, "name": location_name}, "type": "resource"}
            )
        patch["attendees"] = people
    if fields.body is not None:
        patch["body"] = {"contentType": fields.body.content_type, "content": fields.body.content}
    if fields.is_online_meeting is not None:
        # Outlook creates the Teams meeting (onlineMeeting.joinUrl) and keeps it: setting
        # false later is ignored (learn.microsoft.com/graph/outlook-calendar-online-meetings).
        patch["isOnlineMeeting"] = fields.is_online_meeting
        if fields.is_online_meeting:
            patch["onlineMeetingProvider"] = "teamsForBusiness"
    if fields.sensitivity is not None:
        patch["sensitivity"] = fields.sensitivity.value
    if fields.show_as is not None:
        patch["showAs"] = fields.show_as.value
    if fields.categories is not None:
        patch["categories"] = list(fields.categories)
    if fields.reminder_minutes_before_start is not None:
        patch["reminderMinutesBeforeStart"] = fields.reminder_minutes_before_start
        patch["isReminderOn"] = True
    return patch


def outlook_view(event: EventJson, room_email: str | None) -> OutlookView:
    """What a booking shows of an Outlook event: its people (not the room), body,
    Teams link and settings, and the room's answer."""
    get = event.get
    body = get("body") if isinstance(get("body"), dict) else None
    online = get("onlineMeeting") if isinstance(get("onlineMeeting"), dict) else None
    room = Mailbox.parse(room_email)
    people: list[str] = []
    room_response: str | None = None
    for attendee in get("attendees") or []:
        address = Mailbox.parse((attendee.get("emailAddress") or {}).get("address"))
        if address is None:
            continue
        if address == room or attendee.get("type") == "resource":
            if address == room:
                room_response = (attendee.get("status") or {}).get("response")
            continue
        people.append(str(address))
    reminder = get("reminderMinutesBeforeStart")
    return OutlookView(
        attendees=tuple(people),
        body_preview=str(get("bodyPreview") or ""),
        body=Body(str(body.get("contentType") or "text"), str(body.get("content") or ""))
        if body
        else None,
        is_online_meeting=bool(get("isOnlineMeeting")),
        join_url=(online or {}).get("joinUrl") or get("onlineMeetingUrl") or None,
        sensitivity=str(get("sensitivity") or "normal"),
        show_as=get("showAs"),
        categories=tuple(str(c) for c in get("categories") or []),
        reminder_minutes_before_start=reminder if isinstance(reminder, int) else None,
        room_response=room_response,
    )


def own_response(event: EventJson) -> str | None:
    """The mailbox's own answer on its copy (a room copy: accepted / declined ...)."""
    status = event.get("responseStatus")
    return status.get("response") if isinstance(status, dict) else None


def time_patch(start: datetime, end: datetime, subject: str | None = None) -> JsonObject:
    patch: JsonObject = {"start": graph_datetime(start), "end": graph_datetime(end)}
    if subject is not None:
        patch["subject"] = subject
    return patch


def parse_event(event: GraphEvent | EventJson) -> RemoteEvent:
    """Our view of an event or delta item; ``raw`` keeps the whole JSON."""
    event = event if isinstance(event, GraphEvent) else GraphEvent(event)
    if event.removed:
        return RemoteEvent(id=event.id, removed=True, raw=event.raw)
    fields = event.fields
    organizer = (fields.get("organizer") or {}).get("emailAddress") or {}
    response = (fields.get("responseStatus") or {}).get("response") or "none"
    private = str(fields.get("sensitivity") or "").lower() in PRIVATE_SENSITIVITIES
    return RemoteEvent(
        id=event.id,
        i_cal_uid=event.i_cal_uid,
        change_key=event.change_key,
        subject="" if private else str(fields.get("subject") or ""),
        private=private,
        start=event.start,
        end=event.end,
        organizer_email=(organizer.get("address") or None),
        is_cancelled=bool(fields.get("isCancelled")),
        type=_enum(EventType, fields.get("type"), EventType.SINGLE),
        series_master_id=event.series_master_id,
        response=_enum(Response, response, Response.NONE),
        attendees=tuple(_attendee(a) for a in event.attendees),
        modified=event.modified,
        raw=_without_private_text(event.raw) if private else event.raw,
    )


# Graph's event.sensitivity values that hide a meeting's content from others
# (learn.microsoft.com/graph/api/resources/event: normal, personal, private, confidential).
PRIVATE_SENSITIVITIES = ("private", "confidential")
_PRIVATE_TEXT = ("subject", "body", "bodyPreview", "uniqueBody")


def _without_private_text(raw: EventJson) -> EventJson:
    """A private meeting's JSON as we may store it: no subject, no body."""
    return {k: v for k, v in raw.items() if k not in _PRIVATE_TEXT}


def _attendee(data: AttendeeJson) -> Attendee:
    email = ((data.get("emailAddress") or {}).get("address") or "").strip()
    status = (data.get("status") or {}).get("response") or "none"
    return Attendee(
        email=email,
        kind=str(data.get("type") or "required"),
        response=_enum(Response, status, Response.NONE),
    )


def _enum(kind: type[E], value: Any, default: E) -> E:
    try:
        return kind(value)
    except ValueError:
        return default
