"""convergence: how long until an Outlook change is Bookker state.

1. Instant delivery: Outlook bookings made one after another, each timed (real clock)
   until Bookker answers it as a confirmed booking: p50 / p99.
2. Lost notifications at random times: CHANGES Outlook bookings in ROOMS rooms at
   seeded random moments over HOURS virtual hours, while the emulator drops each
   notification with probability DROP (seeded). The Functions host runs the real
   `reconcile_all` timer on its schedule (every RECONCILE_INTERVAL_MINUTES) on the
   virtual clock; the bench moves the clock from one moment to the next (a change, or
   a timer occurrence), lets the app finish its work, and records when each change is
   first seen in Bookker (virtual time). Bound: RECONCILE_INTERVAL_MINUTES — a lost
   notification must be covered by the next reconcile run. The run fails past it.

Prints one summary line. Run: `python -m bench.convergence`.
"""

from __future__ import annotations

import contextlib
import math
import random
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import httpx
from azure.storage.queue import QueueClient

from bench.common import timer_updated
from bookker_sync.storage.queues import MAILBOX_SYNC_QUEUE
from tests.support.functions_host import Stack, Tenant, running_stack, wait_for
from tests.support.outlook import Outlook

INSTANT = 20
ROOMS = 3
CHANGES = 30
HOURS = 4
DROP = 0.5
SEED = 19
INTERVAL_MINUTES = 15


def subscribed(stack: Stack, t: Tenant, rooms: int) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(
        mine and mine[0]["subscriptions"]["active"] == rooms and mine[0]["oldestSuccessfulSync"]
    )


def confirmed_slots(t: Tenant) -> set[tuple[str, datetime]]:
    return {(b["spaceId"], datetime.fromisoformat(b["start"].replace("Z", "+00:00")))
            for b in t.bookings(status="confirmed")}  # fmt: skip


