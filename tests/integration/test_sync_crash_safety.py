"""Crash safety of inbound sync: the worker dies between any two actions of a delta
page, the message is retried, and the final state equals that of an undisturbed run.

Everything is real (Azurite, the Graph emulator, the engine); the crash is injected
as an exception after the k-th applied action, exactly where a killed worker stops.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from bookker_sync.domain.models import Space, SpaceRules, Tenant, TenantMode, User
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync.inbound import action_runner as apply_actions
from bookker_sync.sync.inbound.mailbox_sync import sync_mailbox
from bookker_sync.sync.services import Services, close_services, services_for
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET
from tests.support.outlook import Outlook


class Crash(Exception):
    pass


def monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7)


M = monday()


class World:
    """One tenant set up directly in storage (no API: no subscriptions get created)."""

    def __init__(self, stack, services: Services) -> None:
        self.stack, self.services = stack, services
        self.graph_tenant = str(uuid.uuid4())
        self.tenant_id = "crash-" + uuid.uuid4().hex[:8]
        tag = uuid.uuid4().hex[:6]
        self.alice, self.bob = f"alice-{tag}@contoso.test", f"bob-{tag}@contoso.test"
        self.room = f"room-{tag}@contoso.test"

    async def setup(self) -> None:
        emu = self.stack.emulator
        emu.add_tenant(self.graph_tenant, APP_CLIENT_ID, APP_SECRET)
        for address, kind in ((self.alice, "user"), (self.bob, "user"), (self.room, "room")):
            emu.add_mailbox(self.graph_tenant, address, address.split("@")[0], kind)
        repos = self.services.repos
        await repos.tenants.upsert(TENANT_PARTITION, self.tenant_id, Tenant(
            id=self.tenant_id, graph_tenant_id=self.graph_tenant, mode=TenantMode.BIDIRECTIONAL,
        ))  # fmt: skip
        rules = SpaceRules(max_minutes=90)
        await repos.spaces.upsert(self.tenant_id, "room", Space(
            id="room", tenant_id=self.tenant_id, name="Room", resource_email=self.room, rules=rules,
        ))  # fmt: skip
        await repos.users.upsert(self.tenant_id, "alice", User(
            id="alice", tenant_id=self.tenant_id, email=self.alice))  # fmt: skip
        await repos.users.upsert(self.tenant_id, "bob", User(
            id="bob", tenant_id=self.tenant_id, email=self.bob))  # fmt: skip

    def outlook_changes(self) -> None:
        """A page of work: 2 valid creations, 1 too long, 1 valid then moved too long."""
        o = Outlook(self.stack, _T(self.graph_tenant))
        o.book_room(self.alice, self.room, M + timedelta(hours=9), M + timedelta(hours=10), "A")
        o.book_room(self.bob, self.room, M + timedelta(hours=11), M + timedelta(hours=12), "B")
        o.book_room(self.alice, self.room, M + timedelta(hours=13), M + timedelta(hours=16), "C")

    async def state(self) -> tuple:
        records = await self.services.repos.bookings.list(self.tenant_id)
        bookings = sorted(
            (r.booking.start, r.booking.end, r.booking.status.value,
             r.booking.source.value, r.booking.user_id, r.booking.outlook.resource_extension)
            for r in records
        )  # fmt: skip
        o = Outlook(self.stack, _T(self.graph_tenant))
        room = sorted((e["start"]["dateTime"], e["end"]["dateTime"]) for e in o.events(self.room))
        ledger = sorted(
            (e.start, e.end) for e in await self.services.ledger.entries(self.tenant_id, "room")
        )
        return bookings, room, ledger


class _T:
    def __init__(self, graph_tenant: str) -> None:
        self.graph_tenant_id = graph_tenant


@pytest.fixture
async def services(stack):
    env = {
        "AzureWebJobsStorage": stack.azurite.connection_string,
        "GRAPH_CLIENT_ID": APP_CLIENT_ID, "GRAPH_CLIENT_SECRET": APP_SECRET,
        "GRAPH_BASE_URL": stack.emulator.graph_url, "GRAPH_AUTHORITY": stack.emulator.base_url,
        "GRAPH_CA_BUNDLE": stack.emulator.ca_path, "WEBHOOK_BASE_URL": "http://localhost:1/api",
    }  # fmt: skip
    svc = services_for(load_settings(env))
    yield svc
    await close_services(svc)


async def run_world(stack, services, crash_after: int | None, monkeypatch) -> tuple[tuple, int]:
    world = World(stack, services)
    await world.setup()
    await sync_mailbox(services, world.tenant_id, world.room)  # initial (empty) delta
    world.outlook_changes()
    applied = 0
    original = apply_actions.ActionRunner.apply

    async def crashing(self, action):
        nonlocal applied
        if crash_after is not None and applied >= crash_after:
            raise Crash(f"worker killed after {applied} actions")
        applied += 1
        return await original(self, action)

    monkeypatch.setattr(apply_actions.ActionRunner, "apply", crashing)
    if crash_after is not None:
        with pytest.raises(Crash):
            await sync_mailbox(services, world.tenant_id, world.room)
        monkeypatch.setattr(apply_actions.ActionRunner, "apply", original)
        await sync_mailbox(services, world.tenant_id, world.room)  # the retried message
    else:
        await sync_mailbox(services, world.tenant_id, world.room)
        monkeypatch.setattr(apply_actions.ActionRunner, "apply", original)
    await sync_mailbox(services, world.tenant_id, world.room)  # and again: settles echoes
    return await world.state(), applied


async def test_crash_between_any_two_actions_converges(stack, services, monkeypatch):
    reference, total = await run_world(stack, services, None, monkeypatch)
    bookings, room, ledger = reference
    assert [b[2] for b in bookings] == ["confirmed", "confirmed"]  # A, B accepted; C declined
    assert len(room) == 2 and len(ledger) == 2
    assert total >= 3  # two acceptances and a decline
    for k in range(1, total):
        state, _ = await run_world(stack, services, k, monkeypatch)
        assert state == reference, f"crash after {k} actions diverged"
