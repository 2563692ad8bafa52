"""Request bodies of the Bookker API: what the HTTP functions accept.

These models are also the source of the OpenAPI document (functions/openapi.py). Each
turns into the use case's own command (sync/outbound/commands.py) once validated.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BeforeValidator, Field, field_validator, model_validator

from bookker_sync.domain.addresses import is_strict_address
from bookker_sync.domain.models import Model, SpaceRules, TenantMode, UserRules
from bookker_sync.domain.outlook_fields import Body, OutlookFields, Sensitivity, ShowAs
from bookker_sync.domain.recurrence import Recurrence
from bookker_sync.sync.outbound.commands import (
    BookingChange,
    EventsChange,
    EventsDestination,
    NewBooking,
    SpaceConfig,
    TenantConfig,
    UserConfig,
)

_ID = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_GUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# The OpenAPI shape; _strict_address below is the whole grammar (domain/addresses.py).
_EMAIL = r"^[^@\s/?#$%]{1,64}@[A-Za-z0-9.\-]{1,189}$"
MAX_BOOKING_WINDOW_DAYS = 36_500
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def parse_api_time(text: str) -> datetime:
    """The one parser of request times (bodies and query): an RFC 3339 string (the
    OpenAPI ``date-time``) → aware UTC datetime; ValueError says what is wrong."""
    if not _DATE_TIME.fullmatch(text):
        raise ValueError("must be an ISO 8601 date-time with offset, e.g. 2031-03-04T10:00:00Z")
    return _in_utc(datetime.fromisoformat(text.upper()))  # ValueError (e.g. Feb 30) too


def _date_time(value: object) -> object:
    """Only a string, parsed here: pydantic alone would also take unix timestamps, as
    numbers or digit strings."""
    if isinstance(value, datetime):  # built in Python, not parsed from a request
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time with offset, e.g. 2031-03-04T10:00:00Z")
    return parse_api_time(value)


def _in_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a UTC offset (ISO 8601 with offset)")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00:00-05:00
        raise ValueError("date-time out of range") from None


def _strict_address(value: str) -> str:
    if not is_strict_address(value):
        raise ValueError(
            "must be a plain mailbox address such as room-1@contoso.com (letters, digits, "
            "'.', '_', '+', '-' and \"'\" before the @, a DNS name after it)"
        )
    return value


Address = Annotated[str, AfterValidator(_strict_address)]
"""A mailbox address as the API accepts it (no '/', '?', '$', spaces, ...)."""

ApiDatetime = Annotated[datetime, BeforeValidator(_date_time), AfterValidator(_in_utc)]
"""A request time: ISO 8601 with offset, normalised to UTC (as the domain's UtcDatetime)."""


class EventsPut(Model):
    url: str = Field(
        min_length=8,
        max_length=2000,
        description="Where every event is POSTed (Standard Webhooks). https only; private, "
        "loopback and link-local addresses are refused (http://127.0.0.1 and "
        "http://localhost only under the local stack).",
        examples=["https://bookker.example.com/hooks/outlook-sync"],
    )
    secret: str = Field(
        min_length=38,
        max_length=200,
        description="Standard Webhooks signing secret: whsec_ + base64 of 24-64 random bytes. "
        "Never returned.",
        examples=["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    )


class TenantPut(Model):
    graph_tenant_id: str | None = Field(
        default=None,
        pattern=_GUID,
        description=(
            "The Microsoft Entra tenant (directory) id whose Outlook this tenant syncs, a "
            "GUID. Normally bound by admin consent (GET /api/tenants/{tenantId}/consent); "
            "set here only under API_AUTH=none or key, or by a caller with the admin role. "
            "Left out: the current binding is kept."
        ),
        examples=["8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c"],
    )
    mode: TenantMode
    display_name: str = Field(
        default="", max_length=200, description="Shown to people.", examples=["Contoso"]
    )
    events: EventsPut | None = Field(
        default=None,
        description="Push the tenant's events to this URL, signed per Standard Webhooks "
        "(absent: unchanged; null: stop pushing).",
    )

    @model_validator(mode="before")
    @classmethod
    def _graph_tenant_id_not_null(cls, data: object) -> object:
        # Left out keeps the binding; an explicit null would silently mean the same, so it
        # is refused like any other non-GUID value.
        if isinstance(data, dict) and "graphTenantId" in data and data["graphTenantId"] is None:
            raise ValueError("graphTenantId must be a GUID (leave it out to keep the binding)")
        return data

    def to_command(self) -> TenantConfig:
        return TenantConfig(self.graph_tenant_id, self.mode, self.display_name)

    def events_change(self) -> EventsChange:
        if "events" not in self.model_fields_set:
            return EventsChange()
        if self.events is None:
            return EventsChange(given=True)
        return EventsChange(True, EventsDestination(self.events.url, self.events.secret))


class SpacePut(Model):
    name: str = Field(
        min_length=1,
        max_length=200,
        description="Shown to people; also the Outlook event's location.",
        examples=["Focus Room 2.14"],
    )
    resource_email: Address | None = Field(
        default=None,
        pattern=_EMAIL,
        description="The room mailbox in Exchange (needed in bidirectional mode).",
        examples=["focus-2.14@contoso.com"],
    )
    capacity: int | None = Field(default=None, ge=0, le=100_000, description="Seats.", examples=[6])
    rules: SpaceRules = Field(
        default_factory=SpaceRules, description="Booking rules; absent ones do not limit."
    )

    @field_validator("rules")
    @classmethod
    def _known_zone_and_days(cls, rules: SpaceRules) -> SpaceRules:
        from zoneinfo import ZoneInfo

        from bookker_sync.domain.models import WEEKDAYS

        try:
            ZoneInfo(rules.time_zone)
        except (KeyError, ValueError) as exc:
            raise ValueError(f"unknown timeZone {rules.time_zone!r}") from exc
        unknown = set(rules.opening_hours or {}) - set(WEEKDAYS)
        if unknown:
            raise ValueError(f"openingHours has unknown weekday(s): {', '.join(sorted(unknown))}")
        # now + window must stay a date: an unbounded window made every booking a 500.
        if (rules.booking_window_days or 0) > MAX_BOOKING_WINDOW_DAYS:
            raise ValueError(f"bookingWindowDays can be at most {MAX_BOOKING_WINDOW_DAYS}")
        return rules

    def to_command(self) -> SpaceConfig:
        return SpaceConfig(self.name, self.resource_email, self.capacity, self.rules)


class UserPut(Model):
    email: Address = Field(
        pattern=_EMAIL,
        description="The user's Outlook mailbox: bookings become events in it.",
        examples=["alice@contoso.com"],
    )
    groups: list[str] = Field(
        default_factory=list,
        max_length=100,
        description="Groups matched against a space's allowedGroups.",
        examples=[["finance"]],
    )
    rules: UserRules = Field(
        default_factory=UserRules, description="Per-user limits; absent ones do not limit."
    )

    def to_command(self) -> UserConfig:
        return UserConfig(self.email, list(self.groups), self.rules)


class BodyIn(Model):
    content_type: Literal["text", "html"] = Field(
        default="text", description="text or html", examples=["text"]
    )
    content: str = Field(max_length=32_000, description="The event's body.", examples=["Agenda"])


class OutlookFieldsIn(Model):
    """The Outlook fields Bookker's forms offer; each is written only when given."""

    attendees: list[Annotated[str, Field(pattern=_EMAIL, max_length=320)]] | None = Field(
        default=None,
        max_length=500,
        description="People invited (email addresses). Replaces the list when given; the "
        "room stays invited.",
        examples=[["bob@contoso.com"]],
    )
    body: BodyIn | None = Field(default=None, description="The event's body.")
    is_online_meeting: bool | None = Field(
        default=None,
        description="true: Outlook creates a Teams meeting; its link is returned in "
        "onlineMeeting.joinUrl and kept by later changes.",
        examples=[True],
    )
    sensitivity: Sensitivity | None = Field(
        default=None, description="private hides the meeting's details.", examples=["normal"]
    )
    show_as: ShowAs | None = Field(default=None, description="Free/busy.", examples=["busy"])
    categories: list[Annotated[str, Field(min_length=1, max_length=255)]] | None = Field(
        default=None, max_length=50, description="Outlook categories.", examples=[["Blue"]]
    )
    reminder_minutes_before_start: int | None = Field(
        default=None, ge=0, le=40_320, description="Reminder (minutes).", examples=[15]
    )

    def outlook_fields(self) -> OutlookFields:
        return OutlookFields(
            attendees=tuple(self.attendees) if self.attendees is not None else None,
            body=Body(self.body.content_type, self.body.content) if self.body else None,
            is_online_meeting=self.is_online_meeting,
            sensitivity=self.sensitivity,
            show_as=self.show_as,
            categories=tuple(self.categories) if self.categories is not None else None,
            reminder_minutes_before_start=self.reminder_minutes_before_start,
        )


class BookingCreate(OutlookFieldsIn):
    space_id: str = Field(pattern=_ID, description="The space to book.", examples=["focus-214"])
    user_id: str = Field(pattern=_ID, description="Who books it.", examples=["alice"])
    start: ApiDatetime = Field(
        description="ISO 8601 date-time with offset; stored in UTC.",
        examples=["2031-03-04T10:00:00+01:00"],
    )
    end: ApiDatetime = Field(
        description="ISO 8601 date-time with offset, after start.",
        examples=["2031-03-04T11:00:00+01:00"],
    )
    subject: str = Field(
        default="",
        max_length=255,
        description="The Outlook event's subject.",
        examples=["Planning"],
    )
    recurrence: Recurrence | None = Field(
        default=None,
        description="Makes a series: one booking per occurrence, one Outlook series.",
    )

    def to_command(self) -> NewBooking:
        return NewBooking(
            self.space_id, self.user_id, self.start, self.end, self.subject, self.recurrence,
            self.outlook_fields(),
        )  # fmt: skip


class BookingPatch(OutlookFieldsIn):
    start: ApiDatetime | None = Field(
        default=None,
        description="New start, ISO 8601 with offset.",
        examples=["2031-03-04T10:30:00Z"],
    )
    end: ApiDatetime | None = Field(
        default=None,
        description="New end, ISO 8601 with offset.",
        examples=["2031-03-04T11:30:00Z"],
    )
    subject: str | None = Field(
        default=None, max_length=255, description="New subject.", examples=["Planning (moved)"]
    )

    def to_command(self) -> BookingChange:
        return BookingChange(self.start, self.end, self.subject, self.outlook_fields())


class ReleaseRequest(Model):
    reason: str = Field(
        min_length=1,
        max_length=500,
        description="Why: stored as the booking's statusReason and sent to Outlook with it.",
        examples=["Nobody checked in within 15 minutes"],
    )


ID_PATTERN = _ID
