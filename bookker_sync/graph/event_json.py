"""Graph event JSON ↔ our values: building request bodies, parsing responses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from bookker_sync.domain.remote import Attendee, EventType, RemoteEvent, Response

E = TypeVar("E", EventType, Response)

EXTENSION_NAME = "com.bookker.sync"
# Graph's id for an open extension is this prefix + extensionName.
EXTENSION_ID = f"Microsoft.OutlookServices.OpenTypeExtension.{EXTENSION_NAME}"


def graph_datetime(moment: datetime) -> dict[str, str]:
    """dateTimeTimeZone in UTC (we always send and ask for UTC)."""
    utc = moment.astimezone(UTC)
    return {"dateTime": utc.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": "UTC"}


def graph_local_datetime(moment: datetime, time_zone: str) -> dict[str, str]:
    """dateTimeTimeZone as wall time in ``time_zone`` (IANA): for series that follow DST."""
    local = moment.astimezone(_zone(time_zone))
    return {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": time_zone}


def parse_graph_datetime(value: dict[str, Any] | None) -> datetime | None:
    if not value or not value.get("dateTime"):
        return None
    text = str(value["dateTime"]).rstrip("Z")
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    moment = datetime.fromisoformat(text)
    zone = str(value.get("timeZone") or "UTC")
    tz = UTC if zone.upper() in ("UTC", "COORDINATED UNIVERSAL TIME") else _zone(zone)
    return moment.replace(tzinfo=tz).astimezone(UTC)


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def extension_body(booking_id: str, tenant_id: str, space_id: str) -> dict[str, Any]:
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
    extension: dict[str, Any],
    recurrence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
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


def time_patch(start: datetime, end: datetime, subject: str | None = None) -> dict[str, Any]:
    patch: dict[str, Any] = {"start": graph_datetime(start), "end": graph_datetime(end)}
    if subject is not None:
        patch["subject"] = subject
    return patch


def parse_event(data: dict[str, Any]) -> RemoteEvent:
    if "@removed" in data:
        return RemoteEvent(id=str(data["id"]), removed=True, raw=data)
    organizer = (data.get("organizer") or {}).get("emailAddress") or {}
    response = (data.get("responseStatus") or {}).get("response") or "none"
    return RemoteEvent(
        id=str(data["id"]),
        i_cal_uid=data.get("iCalUId"),
        change_key=data.get("changeKey"),
        subject=str(data.get("subject") or ""),
        start=parse_graph_datetime(data.get("start")),
        end=parse_graph_datetime(data.get("end")),
        organizer_email=(organizer.get("address") or None),
        organizer_name=organizer.get("name"),
        is_cancelled=bool(data.get("isCancelled")),
        type=_enum(EventType, data.get("type"), EventType.SINGLE),
        series_master_id=data.get("seriesMasterId"),
        response=_enum(Response, response, Response.NONE),
        attendees=tuple(_attendee(a) for a in data.get("attendees") or []),
        transaction_id=data.get("transactionId"),
        modified=parse_instant(data.get("lastModifiedDateTime")),
        booking_id=_extension_booking_id(data),
        raw=data,
    )


def parse_instant(value: Any) -> datetime | None:
    """Graph's ISO instants (7 fractional digits, Z) → aware datetime."""
    if not value:
        return None
    try:
        text = str(value).replace("Z", "+00:00")
        head, _, tail = text.partition(".")
        if tail:  # Graph sends 7 fractional digits; Python takes 6
            digits = "".join(ch for ch in tail if ch.isdigit())
            rest = tail[len(digits) :]
            text = f"{head}.{digits[:6]}{rest}"
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _attendee(data: dict[str, Any]) -> Attendee:
    email = ((data.get("emailAddress") or {}).get("address") or "").strip()
    status = (data.get("status") or {}).get("response") or "none"
    return Attendee(
        email=email,
        kind=str(data.get("type") or "required"),
        response=_enum(Response, status, Response.NONE),
    )


def _extension_booking_id(data: dict[str, Any]) -> str | None:
    for ext in data.get("extensions") or []:
        if ext.get("extensionName") == EXTENSION_NAME or ext.get("id") == EXTENSION_ID:
            value = ext.get("bookingId")
            return str(value) if value else None
    return None


def _enum(kind: type[E], value: Any, default: E) -> E:
    try:
        return kind(value)
    except ValueError:
        return default
