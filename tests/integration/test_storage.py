"""Storage layer against real Azurite: ETag concurrency, chunked documents, queue encoding."""

from __future__ import annotations

import base64
import json
import os

import pytest
from azure.storage.queue.aio import QueueClient
from pydantic import BaseModel

from bookker_sync.settings import StorageSettings
from bookker_sync.storage import ConflictError, NotFoundError
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.queues import QueueSender
from bookker_sync.storage.tables import DocumentTable, safe_key


class Doc(BaseModel):
    name: str
    payload: str = ""
    blob_b64: str = ""


@pytest.fixture
async def clients(azurite):
    c = build_clients(StorageSettings(connection_string=azurite.connection_string))
    yield c
    await c.close()


async def test_stale_etag_raises_conflict(clients, unique_name):
    table = DocumentTable(clients.tables, unique_name, Doc)
    etag = await table.insert("p", "r", Doc(name="v1"))
    fresh = await table.replace("p", "r", Doc(name="v2"), etag)
    with pytest.raises(ConflictError):
        await table.replace("p", "r", Doc(name="stale"), etag)
    assert (await table.get("p", "r")).value.name == "v2"
    with pytest.raises(ConflictError):
        await table.delete("p", "r", etag)
    await table.delete("p", "r", fresh)
    with pytest.raises(NotFoundError):
        await table.get("p", "r")


async def test_insert_twice_conflicts(clients, unique_name):
    table = DocumentTable(clients.tables, unique_name, Doc)
    await table.insert("p", "r", Doc(name="a"))
    with pytest.raises(ConflictError):
        await table.insert("p", "r", Doc(name="b"))


async def test_300_kib_document_round_trips_byte_for_byte(clients, unique_name):
    table = DocumentTable(clients.tables, unique_name, Doc)
    raw = os.urandom(300 * 1024)  # incompressible: forces several 64 KB chunks
    text = "ñ€😀" * 20_000  # non-ASCII, astral code points
    doc = Doc(name="big", payload=text, blob_b64=base64.b64encode(raw).decode())
    await table.insert("p", "big", doc)
    back = (await table.get("p", "big")).value
    assert base64.b64decode(back.blob_b64) == raw
    assert back.payload == text
    assert back == doc


async def test_keys_with_forbidden_characters(clients, unique_name):
    table = DocumentTable(clients.tables, unique_name, Doc)
    key = "room/a#1?x\\y%"
    await table.insert(key, key, Doc(name="k"))
    assert (await table.get(key, key)).value.name == "k"
    assert "/" not in safe_key(key) and "#" not in safe_key(key)


async def test_projection_query(clients, unique_name):
    table = DocumentTable(clients.tables, unique_name, Doc, projection=lambda d: {"Name": d.name})
    for n in ("a", "b", "c"):
        await table.insert("p", n, Doc(name=n))
    found = await table.list("p", "Name eq @n or Name eq @m", n="a", m="c")
    assert sorted(d.name for d in found) == ["a", "c"]


async def test_queue_messages_are_base64_and_decode(clients, azurite, unique_name):
    sender = QueueSender(clients.queues)
    await sender.send(unique_name, {"tenantId": "t1", "mailbox": "room@x"})
    # Read raw, without a decode policy: what the Functions host sees on the wire.
    raw_client = QueueClient.from_connection_string(azurite.connection_string, unique_name)
    async with raw_client:
        msg = await raw_client.receive_message()
        assert msg is not None
        assert json.loads(base64.b64decode(msg.content)) == {"tenantId": "t1", "mailbox": "room@x"}
    assert await sender.depth(unique_name) == 1
