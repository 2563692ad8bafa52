"""The per-space ledger against real Azurite: overlaps refused, even under races."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.ledger import Claim, Ledger, SlotTakenError

T0 = datetime(2030, 3, 4, 10, tzinfo=UTC)
NOW = datetime(2030, 3, 1, tzinfo=UTC)


@pytest.fixture
async def ledger(azurite, unique_name):
    clients = build_clients(StorageSettings(connection_string=azurite.connection_string))
    yield Ledger(clients.tables, unique_name)
    await clients.close()


def claim(i: str, start_h: float, end_h: float) -> Claim:
    return Claim(i, T0 + timedelta(hours=start_h), T0 + timedelta(hours=end_h))


async def test_overlap_refused_adjacent_allowed(ledger):
    await ledger.claim("t", "s", [claim("a", 0, 1)], NOW)
    with pytest.raises(SlotTakenError) as err:
        await ledger.claim("t", "s", [claim("b", 0.5, 1.5)], NOW)
    assert err.value.conflicts == ["a"]
    await ledger.claim("t", "s", [claim("c", 1, 2)], NOW)  # touching is not overlapping
    await ledger.claim("t", "other", [claim("d", 0, 1)], NOW)  # other space


async def test_multi_day_claim_and_move(ledger):
    long = Claim("long", T0, T0 + timedelta(days=2))
    await ledger.claim("t", "s", [long], NOW, hold=False)
    with pytest.raises(SlotTakenError):
        await ledger.claim("t", "s", [claim("x", 30, 31)], NOW)  # inside day 2
    moved = Claim("long", T0 + timedelta(days=5), T0 + timedelta(days=5, hours=1))
    await ledger.claim("t", "s", [moved], NOW, release=[long], hold=False)
    await ledger.claim("t", "s", [claim("x", 30, 31)], NOW)  # freed by the move
    assert {e.id for e in await ledger.entries("t", "s")} == {"long", "x"}


async def test_expired_hold_frees_slot_and_confirm_keeps_it(ledger):
    await ledger.claim("t", "s", [claim("held", 0, 1)], NOW)
    later = NOW + timedelta(minutes=10)
    await ledger.claim("t", "s", [claim("new", 0, 1)], later)  # the hold expired
    await ledger.confirm("t", "s", [claim("new", 0, 1)])
    with pytest.raises(SlotTakenError):
        await ledger.claim("t", "s", [claim("late", 0, 1)], later + timedelta(days=1))
    await ledger.release("t", "s", [claim("new", 0, 1)])
    await ledger.claim("t", "s", [claim("late", 0, 1)], later)


async def test_claims_in_one_call_may_not_overlap_each_other(ledger):
    with pytest.raises(SlotTakenError):
        await ledger.claim("t", "s", [claim("a", 0, 2), claim("b", 1, 3)], NOW)


async def test_fifty_concurrent_claims_one_winner(ledger):
    async def attempt(i: int) -> bool:
        try:
            await ledger.claim("t", "race", [claim(f"r{i}", 0, 1)], NOW)
            return True
        except SlotTakenError:
            return False

    results = await asyncio.gather(*(attempt(i) for i in range(50)))
    assert sum(results) == 1
    assert len(await ledger.entries("t", "race")) == 1
