"""Graph JSON for events, extensions, rooms and users.

Only properties of the v1.0 metadata are written, so that msgraph-sdk parses every
one into a typed field (annotations such as ``@odata.etag`` are the exception, as on
Graph). Date-times of ``start``/``end`` are shown in the ``Prefer: outlook.timezone``
zone (default UTC) and carry that zone's name
(learn.microsoft.com/graph/api/user-list-events#support-various-time-zones).
"""

from __future__ import annotations

import copy as _copy
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .directory import Mailbox
from .event_input import NO_RESPONSE_TIME
from .model import EventCopy, Extension
from .timezones import format_utc_timestamp, to_dtz

EVENT_PROPERTIES = (
    "id",
    "createdDateTime",
    "lastModifiedDateTime",
    "changeKey",
    "categories",
    "transactionId",
    "originalStartTimeZone",
    "originalEndTimeZone",
    "iCalUId",
    "reminderMinutesBeforeStart",
    "isReminderOn",
    "hasAttachments",
    "subject",
    "bodyPreview",
    "importance",
    "sensitivity",
    "isAllDay",
    "isCancelled",
    "isOrganizer",
    "responseRequested",
    "seriesMasterId",
    "showAs",
    "type",
    "webLink",
    "onlineMeetingUrl",
    "isOnlineMeeting",
    "onlineMeetingProvider",
    "allowNewTimeProposals",
    "isDraft",
    "hideAttendees",
    "originalStart",
    "responseStatus",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "recurrence",
    "attendees",
    "organizer",
    "onlineMeeting",
    "cancelledOccurrences",
    "extensions",
)
SELECTABLE = {p.lower(): p for p in EVENT_PROPERTIES}

_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")


@dataclass
class EventOptions:
    tz: str = "UTC"
    select: list[str] | None = None  # canonical names
    expand_extensions: bool = False
    extension_filter: Callable[[dict[str, Any]], bool] | None = None
    body_content_type: str | None = None  # Prefer: outlook.body-content-type


def etag(change_key: str) -> str:
    return f'W/"{change_key}"'


def extension_json(ext: Extension) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.openTypeExtension",
        "id": ext.id,
        "extensionName": ext.name,
        **ext.data,
    }


def _preview(body: dict[str, Any]) -> str:
    content = str(body.get("content") or "")
    if body.get("contentType") == "html":
        content = html.unescape(_TAG.sub(" ", content))
    return _WS.sub(" ", content).strip()[:255]


def _body(body: dict[str, Any], wanted: str | None) -> dict[str, Any]:
    ctype = body.get("contentType", "html")
    content = str(body.get("content") or "")
    if wanted == "text" and ctype == "html":
        return {
            "contentType": "text",
            "content": _preview({"contentType": "html", "content": content}),
        }
    if wanted == "html" and ctype == "text":
        return {
            "contentType": "html",
            "content": f"<html><body>{html.escape(content)}</body></html>",
        }
    return {"contentType": ctype, "content": content}


def event_json(ev: EventCopy, opts: EventOptions) -> dict[str, Any]:
    props = ev.props
    body = props.get("body") or {"contentType": "html", "content": ""}
    response_time = format_utc_timestamp(ev.response_time) if ev.response_time else NO_RESPONSE_TIME
    full: dict[str, Any] = {
        "@odata.etag": etag(ev.change_key),
        "id": ev.id,
        "createdDateTime": format_utc_timestamp(ev.created),
        "lastModifiedDateTime": format_utc_timestamp(ev.modified),
        "changeKey": ev.change_key,
        "categories": list(ev.categories),
        "transactionId": ev.transaction_id,
        "originalStartTimeZone": ev.start_tz,
        "originalEndTimeZone": ev.end_tz,
        "iCalUId": ev.ical_uid(),
        "reminderMinutesBeforeStart": props.get("reminderMinutesBeforeStart", 15),
        "isReminderOn": props.get("isReminderOn", True),
        "hasAttachments": False,
        "subject": props.get("subject", ""),
        "bodyPreview": _preview(body),
        "importance": props.get("importance", "normal"),
        "sensitivity": props.get("sensitivity", "normal"),
        "isAllDay": props.get("isAllDay", False),
        "isCancelled": ev.is_cancelled,
        "isOrganizer": ev.is_organizer,
        "responseRequested": props.get("responseRequested", True),
        "seriesMasterId": ev.series_master_id,
        "showAs": ev.show_as,
        "type": ev.kind,
        "webLink": "https://outlook.office365.com/owa/?itemid="
        + quote(ev.id, safe="")
        + "&exvsurl=1&path=/calendar/item",
        "onlineMeetingUrl": None,
        "isOnlineMeeting": props.get("isOnlineMeeting", False),
        "onlineMeetingProvider": props.get("onlineMeetingProvider", "unknown"),
        "allowNewTimeProposals": props.get("allowNewTimeProposals", True),
        "isDraft": False,
        "hideAttendees": props.get("hideAttendees", False),
    }
    if ev.original_start is not None:
        full["originalStart"] = format_utc_timestamp(ev.original_start)
    full.update(
        {
            "responseStatus": {"response": ev.response, "time": response_time},
            "body": _body(body, opts.body_content_type),
            "start": to_dtz(ev.start, opts.tz),
            "end": to_dtz(ev.end, opts.tz),
            "location": props.get("location")
            or {
                "displayName": "",
                "locationType": "default",
                "uniqueIdType": "unknown",
                "address": {},
                "coordinates": {},
            },
            "locations": list(props.get("locations") or []),
            "recurrence": ev.recurrence,
            "attendees": ev.attendees,
            "organizer": ev.organizer,
            "onlineMeeting": _copy.deepcopy(props.get("onlineMeeting")),
        }
    )
    if opts.select is not None:
        wanted = set(opts.select)
        out = {k: v for k, v in full.items() if k in wanted or k in ("@odata.etag", "id")}
        if "cancelledOccurrences" in wanted and ev.kind == "seriesMaster":
            out["cancelledOccurrences"] = [
                f"OID.{ev.id}.{d.date().isoformat()}" for d in sorted(ev.cancelled_occurrences)
            ]
    else:
        out = full
    if opts.expand_extensions:
        exts = [extension_json(x) for x in ev.extensions.values()]
        if opts.extension_filter is not None:
            exts = [x for x in exts if opts.extension_filter(x)]
        out["extensions"] = exts
    return out


def room_json(mb: Mailbox) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.room",
        "id": mb.id,
        "emailAddress": mb.address,
        "displayName": mb.display_name,
        "nickname": mb.display_name,
        "geoCoordinates": None,
        "phone": None,
        "address": None,
        "building": None,
        "floorLabel": None,
        "floorNumber": None,
        "label": None,
        "capacity": mb.capacity,
        "bookingType": "standard",
        "audioDeviceName": None,
        "videoDeviceName": None,
        "displayDeviceName": None,
        "isWheelChairAccessible": False,
        "tags": [],
    }


def user_json(mb: Mailbox) -> dict[str, Any]:
    return {
        "id": mb.id,
        "businessPhones": [],
        "displayName": mb.display_name,
        "givenName": None,
        "jobTitle": None,
        "mail": mb.address,
        "mobilePhone": None,
        "officeLocation": None,
        "preferredLanguage": None,
        "surname": None,
        "userPrincipalName": mb.address,
    }
