"""scale: 10,000 rooms in one tenant — one renewal cycle's Graph requests, duration and
peak write rate against Graph's limit (500 subscription writes per 20 s per tenant),
and the memory of one full sync of a busy room.

Prints one summary line. Run: `python -m bench.scale`.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
import tracemalloc
import uuid
from datetime import timedelta
from typing import Any

from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import SubscriptionRecord, SubscriptionState
from bookker_sync.storage.tables import TableWrite
from bookker_sync.sync.inbound.mailbox_sync import sync_mailbox
from bookker_sync.sync.services import Services, close_services, services_for
from bookker_sync.sync.subscriptions.renewal import renew_due
from tests.support.functions_host import APP_CLIENT_ID, Stack, running_stack, wait_for
from tests.support.outlook import Outlook

ROOMS = 10_000
BUDGET_SECONDS = 60.0  # one timer run's time budget in this bench (the app's default: 240)
BUSY_ROOM_EVENTS = 1_000
LIMIT_PER_20S = 500


def services(stack: Stack) -> Services:
    return services_for(load_settings(stack.env))


async def seed_subscriptions(stack: Stack, tenant_id: str, graph_tenant: str) -> None:
    emu = stack.emulator
    addresses = [f"room{i:05d}@scale.test" for i in range(ROOMS)]
    for start in range(0, ROOMS, 1000):
        emu.control("POST", "bulk/mailboxes", {
            "tenantId": graph_tenant, "kind": "room", "addresses": addresses[start:start + 1000],
        })  # fmt: skip
    svc = services(stack)
    now = svc.clock.now()
    expires = now + timedelta(hours=12)  # every one inside the 24 h renewal margin
    records: list[SubscriptionRecord] = []
    for start in range(0, ROOMS, 1000):
        created = emu.control("POST", "bulk/subscriptions", {
            "tenantId": graph_tenant, "clientId": APP_CLIENT_ID,
            "notificationUrl": f"{stack.env['WEBHOOK_BASE_URL']}/graph/notifications",
            "lifecycleNotificationUrl": f"{stack.env['WEBHOOK_BASE_URL']}/graph/lifecycle",
            "items": [{"mailbox": a, "clientState": uuid.uuid4().hex,
                       "expirationDateTime": expires.isoformat()}
                      for a in addresses[start:start + 1000]],
        })["value"]  # fmt: skip
        records += [
            SubscriptionRecord(
                tenant_id=tenant_id,
                mailbox=c["mailbox"],
                space_id=c["mailbox"].split("@")[0],
                graph_tenant_id=graph_tenant,
                subscription_id=c["id"],
                expires_at=expires,
                state=SubscriptionState.ACTIVE,
                created_at=now,
            )
            for c in created
        ]
    table = svc.repos.subscriptions
    for start in range(0, len(records), 100):  # one partition: 100 per transaction
        chunk = records[start : start + 100]
        await table.transact(tenant_id, [TableWrite("create", r.mailbox, r) for r in chunk])
    await close_services(svc)


def subscription_writes(stats: dict[str, Any]) -> int:
    writes = ("PATCH", "POST", "DELETE")
    return sum(int(r["count"]) for r in stats["requests"]
               if r["route"].startswith("/subscriptions") and r["method"] in writes)  # fmt: skip


async def renewal_cycle(stack: Stack) -> dict[str, Any]:
    svc = services(stack)
    samples: list[tuple[float, int]] = []
    stop = asyncio.Event()

    async def sample() -> None:  # subscription writes Graph saw, every 0.5 s
        while not stop.is_set():
            samples.append((time.monotonic(), subscription_writes(stack.emulator.stats())))
            await asyncio.sleep(0.5)

    before_requests = svc.graph.stats().requests
    sampler = asyncio.create_task(sample())
    started = time.monotonic()
    report = await renew_due(svc, budget_seconds=BUDGET_SECONDS)
    seconds = time.monotonic() - started
    stop.set()
    await sampler
    requests = svc.graph.stats().requests - before_requests
    await close_services(svc)
    peak = 0
    for t0, w0 in samples:
        window = [w for t, w in samples if t0 <= t <= t0 + 20]
        peak = max(peak, max(window) - w0)
    throttled = sum(int(r["count"]) for r in stack.emulator.stats()["requests"]
                    if r["status"] == 429)  # fmt: skip
    return {"report": report, "seconds": seconds, "requests": requests, "peak20": peak,
            "throttled": throttled}  # fmt: skip


async def busy_room_sync_memory(stack: Stack) -> tuple[float, int]:
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.address("busy")
    stack.emulator.add_mailbox(t.graph_tenant_id, room, "Busy", "room")
    outlook = Outlook(stack, t)
    base = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(BUSY_ROOM_EVENTS):  # before Bookker knows the room: no notifications
        start = base + timedelta(days=1 + i // 10, hours=8 + i % 10)
        outlook.book_room(alice, room, start, start + timedelta(minutes=30), f"m{i}")
    r = stack.api("PUT", f"tenants/{t.id}/spaces/busy", {"name": "Busy", "resourceEmail": room})
    assert r.status_code == 201, r.text
    wait_for(lambda: len(t.bookings(status="confirmed")) == BUSY_ROOM_EVENTS, timeout=600,
             interval=1.0)  # fmt: skip
    svc = services(stack)
    for _ in range(120):  # the host may still hold the room's lease from its own sync
        tracemalloc.start()
        result = await sync_mailbox(svc, t.id, room, full=True)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        if result.ran:
            break
        await asyncio.sleep(1)
    await close_services(svc)
    assert result.ran and result.items >= BUSY_ROOM_EVENTS, result
    return peak / 1e6, result.items


def main() -> int:
    # Timers and queue work are off: this process drives the one cycle it measures.
    env = {f"AzureWebJobs.{n}.Disabled": "true" for n in ("renew_subscriptions", "reconcile_all")}
    with running_stack(env) as stack:
        t = stack.new_tenant("bidirectional")
        setup_started = time.monotonic()
        asyncio.run(seed_subscriptions(stack, t.id, t.graph_tenant_id))
        setup = time.monotonic() - setup_started
        cycle = asyncio.run(renewal_cycle(stack))
        memory_mb, events = asyncio.run(busy_room_sync_memory(stack))
    rep = cycle["report"]
    cycles_needed = math.ceil(ROOMS / max(rep.renewed, 1))
    print(
        f"scale: {ROOMS} rooms due — one {BUDGET_SECONDS:.0f} s cycle renewed {rep.renewed} "
        f"({rep.deferred} deferred to the next run) with {cycle['requests']} Graph requests "
        f"({rep.batches} $batch) in {cycle['seconds']:.1f} s; peak {cycle['peak20']} "
        f"subscription writes per 20 s (limit {LIMIT_PER_20S}, {cycle['throttled']} 429s); "
        f"all {ROOMS} renewed within {cycles_needed} runs; a full sync listing {events} events "
        f"peaked at {memory_mb:.1f} MB traced memory (setup {setup:.0f} s)"
    )
    ok = cycle["peak20"] <= LIMIT_PER_20S and cycle["throttled"] == 0
    return 0 if ok and cycle["seconds"] <= BUDGET_SECONDS + 30 else 1


if __name__ == "__main__":
    sys.exit(main())
