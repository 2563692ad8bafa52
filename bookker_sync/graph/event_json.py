"""Graph event JSON ↔ our values: building request bodies, parsing responses."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

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
    "graph_datetime",
    "graph_local_datetime",
    "new_event_body",
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
    return body


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
