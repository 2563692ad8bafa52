"""scale: 10,000 room subscriptions kept alive for 30 virtual days by the real
``renew_subscriptions`` timer, and the memory of listing a busy room.

1. 10,000 rooms (10 Graph tenants of 1,000: one tenant's 10,000 rooms need about
   52,000 renewals a month, which Graph's own 500 writes / 20 s turn into at least
   35 minutes of real time, past this bench's budget) are onboarded at once: their
   subscriptions are created with the lifetimes the app asks for. Then the virtual
   clock moves 30 days in 6-hour steps; after each step the Functions host's timer
   fires on the virtual clock (once, past due, as the real host does after a jump) and
   the bench waits for the run to end (the timer's schedule status in storage). The
   figures are what the Graph emulator observed: subscriptions expired, subscription
   writes per tenant, the most in any 20 real seconds, 429s.
2. A full delta listing of a room with 1,000 and with 10,000 events through the app's
   calendar API: peak traced memory (tracemalloc) and time. Pages are consumed one at
   a time, so memory must follow the page size, not the calendar's.

Prints one summary line. Run: `python -m bench.scale`. BENCH_SCALE_ROOMS and
BENCH_SCALE_DAYS make it smaller (the smoke test).
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import sys
import time
import tracemalloc
import uuid
from datetime import datetime, timedelta
from typing import Any

from bench.common import timer_updated
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import SubscriptionRecord, SubscriptionState
from bookker_sync.storage.tables import TableWrite
from bookker_sync.sync.services import close_services, services_for
from tests.support.functions_host import APP_CLIENT_ID, Stack, Tenant, running_stack

ROOMS = int(os.environ.get("BENCH_SCALE_ROOMS", "10000"))
TENANTS = max(1, min(10, ROOMS // 100))
DAYS = float(os.environ.get("BENCH_SCALE_DAYS", "30"))
STEP_HOURS = 6
LIFETIME = timedelta(minutes=10_080 - 60)  # what the app asks for
SPREAD = timedelta(hours=12)  # the app's random shortening of each lifetime
LIMIT_PER_20S = 500
LISTINGS = (1_000, 10_000)
RUN_LINE = re.compile(
    r"renewal: due=(\d+) renewed=(\d+) recreated=(\d+) needs-consent=(\d+) failed=(\d+) "
    r"deferred=(\d+) batches=(\d+) in ([\d.]+)s"
)


async def seed(stack: Stack, tenants: list[Tenant]) -> None:
    """Every room onboarded now: its subscription as the app would have created it."""
    emu = stack.emulator
    now = emu.clock_now()
    svc = services_for(load_settings(stack.env))
    per_tenant = ROOMS // len(tenants)
    for t in tenants:
        addresses = [f"room{i:05d}-{t.tag}@scale.test" for i in range(per_tenant)]
        emu.control("POST", "bulk/mailboxes", {
            "tenantId": t.graph_tenant_id, "kind": "room", "addresses": addresses,
        })  # fmt: skip
        expiries = {a: now + LIFETIME - SPREAD * random.random() for a in addresses}
        created = emu.control("POST", "bulk/subscriptions", {
            "tenantId": t.graph_tenant_id, "clientId": APP_CLIENT_ID,
            "notificationUrl": f"{stack.env['WEBHOOK_BASE_URL']}/graph/notifications",
            "lifecycleNotificationUrl": f"{stack.env['WEBHOOK_BASE_URL']}/graph/lifecycle",
            "items": [{"mailbox": a, "clientState": uuid.uuid4().hex,
                       "expirationDateTime": expiries[a].isoformat()} for a in addresses],
        })["value"]  # fmt: skip
        records = [
            SubscriptionRecord(
                tenant_id=t.id,
                mailbox=c["mailbox"],
                space_id=c["mailbox"].split("@")[0],
                graph_tenant_id=t.graph_tenant_id,
                subscription_id=c["id"],
                expires_at=expiries[c["mailbox"]],
                state=SubscriptionState.ACTIVE,
                created_at=now,
            )
            for c in created
        ]
        for start in range(0, len(records), 100):  # one partition: 100 per transaction
            chunk = records[start : start + 100]
            await svc.repos.subscriptions.transact(
                t.id, [TableWrite("create", r.mailbox, r) for r in chunk]
            )
    await close_services(svc)


def run_days(stack: Stack, host_id: str) -> dict[str, Any]:
    started, steps = time.monotonic(), 0
    end = stack.emulator.clock_now() + timedelta(days=DAYS)
    while stack.emulator.clock_now() < end:
        target = stack.emulator.clock_advance(STEP_HOURS * 3600)
        deadline = time.monotonic() + 900
        while True:  # the timer fires on the new virtual time; wait until its run ended
            updated = timer_updated(stack, host_id, "renew_subscriptions")
            if updated is not None and updated >= target:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"renew_subscriptions did not run after step {steps + 1}")
            time.sleep(0.5)
        steps += 1
    return {"steps": steps, "seconds": time.monotonic() - started}


def runs_from_log(stack: Stack) -> list[tuple[int, ...]]:
    assert stack.workdir is not None
    text = (stack.workdir / "host.log").read_text(errors="replace")
    return [tuple(int(float(g)) for g in m.groups()) for m in RUN_LINE.finditer(text)]


async def listing(stack: Stack, t: Tenant) -> list[dict[str, Any]]:
    """Full delta listings of rooms with 1,000 and 10,000 events: memory and time."""
    emu = stack.emulator
    now = emu.clock_now()
    base = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    rooms = {}
    for size in LISTINGS:
        room = t.address(f"busy{size}")
        emu.add_mailbox(t.graph_tenant_id, room, f"Busy {size}", "room")
        for start in range(0, size, 1000):
            chunk = range(start, min(start + 1000, size))
            items = [_event(base + timedelta(minutes=15 * i), i) for i in chunk]
            emu.control("POST", "bulk/events", {"mailbox": room, "items": items})
        rooms[size] = room
    svc = services_for(load_settings(stack.env))
    calendar = svc.graph.calendar(t.graph_tenant_id)
    window = (now - timedelta(days=1), now + timedelta(days=365))
    await _list(calendar, rooms[LISTINGS[0]], window)  # warm: token, SDK caches
    out = []
    for size, room in rooms.items():
        tracemalloc.start()
        began = time.perf_counter()
        items, pages = await _list(calendar, room, window)
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        out.append({"events": size, "items": items, "pages": pages, "peak_mb": peak / 1e6,
                    "seconds": seconds})  # fmt: skip
    await close_services(svc)
    return out


def _event(start: datetime, i: int) -> dict[str, Any]:
    end = start + timedelta(minutes=15)
    return {"subject": f"m{i}",
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}}  # fmt: skip


async def _list(calendar: Any, room: str, window: tuple[datetime, datetime]) -> tuple[int, int]:
    items = pages = 0
    async for page in calendar.delta_all(room, link=None, start=window[0], end=window[1]):
        items += len(page.items)
        pages += 1
    return items, pages


def main() -> int:
    host_id = "scale-" + uuid.uuid4().hex[:8]
    env = {
        "AzureWebJobs.renew_subscriptions.Disabled": "false",
        "AzureFunctionsWebHost__hostid": host_id,
        "RENEW_SCHEDULE": "0 */10 * * * *",  # the app's default: every 10 minutes
    }
    with running_stack(env) as stack:
        tenants = [stack.new_tenant("bidirectional") for _ in range(TENANTS)]
        asyncio.run(seed(stack, tenants))
        clock = run_days(stack, host_id)
        stats = stack.emulator.stats()
        runs = runs_from_log(stack)
        listings = asyncio.run(listing(stack, tenants[0]))
    writes = stats["subscriptionWrites"]
    mine = [writes.get(t.graph_tenant_id, {}) for t in tenants]
    expired = sum(w.get("expired", 0) for w in mine)
    total = sum(w.get("total", 0) for w in mine)
    peak = max(w.get("peakPer20Seconds", 0) for w in mine)
    throttled = sum(r["count"] for r in stats["requests"]
                    if r["route"].startswith("/subscriptions") and r["status"] == 429)  # fmt: skip
    renewed = sum(r[1] for r in runs)
    deferred = sum(r[5] for r in runs)
    longest = max((r[7] for r in runs), default=0)
    small, big = listings[0], listings[-1]
    print(
        f"scale: {ROOMS} rooms ({TENANTS} tenants) kept subscribed {DAYS:.0f} virtual days by "
        f"the renew_subscriptions timer on the virtual clock ({len(runs)} runs over "
        f"{clock['steps']} {STEP_HOURS} h steps, {clock['seconds']:.0f} s real): Graph saw "
        f"{expired} subscriptions expire, {total} subscription writes ({renewed} renewals, "
        f"{deferred} deferred to a later run, longest run {longest} s), at most {peak} in any "
        f"20 s for one tenant (limit {LIMIT_PER_20S}), {throttled} 429s; full listing of a "
        f"room: {small['events']} events {small['peak_mb']:.1f} MB peak / "
        f"{small['seconds']:.1f} s, {big['events']} events {big['peak_mb']:.1f} MB / "
        f"{big['seconds']:.1f} s ({big['pages']} pages of 50: memory x"
        f"{big['peak_mb'] / max(small['peak_mb'], 0.001):.2f} for x"
        f"{big['events'] / small['events']:.0f} events)"
    )
    ok = (
        expired == 0 and peak <= LIMIT_PER_20S and throttled == 0 and total >= ROOMS
        and all(x["items"] >= x["events"] for x in listings)
        and big["peak_mb"] < 2 * small["peak_mb"]
    )  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
