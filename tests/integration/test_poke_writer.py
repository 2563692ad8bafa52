"""Group commit of webhook pokes against real Azurite: concurrent requests share queue
writes, every poke is persisted before its request returns, failures reach every
waiter."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from azure.storage.queue.aio import QueueClient

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.queues import MAILBOX_SYNC_QUEUE, QueueSender
from bookker_sync.sync.inbound.poke_writer import PokeWriter
from bookker_sync.sync.messages import parse_sync_pokes
from emulators.processes import start_azurite


async def drain(connection: str) -> list[bytes]:
    client = QueueClient.from_connection_string(connection, MAILBOX_SYNC_QUEUE)
    bodies = []
    async with client:
        while True:
            batch = [m async for m in client.receive_messages(max_messages=32)]
            if not batch:
                return bodies
            for m in batch:
                bodies.append(base64.b64decode(m.content))
                await client.delete_message(m)


@pytest.fixture(scope="module")
def azurite(tmp_path_factory):
    """A private Azurite: the session stack's host consumes the shared mailbox-sync queue."""
    instance = start_azurite(tmp_path_factory.mktemp("azurite-pokes"))
    yield instance
    instance.child.stop()


@pytest.fixture
async def writer(azurite):
    clients = build_clients(StorageSettings(connection_string=azurite.connection_string))
    sender = QueueSender(clients.queues)
    await sender.depth(MAILBOX_SYNC_QUEUE)  # creates the queue
    await drain(azurite.connection_string)
    yield PokeWriter(sender)
    await clients.close()


async def test_concurrent_pokes_share_writes_and_none_is_lost(writer, azurite):
    requests = [{("t", f"room{i % 7}@x"): "2030-01-01T00:00:00+00:00"} for i in range(60)]
    await asyncio.gather(*(writer.persist(p, []) for p in requests))
    bodies = await drain(azurite.connection_string)
    pokes = [p for body in bodies for p in parse_sync_pokes(body)]
    assert {p.mailbox for p in pokes} == {f"room{i}@x" for i in range(7)}
    assert len(bodies) < 60 / 3  # shared writes, not one per request
    assert len(pokes) <= 7 * len(bodies)  # deduplicated per write


async def test_a_single_poke_keeps_the_plain_message_shape(writer, azurite):
    await writer.persist({("t", "room@x"): "2030-01-01T00:00:00+00:00"}, [])
    [body] = await drain(azurite.connection_string)
    assert json.loads(body) == {"tenantId": "t", "mailbox": "room@x",
                                "notifiedAt": "2030-01-01T00:00:00+00:00"}  # fmt: skip


async def test_a_failed_write_fails_every_waiting_request():
    class Broken(QueueSender):
        def __init__(self) -> None:
            pass

        async def send(self, queue, message, *, delay_seconds=None):  # type: ignore[override]
            await asyncio.sleep(0.01)
            raise StorageError("storage unreachable")

    writer = PokeWriter(Broken())
    results = await asyncio.gather(
        *(writer.persist({("t", f"r{i}@x"): "2030-01-01T00:00:00+00:00"}, []) for i in range(5)),
        return_exceptions=True,
    )
    assert all(isinstance(r, StorageError) for r in results)
