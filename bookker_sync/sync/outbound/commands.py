"""What the outbound use cases are asked to do, independent of HTTP.

The HTTP layer (functions/api_models.py) validates request bodies and turns them into
these commands; operator tools and tests build them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from bookker_sync.domain.models import SpaceRules, TenantMode, UserRules
from bookker_sync.domain.recurrence import Recurrence


@dataclass(frozen=True)
class TenantConfig:
    graph_tenant_id: str | None  # None: keep the bound directory
    mode: TenantMode
    display_name: str = ""


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


@dataclass(frozen=True)
class BookingChange:
    start: datetime | None = None
    end: datetime | None = None
    subject: str | None = None
