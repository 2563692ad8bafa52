"""scale_out: a notification storm on 1, 2 and 3 host instances (separate processes
behind one webhook URL, one Azurite, one Graph emulator, as a scaled-out app).

For each instance count, a fresh stack with ROOMS rooms; then CHANGES Outlook bookings
per room made at once (one call to the emulator: the storm), each notified to the
webhook. Measured: the time until Bookker holds every booking (throughput in changes
per second, and as a ratio to 1 instance) and the app's Graph requests per change as
Graph counts them (each $batch item on its own), which must not grow with instances.
On this 2-core machine the instances share the cores with the emulator and Azurite, so
the ratio says what scale-out costs and keeps correct here, not what Azure would give.

Prints one summary line. Run: `python -m bench.scale_out`.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import timedelta
from typing import Any

from bench.common import wait_until
from tests.support.functions_host import APP_CLIENT_ID, Stack, Tenant, running_stack

ROOMS = int(os.environ.get("BENCH_SCALE_OUT_ROOMS", "100"))
CHANGES = int(os.environ.get("BENCH_SCALE_OUT_CHANGES", "10"))
INSTANCES = (1, 2, 3)
GROWTH = 1.2  # Graph requests per change may vary a little between runs, not grow


def app_requests(stack: Stack) -> int:
    return sum(r["count"] for r in stack.emulator.stats()["requests"]
               if r["app"] == APP_CLIENT_ID and r["route"] != "/$batch")  # fmt: skip


def subscribed(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(mine and mine[0]["subscriptions"]["active"] == ROOMS)


def storm(stack: Stack, t: Tenant, alice: str, rooms: list[str]) -> list[dict[str, Any]]:
    base = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    items = []
    for room in rooms:
        for j in range(CHANGES):
            start = base + timedelta(days=2 + j // 8, hours=8 + j % 8)
            end = start + timedelta(minutes=30)
            items.append({
                "subject": "storm",
                "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
                "location": {"displayName": room, "locationEmailAddress": room},
                "attendees": [{"emailAddress": {"address": room}, "type": "resource"}],
            })  # fmt: skip
    return items


def run(instances: int) -> dict[str, Any]:
    with running_stack({"SYNC_LEASE_SECONDS": "60"}, instances=instances) as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        rooms = [t.add_space(f"r{i:03d}") or "" for i in range(ROOMS)]
        wait_until(lambda: subscribed(stack, t), 600, "every room's subscription")
        time.sleep(2)  # the first full syncs of the rooms finish
        items = storm(stack, t, alice, rooms)
        before = app_requests(stack)
        started = time.monotonic()
        for i in range(0, len(items), 1000):
            chunk = {"mailbox": alice, "items": items[i : i + 1000]}
            stack.emulator.control("POST", "bulk/events", chunk)
        total = len(items)

        def done() -> bool:
            stack.emulator.control("POST", "notifications/flush")
            return len(t.bookings(status="confirmed")) >= total

        wait_until(done, 1200, "the storm to converge")
        seconds = time.monotonic() - started
        requests = app_requests(stack) - before
    return {"instances": instances, "seconds": seconds, "rate": total / seconds,
            "per_change": requests / total, "changes": total}  # fmt: skip


def main() -> int:
    results = [run(n) for n in INSTANCES]
    one = results[0]
    parts = [
        f"{r['instances']} instance{'s' if r['instances'] > 1 else ''}: {r['rate']:.1f} changes/s "
        f"({r['changes']} in {r['seconds']:.0f} s, x{r['rate'] / one['rate']:.2f} of 1 instance),"
        f" {r['per_change']:.3f} Graph requests/change"
        for r in results
    ]
    print(f"scale_out: storm of {ROOMS} rooms x {CHANGES} Outlook bookings on one 2-core "
          f"machine: " + "; ".join(parts))  # fmt: skip
    ok = all(r["per_change"] <= one["per_change"] * GROWTH + 0.02 for r in results)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
