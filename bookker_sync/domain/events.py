"""What the sync tells Bookker: the events of the per-tenant log, decided here, pure.

An event says what the sync decided (a booking made in Outlook, a room decline, a
revert...). Its id is derived from the decision itself, so deciding the same thing
again (a replayed delta page, a redelivered queue message) yields the same id and the
log keeps it once. The CloudEvents envelope is built in sync/events; the push
schedule (retry back-off, give-up time) is decided here too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bookker_sync.domain.models import Violation

TYPE_PREFIX = "com.bookker.sync."
_EVENT_IDS = uuid.UUID("c4e2d8a1-9f3b-4b6e-8d7a-2e5f1c0b9a37")


class EventType(StrEnum):
    BOOKING_CREATED = "booking.created"  # a booking that came from Outlook
    BOOKING_UPDATED = "booking.updated"  # an Outlook change accepted
    BOOKING_CANCELLED = "booking.cancelled"
    BOOKING_DECLINED = "booking.declined"  # the room declined a booking
    BOOKING_REVERTED = "booking.reverted"  # an Outlook change Bookker undid
    BOOKING_RECONFIRMED = "booking.reconfirmed"
    BOOKING_REJECTED = "booking.rejected"  # an Outlook request Bookker declined
    CONSENT_REQUIRED = "tenant.consent_required"
    ROOM_SYNC_FAILING = "room.sync_failing"
    ROOM_SYNC_RECOVERED = "room.sync_recovered"

    @property
    def cloud_type(self) -> str:
        return TYPE_PREFIX + self.value


class Origin(StrEnum):
    OUTLOOK = "outlook"  # someone did it in Outlook
    BOOKKER = "bookker"  # Bookker's API asked for it
    SYSTEM = "system"  # the sync (or a Bookker system action) decided it


@dataclass(frozen=True)
class EventFacts:
    """One thing to tell Bookker. ``key`` names the decision (e.g. the room copy's
    version it was made on): the same decision made twice has the same key."""

    tenant_id: str
    type: EventType
    origin: Origin
    key: str
    booking_id: str | None = None
    booking: dict[str, Any] | None = None  # the booking JSON as the API returns it
    reason: str | None = None
    violations: Sequence[Violation] = ()
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. organizer/start/end


def event_id(facts: EventFacts) -> str:
    """Deterministic: tenant + type + subject + decision key."""
    name = "\n".join((facts.tenant_id, facts.type.value, facts.booking_id or "", facts.key))
    return str(uuid.uuid5(_EVENT_IDS, name))


def subject_of(facts: EventFacts) -> str | None:
    return f"bookings/{facts.booking_id}" if facts.booking_id else None


def event_data(facts: EventFacts) -> dict[str, Any]:
    """The CloudEvent ``data``: booking, origin, reason, violations (as in a 422) and
    the type's own fields."""
    data: dict[str, Any] = {"origin": facts.origin.value}
    if facts.booking is not None:
        data["booking"] = facts.booking
    if facts.reason:
        data["reason"] = facts.reason
    if facts.violations:
        data["violations"] = [v.to_json_dict() for v in facts.violations]
    data.update(facts.extra)
    return data


# -- push: when to try again, when to give up ---------------------------------------------
RETRY_FOR = timedelta(hours=24)
FIRST_RETRY = timedelta(seconds=30)
MAX_RETRY_GAP = timedelta(hours=2)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off after ``attempts`` failed tries (1 → 30 s, 2 → 60 s, ...),
    at most MAX_RETRY_GAP between two tries."""
    doublings = min(max(attempts - 1, 0), 16)  # past that it is capped anyway (no overflow)
    step: timedelta = FIRST_RETRY * (2**doublings)
    return min(step, MAX_RETRY_GAP)


def gives_up(first_failure: datetime, now: datetime) -> bool:
    """Delivery is retried for RETRY_FOR after its first failure, then dead-lettered."""
    return now - first_failure >= RETRY_FOR
