"""Domain models shared by the API, the store and the sync engine.

JSON uses camelCase (the Bookker API); Python uses snake_case.
Times are timezone-aware and normalised to UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a UTC offset (ISO 8601 with offset)")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


def load_time_zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` (e.g. ``Europe/Madrid``); a clear ValueError if unknown."""
    try:
        return ZoneInfo(name)
    # ZoneInfo raises KeyError subclasses for unknown keys, ValueError for malformed ones
    # and OSError for keys naming a directory such as "Europe".
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as 'Europe/Madrid'"
        ) from None


class Model(BaseModel):
    """Base: camelCase JSON, snake_case Python, no silent extra fields."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=False
    )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class TenantMode(StrEnum):
    UNIDIRECTIONAL = "unidirectional"
    BIDIRECTIONAL = "bidirectional"


class BookingStatus(StrEnum):
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class BookingSource(StrEnum):
    BOOKKER = "bookker"
    OUTLOOK = "outlook"


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class TimeRange(Model):
    """An opening interval within one day, local time "HH:MM" (end may be "24:00")."""

    start: str = Field(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    end: str = Field(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")

    @model_validator(mode="after")
    def _starts_before_it_ends(self) -> Self:
        # Overnight opening is written as two intervals ("22:00"-"24:00", "00:00"-"06:00").
        if self.end_minute <= self.start_minute:
            raise ValueError(f"opening interval {self.start}-{self.end} must end after it starts")
        return self

    @property
    def start_minute(self) -> int:
        """Minutes after local midnight."""
        return _minutes_of(self.start)

    @property
    def end_minute(self) -> int:
        """Minutes after local midnight; "24:00" is 1440."""
        return _minutes_of(self.end)


def _minutes_of(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


class SpaceRules(Model):
    time_zone: str = "UTC"
    opening_hours: dict[str, list[TimeRange]] | None = None
    min_minutes: int | None = Field(default=None, ge=1)
    max_minutes: int | None = Field(default=None, ge=1)
    booking_window_days: int | None = Field(default=None, ge=0)
    allowed_groups: list[str] = Field(default_factory=list)

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        load_time_zone(value)
        return value

    @field_validator("opening_hours")
    @classmethod
    def _weekday_keys(
        cls, value: dict[str, list[TimeRange]] | None
    ) -> dict[str, list[TimeRange]] | None:
        # A misspelt day would otherwise silently mean "closed".
        unknown = sorted(set(value or {}) - set(WEEKDAYS))
        if unknown:
            raise ValueError(
                f"openingHours keys must be weekdays ({', '.join(WEEKDAYS)}), got {unknown}"
            )
        return value

    @model_validator(mode="after")
    def _min_not_above_max(self) -> Self:
        if (
            self.min_minutes is not None
            and self.max_minutes is not None
            and self.min_minutes > self.max_minutes
        ):
            raise ValueError("minMinutes must not exceed maxMinutes")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return load_time_zone(self.time_zone)


class UserRules(Model):
    max_bookings_per_day: int | None = Field(default=None, ge=0)
    max_minutes_per_booking: int | None = Field(default=None, ge=1)


class Tenant(Model):
    id: str
    graph_tenant_id: str
    mode: TenantMode
    display_name: str = ""


class Space(Model):
    id: str
    tenant_id: str
    name: str
    resource_email: str | None = None
    capacity: int | None = Field(default=None, ge=0)
    rules: SpaceRules = Field(default_factory=SpaceRules)


class User(Model):
    id: str
    tenant_id: str
    email: str
    groups: list[str] = Field(default_factory=list)
    rules: UserRules = Field(default_factory=UserRules)


class OutlookRef(Model):
    """Where a booking lives in Outlook and the version we last wrote or saw.

    ``change_key`` is the organizer copy's; ``resource_change_key`` the room copy's.
    """

    i_cal_uid: str | None = Field(default=None, alias="iCalUId")
    organizer_mailbox: str | None = None
    organizer_event_id: str | None = None
    resource_mailbox: str | None = None
    resource_event_id: str | None = None
    change_key: str | None = None
    resource_change_key: str | None = None
    series_master_id: str | None = None
    resource_series_master_id: str | None = None
    resource_extension: bool = False  # written by older versions only; nothing reads it


class Booking(Model):
    id: str
    tenant_id: str
    space_id: str
    user_id: str
    start: UtcDatetime
    end: UtcDatetime
    subject: str = ""
    status: BookingStatus = BookingStatus.CONFIRMED
    status_reason: str | None = None
    source: BookingSource = BookingSource.BOOKKER
    series_id: str | None = None
    outlook: OutlookRef = Field(default_factory=OutlookRef)
    created_at: UtcDatetime
    updated_at: UtcDatetime

    def overlaps(self, start: datetime, end: datetime) -> bool:
        return self.start < end and start < self.end

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60


class Violation(Model):
    """One broken rule: ``rule`` is the rule key of the API (e.g. ``maxMinutes``)."""

    rule: str
    message: str
