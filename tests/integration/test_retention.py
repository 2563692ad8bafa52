"""Retention against real Azurite: events past EVENT_RETENTION_DAYS and the Outlook JSON
of bookings that ended past EVENT_JSON_RETENTION_DAYS are erased; the rest stays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bookker_sync.domain.events import EventFacts, EventType, Origin
from bookker_sync.domain.models import Booking
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.events.log import record_event
from bookker_sync.sync.ops.retention import purge_expired
from bookker_sync.sync.services import close_services, services_for

NOW = datetime(2031, 6, 1, 12, tzinfo=UTC)


@dataclass
class MovableClock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
async def services(azurite):
    env = {
        "AzureWebJobsStorage": azurite.connection_string, "GRAPH_CLIENT_ID": "x",
        "GRAPH_CLIENT_SECRET": "y", "WEBHOOK_BASE_URL": "http://localhost:1/api",
    }  # fmt: skip
    svc = services_for(load_settings(env), MovableClock(NOW))
    yield svc
    await close_services(svc)


def record(tenant: str, booking_id: str, end: datetime) -> BookingRecord:
    booking = Booking(
        id=booking_id, tenant_id=tenant, space_id="s", user_id="u", start=end - timedelta(hours=1),
        end=end, created_at=end, updated_at=end,
    )  # fmt: skip
    event = {"id": "e", "attendees": [{"emailAddress": {"address": "bob@x.test"}}]}
    return BookingRecord(booking=booking, organizer_event=event, resource_event=event)


async def test_old_events_and_old_outlook_json_are_erased(services) -> None:
    tenant = "t-" + uuid.uuid4().hex[:10]
    clock = services.clock
    for days_ago, key in ((45, "old"), (5, "recent")):
        clock.at = NOW - timedelta(days=days_ago)
        await record_event(services, EventFacts(
            tenant_id=tenant, type=EventType.CONSENT_REQUIRED, origin=Origin.SYSTEM, key=key,
        ))  # fmt: skip
    clock.at = NOW
    for booking_id, ended in (("ended-long-ago", 120), ("ended-lately", 10)):
        old = record(tenant, booking_id, NOW - timedelta(days=ended))
        await services.repos.bookings.insert(tenant, booking_id, old)
    report = await purge_expired(services)
    assert report.events >= 1 and report.event_json >= 1
    left = await services.events.read(tenant, 0, 10)
    assert [e.cloud_event["time"][:10] for e in left] == [
        (NOW - timedelta(days=5)).date().isoformat()
    ]  # fmt: skip
    stripped = (await services.repos.bookings.get(tenant, "ended-long-ago")).value
    assert stripped.organizer_event is None and stripped.resource_event is None
    assert stripped.booking.id == "ended-long-ago"  # the booking itself stays
    kept = (await services.repos.bookings.get(tenant, "ended-lately")).value
    assert kept.organizer_event is not None and kept.resource_event is not None
