"""Validation of the event JSON clients write (POST and PATCH bodies).

Unknown properties are refused the way Graph's OData reader refuses them (400
``RequestBodyRead``); read-only properties that SDKs echo back (id, changeKey, …)
are ignored. Values are normalised to the shapes Graph answers with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from . import recurrence, timezones
from .errors import GraphError, bad_request

NO_RESPONSE_TIME = "0001-01-01T00:00:00Z"

READ_ONLY = {
    "id",
    "changekey",
    "createddatetime",
    "lastmodifieddatetime",
    "icaluid",
    "uid",
    "type",
    "seriesmasterid",
    "isorganizer",
    "responsestatus",
    "weblink",
    "bodypreview",
    "hasattachments",
    "iscancelled",
    "onlinemeeting",
    "onlinemeetingurl",
    "originalstart",
    "originalstarttimezone",
    "originalendtimezone",
    "cancelledoccurrences",
    "exceptionoccurrences",
    "instances",
    "calendar",
    "attachments",
    "isdraft",
    "organizer",
    "multivalueextendedproperties",
    "singlevalueextendedproperties",
}

WRITABLE = {
    "subject",
    "body",
    "start",
    "end",
    "location",
    "locations",
    "attendees",
    "isallday",
    "importance",
    "sensitivity",
    "showas",
    "categories",
    "recurrence",
    "isreminderon",
    "reminderminutesbeforestart",
    "responserequested",
    "allownewtimeproposals",
    "hideattendees",
    "isonlinemeeting",
    "onlinemeetingprovider",
    "transactionid",
    "extensions",
}

_ENUMS = {
    "importance": ("low", "normal", "high"),
    "sensitivity": ("normal", "personal", "private", "confidential"),
    "showAs": ("free", "tentative", "busy", "oof", "workingElsewhere", "unknown"),
    "onlineMeetingProvider": (
        "unknown",
        "skypeForBusiness",
        "skypeForConsumer",
        "teamsForBusiness",
    ),
}
_BOOLS = (
    "isAllDay",
    "isReminderOn",
    "responseRequested",
    "allowNewTimeProposals",
    "hideAttendees",
    "isOnlineMeeting",
)
_CANONICAL = {
    name.lower(): name
    for name in (
        "subject",
        "body",
        "start",
        "end",
        "location",
        "locations",
        "attendees",
        "isAllDay",
        "importance",
        "sensitivity",
        "showAs",
        "categories",
        "recurrence",
        "isReminderOn",
        "reminderMinutesBeforeStart",
        "responseRequested",
        "allowNewTimeProposals",
        "hideAttendees",
        "isOnlineMeeting",
        "onlineMeetingProvider",
        "transactionId",
        "extensions",
    )
}


@dataclass
class EventInput:
    """A validated, normalised client body; only the keys the client sent."""

    props: dict[str, Any] = field(default_factory=dict)  # shared + personal scalar props
    start: tuple[datetime, str] | None = None  # (UTC instant, time zone name)
    end: tuple[datetime, str] | None = None
    attendees: list[dict[str, Any]] | None = None
    recurrence: dict[str, Any] | None = None
    recurrence_set: bool = False  # True when the body had "recurrence" (maybe null)
    categories: list[str] | None = None
    show_as: str | None = None
    transaction_id: str | None = None
    extensions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def time_changed(self) -> bool:
        return self.start is not None or self.end is not None or self.recurrence_set


def _unknown(name: str) -> GraphError:
    return GraphError(
        400,
        "RequestBodyRead",
        f"The property '{name}' does not exist on type 'microsoft.graph.event'. Make sure to "
        "only use property names that are defined by the type or mark the type as open type.",
    )


def _dtz(value: Any, what: str) -> tuple[datetime, str]:
    if not isinstance(value, dict):
        raise bad_request(f"{what} must be a dateTimeTimeZone.", "ErrorInvalidRequest")
    lower = {str(k).lower(): v for k, v in value.items()}
    dt, tz = lower.get("datetime"), lower.get("timezone") or "UTC"
    if not isinstance(dt, str) or not isinstance(tz, str):
        raise bad_request(f"{what}.dateTime is required.", "ErrorInvalidRequest")
    try:
        timezones.resolve(tz)
    except timezones.UnknownTimeZone as exc:
        raise recurrence.unsupported_tz(tz) from exc
    try:
        return timezones.to_utc(dt, tz), tz
    except ValueError as exc:
        raise bad_request(
            f"Cannot convert the literal '{dt}' to the expected type 'Edm.DateTime'.",
            "RequestBodyRead",
        ) from exc


def normalize_location(value: Any) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise bad_request("location must be an object.", "RequestBodyRead")
    display = str(value.get("displayName") or "")
    out: dict[str, Any] = {
        "displayName": display,
        "locationType": value.get("locationType") or "default",
        "uniqueId": value.get("uniqueId") or (display or None),
        "uniqueIdType": value.get("uniqueIdType") or ("private" if display else "unknown"),
        "address": value.get("address") or {},
        "coordinates": value.get("coordinates") or {},
    }
    if value.get("locationEmailAddress"):
        out["locationEmailAddress"] = value["locationEmailAddress"]
    if value.get("locationUri"):
        out["locationUri"] = value["locationUri"]
    if out["uniqueId"] is None:
        del out["uniqueId"]
    return out


def normalize_attendee(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise bad_request("attendees must be objects.", "RequestBodyRead")
    email = value.get("emailAddress")
    if not isinstance(email, dict) or not isinstance(email.get("address"), str):
        raise bad_request("An attendee needs emailAddress.address.", "ErrorInvalidRecipients")
    atype = str(value.get("type") or "required")
    for allowed in ("required", "optional", "resource"):
        if atype.lower() == allowed:
            atype = allowed
            break
    else:
        raise bad_request(f"'{atype}' is not a valid attendee type.", "RequestBodyRead")
    return {
        "type": atype,
        "status": {"response": "none", "time": NO_RESPONSE_TIME},
        "emailAddress": {
            "name": email.get("name") or email["address"],
            "address": email["address"],
        },
    }


def _enum(key: str, value: Any) -> str:
    allowed = _ENUMS[key]
    if isinstance(value, str):
        for a in allowed:
            if a.lower() == value.lower():
                return a
    raise bad_request(
        f"Cannot convert the literal '{value}' to the expected type 'microsoft.graph.{key}'.",
        "RequestBodyRead",
    )


def parse(body: Any, *, creating: bool) -> EventInput:
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "BadRequest")
    out = EventInput()
    for raw_key, value in body.items():
        key = str(raw_key)
        low = key.lower()
        if key.startswith("@") or "@odata." in key:
            continue  # annotations such as @odata.type
        if low in READ_ONLY:
            continue
        if low not in WRITABLE:
            raise _unknown(key)
        name = _CANONICAL[low]
        if name == "subject":
            out.props["subject"] = "" if value is None else str(value)
        elif name == "body":
            if value is None:
                value = {}
            if not isinstance(value, dict):
                raise bad_request("body must be an itemBody.", "RequestBodyRead")
            ctype = str(value.get("contentType") or "text").lower()
            if ctype not in ("text", "html"):
                raise bad_request(f"'{ctype}' is not a valid bodyType.", "RequestBodyRead")
            out.props["body"] = {"contentType": ctype, "content": str(value.get("content") or "")}
        elif name == "start":
            out.start = _dtz(value, "start")
        elif name == "end":
            out.end = _dtz(value, "end")
        elif name == "location":
            out.props["location"] = normalize_location(value)
        elif name == "locations":
            if not isinstance(value, list):
                raise bad_request("locations must be a list.", "RequestBodyRead")
            out.props["locations"] = [normalize_location(v) for v in value]
        elif name == "attendees":
            if value is None:
                value = []
            if not isinstance(value, list):
                raise bad_request("attendees must be a list.", "RequestBodyRead")
            out.attendees = [normalize_attendee(v) for v in value]
        elif name in _BOOLS:
            if not isinstance(value, bool):
                raise bad_request(
                    f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.",
                    "RequestBodyRead",
                )
            out.props[name] = value
        elif name in ("importance", "sensitivity", "onlineMeetingProvider"):
            out.props[name] = _enum(name, value)
        elif name == "showAs":
            out.show_as = _enum(name, value)
        elif name == "categories":
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise bad_request("categories must be a list of strings.", "RequestBodyRead")
            out.categories = list(value)
        elif name == "recurrence":
            out.recurrence_set = True
            out.recurrence = None if value is None else value  # normalised once tz is known
        elif name == "reminderMinutesBeforeStart":
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad_request(
                    "reminderMinutesBeforeStart must be an integer.", "RequestBodyRead"
                )
            out.props[name] = value
        elif name == "transactionId":
            if value is not None and not isinstance(value, str):
                raise bad_request("transactionId must be a string.", "RequestBodyRead")
            if creating:
                out.transaction_id = value
        elif name == "extensions":
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise bad_request("extensions must be a list.", "RequestBodyRead")
            if creating:
                out.extensions = list(value)
    if creating and (out.start is None or out.end is None):
        raise bad_request(
            "Your request can't be completed. The start and end of the event are required.",
            "ErrorInvalidRequest",
        )
    return out


def parse_extension(body: Any) -> tuple[str, dict[str, Any]]:
    """An openTypeExtension body → (extensionName, custom data)."""
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "BadRequest")
    name = body.get("extensionName")
    if not isinstance(name, str) or not name:
        raise bad_request("The extensionName property is required.", "ErrorInvalidRequest")
    data = {
        k: v
        for k, v in body.items()
        if k not in ("extensionName", "id") and not k.startswith("@odata.")
    }
    return name, data
