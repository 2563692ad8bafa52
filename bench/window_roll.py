"""window_roll: what keeping every room's sync window fresh costs in Graph requests.

A room's calendarView/delta window is fixed by its first request, so each room is
listed in full with a fresh window once per SYNC_FULL_LISTING_HOURS (default 24, up
to a quarter sooner, drawn per listing), on top of the incremental delta rounds the
reconcile timer asks for. Rooms holding EVENTS meetings each; the virtual clock
crosses DAYS days in 15-minute steps with both timers running on their schedules
(no notifications: only the timers sync). Counted by the emulator, per room per day:
delta requests of full listings, of incremental rounds, and in total.

Prints one summary line. Run: `python -m bench.window_roll`.
"""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import timedelta

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from tests.support.functions_host import Stack, Tenant, running_stack, wait_for
from tests.support.outlook import Outlook

ROOMS = 3
EVENTS = 120  # per room, spread over the year: a full listing takes a few pages
DAYS = 2
STEP_MINUTES = 15
DELTA_ROUTE = "/users/{id}/calendarView/delta"


def subscribed(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(mine and mine[0]["subscriptions"]["active"] == ROOMS)


def delta_requests(stack: Stack, rooms: list[str]) -> dict[str, int]:
    wanted = {r.lower() for r in rooms}
    out: dict[str, int] = {}
    for row in stack.emulator.stats().get("requests", []):
        mailbox = str(row.get("mailbox") or "").lower()
        if row.get("route") == DELTA_ROUTE and mailbox in wanted:
            out[mailbox] = out.get(mailbox, 0) + int(row["count"])
    return out


def full_listings(stack: Stack, t: Tenant) -> int:
    """Full listings so far over the tenant's rooms (each room's sync state counts them)."""

    async def count() -> int:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            states = await Repositories(clients.tables).mailboxes.list(t.id)
            return sum(s.full_resyncs for s in states)
        finally:
            await clients.close()

    return asyncio.run(count())


def main() -> int:
    env = {"RECONCILE_SCHEDULE": "0 */15 * * * *", "RENEW_SCHEDULE": "0 */10 * * * *",
           "AzureWebJobs.reconcile_all.Disabled": "false",
           "AzureWebJobs.renew_subscriptions.Disabled": "false",
           # Leases outlast the clock's 15-minute jumps: a sync caught by a jump would
           # otherwise look abandoned (a lease run out) and be followed by a full listing.
           "SYNC_LEASE_SECONDS": "3600"}  # fmt: skip
    with running_stack(env) as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        outlook = Outlook(stack, t)
        rooms = []
        for i in range(ROOMS):
            room = t.add_space(f"room{i}", policy={"bookingWindowInDays": 400})
            assert room is not None
            rooms.append(room)
        wait_for(lambda: subscribed(stack, t), timeout=120)
        base = stack.emulator.clock_now().replace(minute=0, second=0, microsecond=0)
        for room in rooms:
            for n in range(EVENTS):
                start = base + timedelta(days=1 + n * 360 // EVENTS, hours=8 + n % 9)
                outlook.book_room(alice, room, start, start + timedelta(minutes=30), f"m{n}")
        wait_for(lambda: len(t.bookings()) >= ROOMS * EVENTS, timeout=300, interval=1.0)
        stack.emulator.set_faults(seed=1, notificationDropRate=1.0)  # only timers sync
        time.sleep(3)
        stack.emulator.clear_stats()
        listed_before = full_listings(stack, t)
        began = time.monotonic()
        for _ in range(DAYS * 24 * 60 // STEP_MINUTES):  # DAYS days on the clock
            stack.emulator.clock_advance(STEP_MINUTES * 60)
            time.sleep(0.6)  # the host follows the clock twice a second; the timer fires
        time.sleep(3)
        counts = delta_requests(stack, rooms)
        listings = (full_listings(stack, t) - listed_before) / ROOMS / DAYS
        elapsed = time.monotonic() - began
    pages = -(-EVENTS // 50)  # a full listing: one request per page of 50
    total = sum(counts.values()) / ROOMS / DAYS
    rounds = total - listings * pages  # incremental rounds: one request each (idle room)
    print(
        f"window_roll: per room per day {total:.0f} delta requests = {listings:.2f} full "
        f"listings x {pages} pages ({listings * pages:.1f} requests: the window roll) + "
        f"{rounds:.0f} incremental rounds (reconcile timer every {STEP_MINUTES} min); "
        f"{EVENTS} events per room, {DAYS} virtual days in {elapsed:.0f} s"
    )
    # Target: the window rolls about once a day (never less, at most a third more).
    return 0 if 1.0 <= listings <= 1.34 else 1


if __name__ == "__main__":
    sys.exit(main())
