"""What several app instances share through storage, against real Azurite: the
subscription write budget (Graph's 500 per 20 s is per tenant, not per process), and a
follow-up poke that re-arms itself while the lease is held."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from bookker_sync.sync.inbound import lease
from bookker_sync.sync.subscriptions.renewal import Pacer

SLOT = 0.5  # scaled down from 4 s / 80 so the test takes seconds
PER_SLOT = 10


@pytest.fixture
async def instances(azurite) -> Any:
    """Three app instances: each its own storage clients, one storage account."""
    made = [build_clients(StorageSettings(connection_string=azurite.connection_string))
            for _ in range(3)]  # fmt: skip
    yield [Repositories(c.tables) for c in made]
    for c in made:
        await c.close()


async def test_three_instances_share_one_write_budget_per_tenant(instances) -> None:
    tenant = str(uuid.uuid4())
    grants: list[float] = []

    async def instance(repos: Repositories) -> None:
        pacer = Pacer(repos.write_budget, tenant, per_slot=PER_SLOT, slot_seconds=SLOT)
        for _ in range(8):
            await pacer.take(5)
            grants.extend([time.time()] * 5)

    started = time.monotonic()
    await asyncio.gather(*(instance(r) for r in instances))
    elapsed = time.monotonic() - started
    # 120 writes at 10 per 0.5 s slot span 12 slots (at least 10 whole ones): three
    # per-process budgets would be done in a third of that.
    assert elapsed >= 10 * SLOT, elapsed
    grants.sort()
    window = 5 * SLOT  # like Graph's 20 s against 4 s slots: at most 6 slots in a window
    peak = max(sum(1 for t in grants if g <= t < g + window) for g in grants)
    # (+ one slot: a grant is noted here after its storage round trip, a little late)
    assert peak <= 7 * PER_SLOT, peak


async def test_racing_instances_never_grant_past_a_slots_limit(instances) -> None:
    from bookker_sync.storage import rate_budget

    key = f"k-{uuid.uuid4().hex}"

    async def instance(repos: Repositories) -> int:
        won = 0
        for _ in range(10):
            won += await rate_budget.try_take(repos.write_budget, key, 7, 3, 20)
        return won

    granted = await asyncio.gather(*(instance(r) for r in instances))
    assert sum(granted) * 3 == 18  # six grants of 3 fit in 20, a seventh never does


async def test_a_clock_behind_never_resets_the_slot(instances) -> None:
    from bookker_sync.storage import rate_budget

    table, key = instances[0].write_budget, f"k-{uuid.uuid4().hex}"
    assert await rate_budget.try_take(table, key, 100, 10, 10)
    assert not await rate_budget.try_take(table, key, 99, 1, 10)  # late clock: no grant
    assert not await rate_budget.try_take(table, key, 100, 1, 10)
    assert await rate_budget.try_take(table, key, 101, 10, 10)


def _services(repos: Repositories) -> Any:
    return SimpleNamespace(repos=repos, settings=SimpleNamespace(sync=SimpleNamespace(
        lease_seconds=60)))  # fmt: skip


async def test_a_follow_up_that_finds_the_lease_held_re_arms_itself(instances) -> None:
    svc = _services(instances[0])
    tenant, room = "t-" + uuid.uuid4().hex[:8], f"room-{uuid.uuid4().hex[:6]}@x.test"
    now = datetime.now(UTC)
    assert (await lease.acquire(svc, tenant, room, "holder", now)).won
    first = await lease.acquire(svc, tenant, room, "poke-1", now + timedelta(seconds=5))
    assert not first.won and first.follow_up_seconds == pytest.approx(56)
    later = await lease.acquire(svc, tenant, room, "poke-2", now + timedelta(seconds=6))
    assert later == lease.Acquired(False, None)  # dirty already: costs nothing more
    # The holder died; another worker took the lease over when it ran out (and was
    # poked meanwhile). The first poke's follow-up finds that new lease, dirty: it must
    # schedule itself for the new lease's end, or nothing is waiting if that one dies.
    took_over = now + timedelta(seconds=61)
    assert (await lease.acquire(svc, tenant, room, "successor", took_over)).won
    await lease.acquire(svc, tenant, room, "poke-3", took_over + timedelta(seconds=1))
    follow = await lease.acquire(
        svc, tenant, room, "follow-up", took_over + timedelta(seconds=2), follow_up=True
    )
    assert not follow.won and follow.follow_up_seconds == pytest.approx(59)
