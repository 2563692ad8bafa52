"""The per-tenant event log against real Azurite: ordered, gap-free, each id once, under
concurrent writers and replays; a reader paging along never sees a reordering."""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.event_log import EventLog

T0 = datetime(2030, 3, 4, 10, tzinfo=UTC)


@pytest.fixture
async def log(azurite, unique_name):
    clients = build_clients(StorageSettings(connection_string=azurite.connection_string))
    yield EventLog(clients.tables, unique_name)
    await clients.close()


def body(event_id: str) -> Any:
    return lambda seq: {"id": event_id, "sequence": str(seq)}


async def test_appends_are_numbered_in_order_and_an_id_is_logged_once(log):
    assert await log.append("t", "a", T0, "b1", body("a")) == 1
    assert await log.append("t", "b", T0, "b1", body("b")) == 2
    assert await log.append("t", "a", T0, "b1", body("a")) is None  # a replay
    assert await log.append("other", "a", T0, None, body("a")) == 1  # per tenant
    events = await log.read("t", 0, 10)
    assert [(e.seq, e.event_id) for e in events] == [(1, "a"), (2, "b")]
    assert events[0].cloud_event == {"id": "a", "sequence": "1"}
    assert [e.event_id for e in await log.read("t", 1, 10)] == ["b"]
    assert await log.read("t", 2, 10) == []
    assert await log.last_seq("t") == 2


async def test_concurrent_writers_and_replays_never_duplicate_or_leave_gaps(log):
    ids = [f"e{i}" for i in range(40)]
    # Every id written by three writers at once, in different orders (replays).
    writers = [random.Random(n).sample(ids, len(ids)) for n in range(3)]
    seen: list[list[str]] = []

    async def write(order: list[str]) -> None:
        for event_id in order:
            await log.append("t", event_id, T0, None, body(event_id))

    async def read_along() -> None:
        # A reader paging while the writers write: what it has paged past never changes.
        after, got = 0, []
        for _ in range(200):
            page = await log.read("t", after, 7)
            got.extend(e.event_id for e in page)
            after = page[-1].seq if page else after
            if len(got) == len(ids):
                break
            await asyncio.sleep(0.01)
        seen.append(got)

    await asyncio.gather(*(write(order) for order in writers), read_along())
    events = await log.read("t", 0, 1000)
    assert [e.seq for e in events] == list(range(1, len(ids) + 1))  # no gap
    assert sorted(e.event_id for e in events) == sorted(ids)  # each once
    [paged] = seen
    assert paged == [e.event_id for e in events][: len(paged)]


async def test_two_processes_with_many_writers_each_group_their_appends(azurite, unique_name):
    """Two logs (two processes' worth of group-commit state) on one table, 40 writers
    each, every id written twice in each: each id gets exactly one number, the number
    it has in the log, and the log has no gap."""
    clients = build_clients(StorageSettings(connection_string=azurite.connection_string))
    try:
        logs = [EventLog(clients.tables, unique_name), EventLog(clients.tables, unique_name)]
        ids = [f"e{i}" for i in range(40)]
        calls = [(log, i) for log in logs for i in ids * 2]
        random.Random(7).shuffle(calls)
        numbers = await asyncio.gather(*(log.append("t", i, T0, None, body(i)) for log, i in calls))
        given: dict[str, list[int]] = {}
        for (_, event_id), seq in zip(calls, numbers, strict=True):
            if seq is not None:
                given.setdefault(event_id, []).append(seq)
        events = await logs[0].read("t", 0, 1000)
        assert [e.seq for e in events] == list(range(1, len(ids) + 1))
        assert {e.event_id: [e.seq] for e in events} == given
        assert all(e.cloud_event["sequence"] == str(e.seq) for e in events)
    finally:
        await clients.close()


async def test_a_writer_stopped_mid_write_leaves_no_one_waiting(log):
    """The appending task that writes for the others is cancelled: every other append
    ends (its number, or a StorageError to retry), none hangs; the log stays gap-free."""
    tasks = [asyncio.create_task(log.append("t", f"c{i}", T0, None, body(f"c{i}")))
             for i in range(12)]  # fmt: skip
    await asyncio.sleep(0.005)  # the first task is inside its first storage call
    tasks[0].cancel()
    outcomes = await asyncio.wait_for(
        asyncio.gather(*tasks[1:], return_exceptions=True), timeout=30
    )
    assert all(isinstance(o, int | StorageError) for o in outcomes), outcomes
    events = await log.read("t", 0, 100)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert await log.append("t", "after", T0, None, body("after")) == len(events) + 1


async def test_purge_drops_old_events_and_keeps_the_numbering(log):
    await log.append("t", "old", T0, None, body("old"))
    await log.append("t", "new", T0 + timedelta(days=40), None, body("new"))
    assert await log.purge_before(T0 + timedelta(days=30)) == 1
    assert [e.event_id for e in await log.read("t", 0, 10)] == ["new"]
    assert await log.append("t", "newer", T0 + timedelta(days=41), None, body("newer")) == 3
    # Its id row went with it: the same decision could be logged again (after retention).
    assert await log.append("t", "old", T0 + timedelta(days=41), None, body("old")) == 4
