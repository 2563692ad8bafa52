"""graph_cost: Graph requests per synced change, against the per-notification design.

For bursts of K external changes in one room (K = 1, 5, 20, 100 Outlook bookings made
by a user), counts the HTTP requests the app sent to Graph (its own counter, exposed by
/api/health) until Bookker holds all K bookings, and compares them with what the usual
design would have sent for the same run: for every notification received, GET the
event and look it up by iCalUId (2 requests), plus one write per creation (the
extension). Then K bookings made in Bookker: their room copies are echoes and must
cost no Graph writes.

Prints one summary line. Run: `python -m bench.graph_cost` (or `make bench`).
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.common import requests_for_mailbox, running_stack, wait_until
from tests.support.functions_host import Stack, Tenant
from tests.support.outlook import Outlook

BURSTS = (1, 5, 20, 100)


def app_graph_requests(stack: Stack) -> int:
    return int(stack.api("GET", "health").json()["graph"]["requests"])


def notifications_sent(stack: Stack) -> int:
    return int(stack.emulator.stats()["notifications"]["sent"])


def settle(stack: Stack, done: Any, timeout: float = 180.0) -> None:
    """Deliver notifications until ``done()`` and the app's Graph traffic is quiet."""
    deadline = time.monotonic() + timeout
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        stack.emulator.control("POST", "notifications/flush")
        now_count = app_graph_requests(stack)
        if now_count != last:
            last, quiet_since = now_count, time.monotonic()
        elif done() and time.monotonic() - quiet_since > 1.5:
            return
        time.sleep(0.2)
    raise TimeoutError("the room did not settle")


def slots(start_day: int, count: int) -> list[tuple[datetime, datetime]]:
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for i in range(count):
        day = base + timedelta(days=start_day + i // 8)
        start = day + timedelta(hours=8 + i % 8)
        out.append((start, start + timedelta(minutes=30)))
    return out


def measure_burst(
    stack: Stack, t: Tenant, alice: str, room: str, k: int, day: int
) -> dict[str, Any]:
    outlook = Outlook(stack, t)
    before_requests, before_notes = app_graph_requests(stack), notifications_sent(stack)
    before_bookings = len(t.bookings(status="confirmed"))
    for start, end in slots(day, k):
        outlook.book_room(alice, room, start, end, "burst")
    settle(stack, lambda: len(t.bookings(status="confirmed")) == before_bookings + k)
    ours = app_graph_requests(stack) - before_requests
    notes = notifications_sent(stack) - before_notes
    naive = 2 * notes + k  # GET + iCalUId lookup per notification, one write per creation
    return {"k": k, "ours": ours, "notifications": notes, "naive": naive}


def measure_echoes(stack: Stack, t: Tenant, room: str, k: int, day: int) -> dict[str, Any]:
    before_stats = stack.emulator.stats()
    before_room = requests_for_mailbox(before_stats, room)
    before_deltas = _deltas(before_stats, room)
    before_requests = app_graph_requests(stack)
    for start, end in slots(day, k):
        r = stack.api("POST", f"tenants/{t.id}/bookings", {
            "spaceId": "room", "userId": "alice", "start": start.isoformat(),
            "end": end.isoformat(),
        })  # fmt: skip
        assert r.status_code == 201, r.text
    settle(stack, lambda: all(
        b["outlook"].get("resourceEventId") for b in t.bookings(status="confirmed")
        if b["source"] == "bookker"
    ))  # fmt: skip
    stats = stack.emulator.stats()
    after_room = requests_for_mailbox(stats, room)
    writes = sum(after_room.get(m, 0) - before_room.get(m, 0) for m in ("POST", "PATCH", "DELETE"))
    deltas = _deltas(stats, room) - before_deltas
    # API creations cost one POST each in the user's mailbox; the rest is the sync's:
    # delta pages it reads anyway, and anything extra caused by the echoes.
    sync_requests = app_graph_requests(stack) - before_requests - k
    return {"k": k, "room_writes": writes, "sync_requests": sync_requests,
            "extra": sync_requests - deltas}  # fmt: skip


def _deltas(stats: dict[str, Any], room: str) -> int:
    return sum(int(r["count"]) for r in stats["requests"]
               if r["route"].endswith("calendarView/delta")
               and str(r.get("mailbox") or "").lower() == room.lower())  # fmt: skip


def main() -> int:
    with running_stack() as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        room = t.add_space("room")
        assert room is not None
        wait_until(lambda: _subscribed(stack, t), 60, "the room's subscription")
        settle(stack, lambda: True)
        results = [
            measure_burst(stack, t, alice, room, k, 2 + 20 * i) for i, k in enumerate(BURSTS)
        ]
        echo = measure_echoes(stack, t, room, 20, 120)
    parts = [
        f"K={r['k']}: {r['ours'] / r['k']:.2f} req/change vs naive {r['naive'] / r['k']:.2f}"
        f" ({r['naive'] / max(r['ours'], 1):.0f}x fewer; {r['notifications']} notifications)"
        for r in results
    ]
    print(
        "graph_cost: " + "; ".join(parts)
        + f"; echoes of {echo['k']} Bookker writes: {echo['room_writes']} room writes, "
        f"{echo['extra']} extra requests ({echo['sync_requests']} delta pages in all)"
    )  # fmt: skip
    k20 = next(r for r in results if r["k"] == 20)
    ok = k20["ours"] / 20 <= 0.25 and echo["room_writes"] == 0 and echo["extra"] == 0
    return 0 if ok else 1


def _subscribed(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(
        mine and mine[0]["subscriptions"]["active"] == 1 and mine[0]["oldestSuccessfulSync"]
    )


if __name__ == "__main__":
    sys.exit(main())
