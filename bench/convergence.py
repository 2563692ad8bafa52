"""convergence: how long until an Outlook change is Bookker state.

1. Instant delivery: each of N Outlook bookings made in a room, timed (real clock) until
   Bookker answers it as a confirmed booking: p50 / p99.
2. Every notification dropped: the same, where only the reconcile timer can find the
   change; measured on the virtual clock, advanced a minute at a time, with the timer
   enabled on its real schedule (every 15 min). Bound: the reconcile interval.

Prints one summary line. Run: `python -m bench.convergence`.
"""

from __future__ import annotations

import contextlib
import statistics
import sys
import time
from datetime import timedelta

from tests.support.functions_host import Stack, Tenant, running_stack, wait_for
from tests.support.outlook import Outlook

INSTANT = 40
DROPPED = 8
INTERVAL_MINUTES = 15


def subscribed(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(
        mine and mine[0]["subscriptions"]["active"] == 1 and mine[0]["oldestSuccessfulSync"]
    )


def booked(t: Tenant, subject_count: int) -> bool:
    return len(t.bookings(status="confirmed")) >= subject_count


def instant(stack: Stack, t: Tenant, alice: str, room: str) -> list[float]:
    outlook = Outlook(stack, t)
    base = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    latencies = []
    for i in range(INSTANT):
        start = base + timedelta(days=2 + i // 8, hours=8 + i % 8)
        began = time.monotonic()
        outlook.book_room(alice, room, start, start + timedelta(minutes=30), f"c{i}")
        wait_for(lambda i=i: booked(t, i + 1), timeout=60, interval=0.01)
        latencies.append(time.monotonic() - began)
    return latencies


def dropped(stack: Stack, t: Tenant, alice: str, room: str) -> list[float]:
    outlook = Outlook(stack, t)
    base = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    stack.emulator.set_faults(seed=3, notificationDropRate=1.0)
    latencies = []
    try:
        for i in range(DROPPED):
            have = len(t.bookings(status="confirmed"))
            start = base + timedelta(days=20 + i, hours=9)
            outlook.book_room(alice, room, start, start + timedelta(minutes=30), f"d{i}")
            minutes = 0
            while not booked(t, have + 1):
                now = stack.emulator.clock_advance(60)
                minutes += 1
                if now.minute % INTERVAL_MINUTES == 0:
                    # the timer's moment: give the host real time to run it and the sync
                    # before the virtual clock moves on
                    with contextlib.suppress(AssertionError):
                        wait_for(lambda have=have: booked(t, have + 1), timeout=15, interval=0.2)
                else:
                    time.sleep(0.05)
                assert minutes <= 3 * INTERVAL_MINUTES, "did not converge"
            latencies.append(minutes * 60.0)
            # next change at a random phase of the timer: move on a few minutes
            stack.emulator.clock_advance(60 * (3 * i % INTERVAL_MINUTES))
    finally:
        stack.emulator.set_faults(seed=3)
    return latencies


def main() -> int:
    env = {"RECONCILE_SCHEDULE": "0 */15 * * * *", "AzureWebJobs.reconcile_all.Disabled": "false",
           "RECONCILE_INTERVAL_MINUTES": str(INTERVAL_MINUTES)}  # fmt: skip
    with running_stack(env) as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        room = t.add_space("room")
        assert room is not None
        wait_for(lambda: subscribed(stack, t), timeout=60)
        fast = instant(stack, t, alice, room)
        slow = dropped(stack, t, alice, room)
    q = statistics.quantiles(fast, n=100)
    print(
        f"convergence: instant delivery p50 {q[49] * 1000:.0f} ms / p99 {q[98] * 1000:.0f} ms "
        f"over {INSTANT} changes; all notifications dropped: p50 {statistics.median(slow) / 60:.0f}"
        f" min / max {max(slow) / 60:.0f} min of virtual time over {DROPPED} changes "
        f"(bound: the {INTERVAL_MINUTES}-minute reconcile interval)"
    )
    return 0 if max(slow) <= INTERVAL_MINUTES * 60 else 1


if __name__ == "__main__":
    sys.exit(main())
