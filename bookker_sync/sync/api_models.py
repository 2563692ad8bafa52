"""Request bodies of the Bookker API (DESIGN.md §5): what the functions accept.

These models are also the source of the OpenAPI document (functions/openapi.py).
"""

from __future__ import annotations

from pydantic import Field, field_validator

from bookker_sync.domain.models import Model, SpaceRules, TenantMode, UserRules, UtcDatetime
from bookker_sync.domain.recurrence import Recurrence

_ID = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$"
_EMAIL = r"^[^@\s]{1,64}@[^@\s]{1,255}$"


class TenantPut(Model):
    graph_tenant_id: str = Field(min_length=1, max_length=64)
    mode: TenantMode
    display_name: str = Field(default="", max_length=200)


class SpacePut(Model):
    name: str = Field(min_length=1, max_length=200)
    resource_email: str | None = Field(default=None, pattern=_EMAIL)
    capacity: int | None = Field(default=None, ge=0, le=100_000)
    rules: SpaceRules = Field(default_factory=SpaceRules)

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
        return rules


class UserPut(Model):
    email: str = Field(pattern=_EMAIL)
    groups: list[str] = Field(default_factory=list, max_length=100)
    rules: UserRules = Field(default_factory=UserRules)


class BookingCreate(Model):
    space_id: str = Field(pattern=_ID)
    user_id: str = Field(pattern=_ID)
    start: UtcDatetime
    end: UtcDatetime
    subject: str = Field(default="", max_length=255)
    recurrence: Recurrence | None = None


class BookingPatch(Model):
    start: UtcDatetime | None = None
    end: UtcDatetime | None = None
    subject: str | None = Field(default=None, max_length=255)


class ReleaseRequest(Model):
    reason: str = Field(min_length=1, max_length=500)


ID_PATTERN = _ID
