"""ingress: notifications per second accepted by `graph_notifications` through the
local Functions host on this machine, p50/p99 ack latency at 50 concurrent senders,
and the ratio to a bare Azurite enqueue loop with the same concurrency (the ceiling:
every accepted batch costs one enqueue).

Prints one summary line. Run: `python -m bench.ingress`.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import sys
import time
import uuid

import aiohttp
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories, SubscriptionIndex
from tests.support.functions_host import Stack, running_stack

SENDERS = 50
SECONDS = 8.0


async def register(
    stack: Stack, tenant_id: str, graph_tenant: str, rooms: int
) -> list[tuple[str, str]]:
    clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
    subs = []
    try:
        repo = Repositories(clients.tables).subscription_ids
        for i in range(rooms):
            sub_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
            await repo.upsert(sub_id, "s", SubscriptionIndex(
                tenant_id=tenant_id, mailbox=f"room{i}@bench.test", graph_tenant_id=graph_tenant,
                client_state=secret,
            ))  # fmt: skip
            subs.append((sub_id, secret))
    finally:
        await clients.close()
    return subs


async def hammer(url: str, bodies: list[bytes]) -> tuple[int, list[float], int]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + SECONDS
    async with aiohttp.ClientSession(headers={"Content-Type": "application/json"}) as session:

        async def sender(n: int) -> None:
            nonlocal errors
            i = n
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                async with session.post(url, data=bodies[i % len(bodies)]) as r:
                    await r.read()
                    if r.status != 202:
                        errors += 1
                latencies.append(time.perf_counter() - started)
                i += SENDERS

        await asyncio.gather(*(sender(n) for n in range(SENDERS)))
    return len(latencies), latencies, errors


async def bare_enqueue(connection: str) -> int:
    client = QueueClient.from_connection_string(
        connection, "bench-ceiling", message_encode_policy=TextBase64EncodePolicy()
    )
    async with client:
        with contextlib.suppress(ResourceExistsError):
            await client.create_queue()
        count = 0
        stop_at = time.monotonic() + SECONDS

        async def sender() -> None:
            nonlocal count
            while time.monotonic() < stop_at:
                await client.send_message('{"tenantId":"t","mailbox":"m@x"}')
                count += 1

        await asyncio.gather(*(sender() for _ in range(SENDERS)))
    return count


def main() -> int:
    import json

    env = {"AzureWebJobs.sync_mailbox.Disabled": "true", "FUNCTIONS_HOST_CLOCK_URL": ""}
    with running_stack(env) as stack:
        t = stack.new_tenant("unidirectional")
        subs = asyncio.run(register(stack, t.id, t.graph_tenant_id, 20))
        bodies = [
            json.dumps(
                {
                    "value": [
                        {
                            "subscriptionId": sub_id,
                            "clientState": secret,
                            "tenantId": t.graph_tenant_id,
                            "changeType": "updated",
                            "resource": "Users/x/Events/y",
                            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "y"},
                        }
                    ]
                }
            ).encode()
            for sub_id, secret in subs
        ]
        url = f"{stack.host.base_url}/api/graph/notifications"
        asyncio.run(hammer(url, bodies[:2]))  # warm-up (connections, caches)
        count, latencies, errors = asyncio.run(hammer(url, bodies))
        ceiling = asyncio.run(bare_enqueue(stack.azurite.connection_string))
    rate, ceiling_rate = count / SECONDS, ceiling / SECONDS
    q = statistics.quantiles(latencies, n=100)
    p50, p99 = q[49] * 1000, q[98] * 1000
    print(
        f"ingress: {rate:.0f} notifications/s accepted at {SENDERS} concurrent senders, "
        f"ack p50 {p50:.1f} ms / p99 {p99:.1f} ms, {errors} errors; bare Azurite enqueue "
        f"{ceiling_rate:.0f}/s; ratio {rate / ceiling_rate:.2f} of the ceiling"
    )
    return 0 if p99 < 100 and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