def instant(stack: Stack, t: Tenant, alice: str, room: str) -> list[float]:
    outlook = Outlook(stack, t)
    base = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    latencies = []
    for i in range(INSTANT):
        start = base + timedelta(days=2 + i // 8, hours=8 + i % 8)
        began = time.monotonic()
        outlook.book_room(alice, room, start, start + timedelta(minutes=30), f"c{i}")
        wait_for(lambda i=i: len(t.bookings(status="confirmed")) >= i + 1, 60, 0.01)
        latencies.append(time.monotonic() - began)
    return latencies


class Quiet:
    """Waits until the app has no queued sync work and its Graph traffic has stopped."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.queue = QueueClient.from_connection_string(
            stack.azurite.connection_string, MAILBOX_SYNC_QUEUE
        )

    def wait(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        last, since = -1, time.monotonic()
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                self.stack.emulator.control("POST", "notifications/flush")
            requests = int(self.stack.api("GET", "health").json()["graph"]["requests"])
            queued = self.queue.get_queue_properties().approximate_message_count
            if requests != last or queued:
                last, since = requests, time.monotonic()
            elif time.monotonic() - since > 1.5:
                return
            time.sleep(0.2)
        raise TimeoutError("the app did not go quiet")


def next_occurrence(after: datetime) -> datetime:
    step = INTERVAL_MINUTES * 60
    seconds = math.floor(after.timestamp() / step) * step + step
    return datetime.fromtimestamp(seconds, after.tzinfo)


def random_changes(
    rng: random.Random, start: datetime, rooms: list[tuple[str, str]]
) -> list[tuple[datetime, str, str, datetime]]:
    """(when, space id, room address, booked slot start), sorted by when."""
    out = []
    day0 = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=10)
    for i in range(CHANGES):
        when = start + timedelta(seconds=rng.uniform(0, HOURS * 3600))
        space, room = rng.choice(rooms)
        slot = day0 + timedelta(days=i // 10, hours=8 + i % 10)
        out.append((when, space, room, slot))
    return sorted(out)


def lost_notifications(
    stack: Stack, t: Tenant, alice: str, rooms: list[tuple[str, str]], host_id: str
) -> dict[str, Any]:
    rng = random.Random(SEED)
    outlook = Outlook(stack, t)
    quiet = Quiet(stack)
    start = stack.emulator.clock_now()
    changes = random_changes(rng, start, rooms)
    made: dict[tuple[str, datetime], datetime] = {}  # (space, slot) → when it was made
    seen: dict[tuple[str, datetime], float] = {}  # → minutes until Bookker had it
    stack.emulator.set_faults(seed=SEED, notificationDropRate=DROP)
    try:
        pending = list(changes)
        deadline = changes[-1][0] + timedelta(minutes=3 * INTERVAL_MINUTES)
        while (pending or len(seen) < len(made)) and stack.emulator.clock_now() < deadline:
            now = stack.emulator.clock_now()
            timer = next_occurrence(now)
            if pending and pending[0][0] < timer:
                when, space, room, slot = pending.pop(0)
                stack.emulator.clock_advance(max(0.0, (when - now).total_seconds()))
                outlook.book_room(alice, room, slot, slot + timedelta(minutes=30), "change")
                made[(space, slot)] = stack.emulator.clock_now()
            else:
                stack.emulator.clock_advance((timer - now).total_seconds() + 0.5)

                def ran(timer: datetime = timer) -> bool:
                    return (timer_updated(stack, host_id, "reconcile_all") or timer) > timer

                wait_for(ran, timeout=60, interval=0.2)
            quiet.wait()
            observed = stack.emulator.clock_now()
            have = confirmed_slots(t)
            for key, when in made.items():
                if key not in seen and key in have:
                    seen[key] = (observed - when).total_seconds() / 60
    finally:
        stack.emulator.set_faults(seed=SEED)
    lost = [k for k in made if k not in seen]
    for key, minutes in seen.items():
        if minutes > INTERVAL_MINUTES:  # what a slow one looked like, for the record
            print(f"over the bound: {key[0]} change made at {made[key]:%H:%M:%S} (virtual) "
                  f"seen after {minutes:.1f} min", file=sys.stderr)  # fmt: skip
    return {"minutes": sorted(seen.values()), "lost": lost, "changes": len(made)}


def main() -> int:
    host_id = "conv-" + uuid.uuid4().hex[:8]
    env = {"RECONCILE_SCHEDULE": f"0 */{INTERVAL_MINUTES} * * * *",
           "AzureWebJobs.reconcile_all.Disabled": "false",
           "RECONCILE_INTERVAL_MINUTES": str(INTERVAL_MINUTES),
           "AzureFunctionsWebHost__hostid": host_id}  # fmt: skip
    with running_stack(env) as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        rooms = []
        for i in range(ROOMS):
            address = t.add_space(f"room{i}")
            assert address is not None
            rooms.append((f"room{i}", address))
        wait_for(lambda: subscribed(stack, t, ROOMS), timeout=90)
        fast = instant(stack, t, alice, rooms[0][1])
        slow = lost_notifications(stack, t, alice, rooms, host_id)
    q = statistics.quantiles(fast, n=100, method="inclusive")
    minutes = slow["minutes"]
    qs = (
        statistics.quantiles(minutes, n=100, method="inclusive")
        if len(minutes) > 1
        else minutes * 99
    )
    worst = max(minutes, default=math.inf) if not slow["lost"] else math.inf
    print(
        f"convergence: instant delivery p50 {q[49] * 1000:.0f} ms / p99 {q[98] * 1000:.0f} ms "
        f"over {INSTANT} changes; {slow['changes']} changes at seeded random times over "
        f"{HOURS} virtual hours in {ROOMS} rooms, {DROP:.0%} of notifications lost, the real "
        f"reconcile_all timer on the virtual clock: p50 {qs[49]:.1f} min / p99 {qs[98]:.1f} min"
        f" / max {worst:.1f} min until Bookker had the change ({len(slow['lost'])} never) "
        f"against RECONCILE_INTERVAL_MINUTES = {INTERVAL_MINUTES}"
    )
    return 0 if worst <= INTERVAL_MINUTES else 1


if __name__ == "__main__":
    sys.exit(main())
