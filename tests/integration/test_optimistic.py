"""The one optimistic read-modify-write helper, against real Azurite: concurrent
writers all land, a no-op change writes nothing, exhausted attempts raise."""

from __future__ import annotations

import asyncio

import pytest
from pydantic import BaseModel

from bookker_sync.settings import StorageSettings
from bookker_sync.storage import ConflictError, NotFoundError
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.optimistic import retry_on_conflict, update_document
from bookker_sync.storage.tables import DocumentTable


class Counter(BaseModel):
    n: int = 0


@pytest.fixture
async def table(azurite, unique_name):
    c = build_clients(StorageSettings(connection_string=azurite.connection_string))
    yield DocumentTable(c.tables, unique_name, Counter)
    await c.close()


def _bump(c: Counter) -> bool:
    c.n += 1
    return True


async def test_concurrent_writers_all_land(table):
    # 25 racing increments, starting from a missing document: none is lost.
    await asyncio.gather(
        *(update_document(table, "p", "r", _bump, create=Counter, attempts=60) for _ in range(25))
    )
    assert (await table.get("p", "r")).value.n == 25


async def test_no_change_writes_nothing(table):
    etag = await table.insert("p", "r", Counter(n=3))
    value = await update_document(table, "p", "r", lambda c: False)
    assert value.n == 3
    assert (await table.get("p", "r")).etag == etag


async def test_missing_without_create_is_not_found(table):
    with pytest.raises(NotFoundError):
        await update_document(table, "p", "absent", _bump)


async def test_stale_first_read_is_retried_with_a_fresh_one(table):
    await table.insert("p", "r", Counter(n=1))
    stale = await table.get("p", "r")
    await update_document(table, "p", "r", _bump)  # someone else wrote meanwhile
    value = await update_document(table, "p", "r", _bump, first=stale)
    assert value.n == 3 and (await table.get("p", "r")).value.n == 3


async def test_exhausted_attempts_raise_conflict():
    calls = 0

    async def always_loses(attempt: int) -> None:
        nonlocal calls
        calls += 1
        raise ConflictError("lost")

    with pytest.raises(ConflictError, match="gave up after 4 attempts"):
        await retry_on_conflict(always_loses, what="x", attempts=4, backoff_step=0.001)
    assert calls == 4
