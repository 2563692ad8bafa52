"""What the outbound use cases are asked to do, independent of HTTP.

The HTTP layer (functions/api_models.py) validates request bodies and turns them into
these commands; operator tools and tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bookker_sync.domain.models import SpaceRules, TenantMode, UserRules
from bookker_sync.domain.outlook_fields import OutlookFields
from bookker_sync.domain.recurrence import Recurrence


@dataclass(frozen=True)
class EventsDestination:
    """Where the tenant's events are pushed (the secret signs them; never shown)."""

    url: str
    secret: str = field(repr=False)


@dataclass(frozen=True)
class TenantConfig:
    graph_tenant_id: str | None  # None: keep the bound directory
    mode: TenantMode
    display_name: str = ""


@dataclass(frozen=True)
class EventsChange:
    """``events`` in a tenant PUT: absent → unchanged; null → no push; else the new one."""

    given: bool = False
    destination: EventsDestination | None = None


@dataclass(frozen=True)
class SpaceConfig:
    name: str
    resource_email: str | None = None
    capacity: int | None = None
    rules: SpaceRules = field(default_factory=SpaceRules)


@dataclass(frozen=True)
class UserConfig:
    email: str
    groups: list[str] = field(default_factory=list)
    rules: UserRules = field(default_factory=UserRules)


@dataclass(frozen=True)
class NewBooking:
    space_id: str
    user_id: str
    start: datetime
    end: datetime
    subject: str = ""
    recurrence: Recurrence | None = None
    fields: OutlookFields = field(default_factory=OutlookFields)


@dataclass(frozen=True)
class BookingChange:
    start: datetime | None = None
    end: datetime | None = None
    subject: str | None = None
    fields: OutlookFields = field(default_factory=OutlookFields)  # written: only what it names
