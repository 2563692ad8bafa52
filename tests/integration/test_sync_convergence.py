"""Inbound sync converges after an interrupted run and keeps its window rolling.

- A run killed after a page's actions were applied but before its delta link was
  saved: the next run knows the previous one was abandoned and lists the room in full,
  so an event created and removed meanwhile (which a replayed delta never mentions)
  still cancels its booking.
- Months of normal operation: the calendarView/delta window is fixed by its first
  request, so the sync restarts it with a fresh [now - past, now + future] window
  before it drifts; a booking made far ahead after 200 days still reaches Bookker.

Real Azurite and Graph emulator, the engine in-process with its own clock.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bookker_sync.domain.models import Space, Tenant, TenantMode, User
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync.inbound import mailbox_sync
from bookker_sync.sync.inbound.mailbox_sync import sync_mailbox
from bookker_sync.sync.services import Services, close_services, services_for
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET
from tests.support.outlook import Outlook


class Crash(Exception):
    pass


class ManualClock:
    def __init__(self, now: datetime) -> None:
        self.moment = now

    def now(self) -> datetime:
        return self.moment


class _T:
    def __init__(self, graph_tenant: str) -> None:
        self.graph_tenant_id = graph_tenant


class Room:
    """One tenant set up directly in storage: alice, and a room that removes cancelled
    meetings (Set-CalendarProcessing -RemoveCanceledMeetings $true) and books a long
    way ahead."""

    def __init__(self, stack, services: Services) -> None:
        self.stack, self.services = stack, services
        self.graph_tenant = str(uuid.uuid4())
        self.tenant_id = "conv-" + uuid.uuid4().hex[:8]
        tag = uuid.uuid4().hex[:6]
        self.alice, self.room = f"alice-{tag}@contoso.test", f"room-{tag}@contoso.test"
        self.outlook = Outlook(stack, _T(self.graph_tenant))  # type: ignore[arg-type]

    async def setup(self) -> None:
        emu = self.stack.emulator
        emu.add_tenant(self.graph_tenant, APP_CLIENT_ID, APP_SECRET)
        emu.add_mailbox(self.graph_tenant, self.alice, "Alice", "user")
        emu.add_mailbox(self.graph_tenant, self.room, "Room", "room", policy={
            "removeCanceledMeetings": True, "bookingWindowInDays": 1000,
        })  # fmt: skip
        repos = self.services.repos
        await repos.tenants.upsert(TENANT_PARTITION, self.tenant_id, Tenant(
            id=self.tenant_id, graph_tenant_id=self.graph_tenant, mode=TenantMode.BIDIRECTIONAL,
        ))  # fmt: skip
        await repos.spaces.upsert(self.tenant_id, "room", Space(
            id="room", tenant_id=self.tenant_id, name="Room", resource_email=self.room,
        ))  # fmt: skip
        await repos.users.upsert(self.tenant_id, "alice", User(
            id="alice", tenant_id=self.tenant_id, email=self.alice))  # fmt: skip

    async def sync(self) -> None:
        await sync_mailbox(self.services, self.tenant_id, self.room)

    async def bookings(self) -> list[tuple[datetime, str]]:
        records = await self.services.repos.bookings.list(self.tenant_id)
        return sorted((r.booking.start, r.booking.status.value) for r in records)


def _env(stack) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": stack.azurite.connection_string,
        "GRAPH_CLIENT_ID": APP_CLIENT_ID, "GRAPH_CLIENT_SECRET": APP_SECRET,
        "GRAPH_BASE_URL": stack.emulator.graph_url, "GRAPH_AUTHORITY": stack.emulator.base_url,
        "GRAPH_CA_BUNDLE": stack.emulator.ca_path, "WEBHOOK_BASE_URL": "http://localhost:1/api",
    }  # fmt: skip


@pytest.fixture
async def clock():
    return ManualClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
async def services(stack, clock):
    svc = services_for(load_settings(_env(stack)), clock)
    yield svc
    await close_services(svc)


def _day(days: int, hour: int, clock: ManualClock) -> datetime:
    base = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return base + timedelta(days=days, hours=hour)


async def test_run_killed_before_saving_its_link_is_followed_by_a_full_listing(
    stack, services, clock, monkeypatch
):
    room = Room(stack, services)
    await room.setup()
    await room.sync()  # the first (empty) listing: a delta link is stored
    start = _day(3, 9, clock)
    event = room.outlook.book_room(room.alice, room.room, start, start + timedelta(hours=1))
    # The run applies the page (the booking is stored) and dies before saving its link.
    original = mailbox_sync.mailbox_state.renew

    async def killed(*args, **kwargs):
        raise Crash("host killed after the page's actions, before its link was saved")

    monkeypatch.setattr(mailbox_sync.mailbox_state, "renew", killed)
    with pytest.raises(Crash):
        await room.sync()
    monkeypatch.setattr(mailbox_sync.mailbox_state, "renew", original)
    assert await room.bookings() == [(start, "confirmed")]
    # The organizer cancels: the room removes its copy. From the old link, the event
    # was created and removed since: a replayed delta never mentions it.
    room.outlook.cancel(room.alice, event["id"])
    await room.sync()
    assert await room.bookings() == [(start, "cancelled")]


async def test_the_delta_window_rolls_so_far_bookings_arrive_after_months(stack, services, clock):
    room = Room(stack, services)
    await room.setup()
    await room.sync()
    for _ in range(200):  # 200 days of normal operation, a sync every day
        clock.moment += timedelta(days=1)
        await room.sync()
    far = _day(300, 10, clock)  # 300 days ahead of "now", 500 days after the first sync
    room.outlook.book_room(room.alice, room.room, far, far + timedelta(hours=1))
    await room.sync()
    assert await room.bookings() == [(far, "confirmed")]
