"""ingress: the Graph webhook (`graph_notifications` in the local Functions host) against
an honest ceiling, at 50 concurrent senders, with normal and with slowed storage.

The ceiling is the bare cost of what the webhook must do per request, measured in the
same run with the same senders and bodies: a minimal HTTP server (its own process)
that parses the body, validates each item (known subscription, clientState, tenant:
in-memory, no lookup) and makes one durable write (a queue message in Azurite) before
answering 202. The webhook does more (a cached table lookup, telemetry, logging) but
shares durable writes between concurrent requests (group commit).

Then the same two with storage slowed: every request to Azurite goes through a TCP
proxy that holds it for SLOW_MS; Graph wants an answer within 3 s whatever storage does.

Prints one summary line. Run: `python -m bench.ingress`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories, SubscriptionIndex
from emulators.processes import (
    Child,
    azurite_connection_string,
    free_port,
    port_open,
    python,
    spawn,
    start_functions_host,
    wait_until,
)
from tests.support.functions_host import Stack, running_stack

SENDERS = 50
SECONDS = 6.0
SLOW_MS = 400.0
GRAPH_ANSWER_SECONDS = 3.0
CEILING_QUEUE = "bench-ceiling"


# -- the ceiling server (own process) -------------------------------------------------
def ceiling_app(connection: str, subs: dict[str, tuple[str, str]]) -> web.Application:
    """``subs``: subscriptionId → (clientState, tenantId)."""
    client = QueueClient.from_connection_string(
        connection, CEILING_QUEUE, message_encode_policy=TextBase64EncodePolicy()
    )

    async def notify(request: web.Request) -> web.Response:
        try:
            items = (await request.json())["value"]
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "bad body"}, status=400)
        pokes = []
        for item in items:
            known = subs.get(str(item.get("subscriptionId")))
            state = str(item.get("clientState") or "").encode()
            if (
                known
                and hmac.compare_digest(state, known[0].encode())
                and (str(item.get("tenantId")) == known[1])
            ):
                pokes.append(item["subscriptionId"])
        if pokes:
            await client.send_message(json.dumps({"pokes": pokes}))
        return web.Response(status=202)

    async def close(_: web.Application) -> None:
        await client.close()

    app = web.Application()
    app.router.add_post("/notify", notify)
    app.on_cleanup.append(close)
    return app


def serve_ceiling(port: int, connection: str, subs_file: str) -> None:
    subs = {k: (v[0], v[1]) for k, v in json.loads(Path(subs_file).read_text()).items()}
    web.run_app(ceiling_app(connection, subs), host="127.0.0.1", port=port, print=None)


def start_ceiling(
    workdir: Path, connection: str, subs: dict[str, tuple[str, str]]
) -> tuple[Child, str]:
    port = free_port()
    subs_file = workdir / f"ceiling-subs-{port}.json"
    subs_file.write_text(json.dumps(subs))
    argv = [python(), "-m", "bench.ingress", "--serve-ceiling", str(port), connection,
            str(subs_file)]  # fmt: skip
    child = spawn("ingress-ceiling", argv, workdir / f"ceiling-{port}.log")
    wait_until(lambda: port_open(port), child, what="listening")
    return child, f"http://127.0.0.1:{port}/notify"


# -- load ---------------------------------------------------------------------------------
async def hammer(url: str, bodies: list[bytes], seconds: float = SECONDS) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    stop_at = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=SENDERS)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, headers={"Content-Type": "application/json"}
    ) as session:

        async def sender(n: int) -> None:
            nonlocal errors
            i = n
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=bodies[i % len(bodies)]) as r:
                        await r.read()
                        if r.status != 202:
                            errors += 1
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                latencies.append(time.perf_counter() - started)
                i += SENDERS

        began = time.monotonic()
        await asyncio.gather(*(sender(n) for n in range(SENDERS)))
        elapsed = time.monotonic() - began
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"rate": len(latencies) / elapsed, "p50": q[49] * 1000, "p99": q[98] * 1000,
            "max": max(latencies) * 1000, "errors": errors, "count": len(latencies)}  # fmt: skip


async def register(
    connection: str, tenant_id: str, graph_tenant: str, rooms: int
) -> dict[str, tuple[str, str]]:
    clients = build_clients(StorageSettings(connection_string=connection))
    subs = {}
    try:
        repo = Repositories(clients.tables).subscription_ids
        for i in range(rooms):
            sub_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
            await repo.upsert(sub_id, "s", SubscriptionIndex(
                tenant_id=tenant_id, mailbox=f"room{i}@bench.test", graph_tenant_id=graph_tenant,
                client_state_hash=_digest(secret),
            ))  # fmt: skip
            subs[sub_id] = (secret, graph_tenant)
        queue = QueueClient.from_connection_string(connection, CEILING_QUEUE)
        async with queue:
            with contextlib.suppress(ResourceExistsError):
                await queue.create_queue()
    finally:
        await clients.close()
    return subs


def bodies_for(subs: dict[str, tuple[str, str]]) -> list[bytes]:
    out = []
    for sub_id, (secret, tenant) in subs.items():
        item = {
            "subscriptionId": sub_id, "clientState": secret, "tenantId": tenant,
            "changeType": "updated", "resource": "Users/x/Events/y",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "y"},
        }  # fmt: skip
        out.append(json.dumps({"value": [item]}).encode())
    return out


def measure(url: str, bodies: list[bytes]) -> dict[str, Any]:
    asyncio.run(hammer(url, bodies, 1.5))  # warm: connections, caches
    return asyncio.run(hammer(url, bodies))


def slowed_storage(stack: Stack) -> tuple[Child, str]:
    az = stack.azurite
    ports = [free_port() for _ in range(3)]
    argv = [python(), "-m", "bench.slow_proxy", "--delay-ms", str(SLOW_MS)]
    for listen, target in zip(ports, (az.blob_port, az.queue_port, az.table_port), strict=True):
        argv += ["--listen", str(listen), "--target", str(target)]
    assert stack.workdir is not None
    child = spawn("slow-proxy", argv, stack.workdir / "slow-proxy.log")
    wait_until(lambda: all(port_open(p) for p in ports), child, what="listening")
    return child, azurite_connection_string(*ports)


def describe(name: str, r: dict[str, Any]) -> str:
    return (f"{name} {r['rate']:.0f}/s, ack p50 {r['p50']:.0f} ms / p99 {r['p99']:.0f} ms / "
            f"max {r['max']:.0f} ms, {r['errors']} errors")  # fmt: skip


def main() -> int:
    env = {"AzureWebJobs.sync_mailbox.Disabled": "true", "FUNCTIONS_HOST_CLOCK_URL": ""}
    children: list[Child] = []
    with running_stack(env) as stack:
        assert stack.workdir is not None
        try:
            t = stack.new_tenant("unidirectional")
            subs = asyncio.run(register(stack.azurite.connection_string, t.id,
                                        t.graph_tenant_id, 20))  # fmt: skip
            bodies = bodies_for(subs)
            webhook = f"{stack.host.base_url}/api/graph/notifications"
            ceiling, ceiling_url = start_ceiling(stack.workdir, stack.azurite.connection_string,
                                                 subs)  # fmt: skip
            children.append(ceiling)
            fast_hook, fast_ceiling = measure(webhook, bodies), measure(ceiling_url, bodies)
            proxy, slow_conn = slowed_storage(stack)
            children.append(proxy)
            port = free_port()
            slow_host = start_functions_host(stack.workdir / "host-slow.log",
                                             {**stack.env, "AzureWebJobsStorage": slow_conn,
                                              "WEBHOOK_BASE_URL": f"http://localhost:{port}/api"},
                                             port=port)  # fmt: skip
            children.append(slow_host.child)
            slow_ceiling_child, slow_ceiling_url = start_ceiling(stack.workdir, slow_conn, subs)
            children.append(slow_ceiling_child)
            slow_hook = measure(f"{slow_host.base_url}/api/graph/notifications", bodies)
            slow_ceiling = measure(slow_ceiling_url, bodies)
        finally:
            for child in reversed(children):
                child.stop()
    print(
        f"ingress: {SENDERS} concurrent senders, {SECONDS:.0f} s each, one run: "
        f"{describe('webhook', fast_hook)} vs "
        f"{describe('bare ceiling (validate + 1 queue write)', fast_ceiling)}: "
        f"ratio {fast_hook['rate'] / fast_ceiling['rate']:.2f}; storage slowed by {SLOW_MS:.0f} ms "
        f"per request: {describe('webhook', slow_hook)} vs {describe('ceiling', slow_ceiling)}: "
        f"ratio {slow_hook['rate'] / slow_ceiling['rate']:.2f} (Graph's limit: answer within "
        f"{GRAPH_ANSWER_SECONDS:.0f} s)"
    )  # fmt: skip
    # Graph's requirement for every answer, with or without slow storage.
    limit = GRAPH_ANSWER_SECONDS * 1000
    ok = all(r["errors"] == 0 and r["max"] < limit for r in (fast_hook, slow_hook))
    return 0 if ok else 1


def _digest(client_state: str) -> str:
    """What the app stores for a clientState: its keyed digest (the local stack's key)."""
    from bookker_sync.domain.signing import CLIENT_STATE, keyed_digest
    from bookker_sync.settings import SecuritySettings

    return keyed_digest(SecuritySettings().key, CLIENT_STATE, client_state)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve-ceiling", nargs=3, metavar=("PORT", "CONNECTION", "SUBS"))
    args = parser.parse_args()
    if args.serve_ceiling:
        port, connection, subs_file = args.serve_ceiling
        serve_ceiling(int(port), connection, subs_file)
    else:
        sys.exit(main())
