"""Typed shapes of the Graph JSON the product reads.

The TypedDicts name the fields we read (learn.microsoft.com/graph/api/resources/event,
/attendee, /subscription, /changenotification); Graph sends many more, and new ones
appear. So an event is kept whole as ``EventJson`` (stored as received: full
fidelity) and read through ``GraphEvent``, a typed view over that same JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeAlias, TypedDict, cast

from bookker_sync.graph.graph_times import parse_graph_datetime, parse_instant
from bookker_sync.json_types import JsonObject

__all__ = ["EventJson", "GraphEvent", "JsonObject"]  # and the TypedDicts below

EventJson: TypeAlias = JsonObject
"""A Graph event's JSON exactly as Graph sent it, unknown fields included."""


class DateTimeTimeZone(TypedDict, total=False):
    dateTime: str
    timeZone: str  # Windows, IANA or "UTC"


class EmailAddress(TypedDict, total=False):
    address: str
    name: str


class Recipient(TypedDict, total=False):
    emailAddress: EmailAddress


class ResponseStatus(TypedDict, total=False):
    response: str  # none | organizer | tentativelyAccepted | accepted | declined | ...
    time: str


class AttendeeJson(TypedDict, total=False):
    emailAddress: EmailAddress
    type: str  # required | optional | resource
    status: ResponseStatus


class ExtensionJson(TypedDict, total=False):
    id: str
    extensionName: str
    bookingId: str
    tenantId: str
    spaceId: str


class EventFields(TypedDict, total=False):
    """The fields of an event (or a delta item) that we read."""

    id: str
    iCalUId: str
    changeKey: str
    subject: str
    start: DateTimeTimeZone
    end: DateTimeTimeZone
    organizer: Recipient
    isCancelled: bool
    type: str  # singleInstance | occurrence | exception | seriesMaster
    seriesMasterId: str
    responseStatus: ResponseStatus
    attendees: list[AttendeeJson]
    transactionId: str
    lastModifiedDateTime: str
    extensions: list[ExtensionJson]
    sensitivity: str  # normal | personal | private | confidential


class RemovedJson(TypedDict, total=False):
    reason: str  # "deleted" | "changed" (moved out of the window)


# A delta item is an event, or {"id", "@removed"} for one that left the view
# (learn.microsoft.com/graph/delta-query-events). "@removed" is not an identifier,
# hence the functional syntax.
DeltaRemoval = TypedDict("DeltaRemoval", {"id": str, "@removed": RemovedJson}, total=False)


class SubscriptionJson(TypedDict, total=False):
    id: str
    resource: str
    changeType: str
    notificationUrl: str
    lifecycleNotificationUrl: str
    expirationDateTime: str
    clientState: str


class NotificationJson(TypedDict, total=False):
    """One item of a change or lifecycle notification's ``value`` array."""

    subscriptionId: str
    clientState: str
    tenantId: str
    changeType: str
    lifecycleEvent: str  # subscriptionRemoved | missed | reauthorizationRequired | ...
    resource: str
    subscriptionExpirationDateTime: str
    resourceData: JsonObject


@dataclass(frozen=True)
class GraphEvent:
    """An event (or delta item) as Graph sent it, with typed accessors. ``raw`` is the
    whole JSON, unchanged: what is stored."""

    raw: EventJson = field(default_factory=dict)

    @classmethod
    def of(cls, data: Mapping[str, Any]) -> GraphEvent:
        return cls(dict(data))

    @property
    def fields(self) -> EventFields:
        return cast(EventFields, self.raw)

    @property
    def removed(self) -> bool:
        return "@removed" in self.raw

    @property
    def id(self) -> str:
        return str(self.raw["id"])

    @property
    def i_cal_uid(self) -> str | None:
        return self.fields.get("iCalUId")

    @property
    def is_cancelled(self) -> bool:
        return bool(self.fields.get("isCancelled"))

    @property
    def change_key(self) -> str | None:
        return self.fields.get("changeKey")

    @property
    def series_master_id(self) -> str | None:
        return self.fields.get("seriesMasterId")

    @property
    def start(self) -> datetime | None:
        return parse_graph_datetime(self.fields.get("start"))

    @property
    def end(self) -> datetime | None:
        return parse_graph_datetime(self.fields.get("end"))

    @property
    def modified(self) -> datetime | None:
        return parse_instant(self.fields.get("lastModifiedDateTime"))

    @property
    def attendees(self) -> list[AttendeeJson]:
        return self.fields.get("attendees") or []

    @property
    def extensions(self) -> list[ExtensionJson]:
        return self.fields.get("extensions") or []
