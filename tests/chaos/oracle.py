"""The chaos oracle: what must hold once the stack is quiet after a reconcile pass.

- every room calendar equals Bookker's confirmed bookings for that room;
- no booking without its event (room copy and organizer's event), no event without
  its booking;
- no duplicates, no overlapping confirmed bookings in a space;
- every confirmed booking keeps the space's time-independent rules (so every
  rule-breaking Outlook booking was declined);
- every booking the API acknowledged (201/200) still exists; a creation answered 5xx
  (and never acknowledged on a retry) left nothing behind: no booking, no live event;
- every room is still subscribed (subscriptions renewed across the days);
- nothing in the poison queues.

Only what is still ahead at the end is compared with Outlook (the sync window starts
a day back; the virtual clock moved days during the run).
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from azure.storage.queue import QueueClient

from bookker_sync.domain.models import Booking, Space, User
from bookker_sync.domain.rules import check_booking
from bookker_sync.graph.event_json import parse_graph_datetime
from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from tests.chaos.scenario import Scenario

TIME_INDEPENDENT_RULES = {"access", "openingHours", "minMinutes", "maxMinutes",
                          "maxMinutesPerBooking"}  # fmt: skip


def check(scenario: Scenario) -> list[str]:
    """All violations found (empty = the claim holds)."""
    problems: list[str] = []
    bookings, spaces, users = asyncio.run(_load(scenario))
    # What is ahead, up to the sync horizon (365 days, less the up to one day a room's
    # window lags behind until it rolls): beyond it nothing is synced yet, by design.
    start = scenario.stack.emulator.clock_now()
    end = start + timedelta(days=363)
    confirmed = [b for b in bookings
                 if b.status.value == "confirmed" and b.end > start and b.start < end]  # fmt: skip
    for space_id, room in scenario.rooms.items():
        mine = [b for b in confirmed if b.space_id == space_id]
        # Rooms keep cancelled meetings (RemoveCanceledMeetings false): those hold nothing.
        copies = [e for e in scenario.outlook.view(room, start, end)
                  if (_times(e)[0] or end) < end
                  and (e.get("responseStatus") or {}).get("response") == "accepted"
                  and not e.get("isCancelled")]  # fmt: skip
        everything = [b for b in bookings if b.space_id == space_id]
        problems += _room_matches(space_id, mine, copies, everything)
        problems += _no_overlaps(space_id, mine)
        problems += _rules_hold(mine, spaces[space_id], users)
    problems += _organizer_events(scenario, confirmed)
    problems += _acknowledged(scenario, bookings)
    problems += _failures_left_nothing(scenario, bookings)
    problems += _subscribed(scenario)
    uids = Counter(b.outlook.i_cal_uid for b in confirmed if b.outlook.i_cal_uid)
    problems += [f"duplicate bookings for iCalUId {u}" for u, n in uids.items() if n > 1]
    problems += _poison(scenario)
    return problems


async def _load(scenario: Scenario) -> tuple[list[Booking], dict[str, Space], dict[str, User]]:
    clients = build_clients(
        StorageSettings(connection_string=scenario.stack.azurite.connection_string)
    )
    try:
        repos = Repositories(clients.tables)
        tid = scenario.tenant.id
        bookings = [r.booking for r in await repos.bookings.list(tid)]
        spaces = {s.id: s for s in await repos.spaces.list(tid)}
        users = {u.id: u for u in await repos.users.list(tid)}
        return bookings, spaces, users
    finally:
        await clients.close()


def _times(event: dict[str, Any]) -> tuple[datetime | None, datetime | None]:
    return parse_graph_datetime(event.get("start")), parse_graph_datetime(event.get("end"))


def _room_matches(
    space_id: str, mine: list[Booking], copies: list[dict[str, Any]], everything: list[Booking]
) -> list[str]:
    problems = []
    by_id = {e["id"]: e for e in copies}
    by_uid = {e.get("iCalUId"): e for e in copies}
    claimed: set[str] = set()
    for b in mine:
        event = by_id.get(b.outlook.resource_event_id or "") or by_uid.get(b.outlook.i_cal_uid)
        if event is None:
            problems.append(f"{space_id}: booking {b.id} ({b.start:%m-%d %H:%M}, {b.source.value}) "
                            "has no room copy")  # fmt: skip
            continue
        claimed.add(event["id"])
        if _times(event) != (b.start, b.end):
            problems.append(f"{space_id}: booking {b.id} is {b.start}-{b.end} but the room says "
                            f"{_times(event)}")  # fmt: skip
    for e in copies:
        if e["id"] not in claimed:
            s, _ = _times(e)
            known = [b for b in everything if e["id"] == b.outlook.resource_event_id
                     or e.get("iCalUId") == b.outlook.i_cal_uid]  # fmt: skip
            story = "; ".join(f"{b.source.value} booking {b.id[:8]} {b.status.value}"
                              f" ({b.status_reason})" for b in known) or "never stored"  # fmt: skip
            problems.append(f"{space_id}: room event {e['id'][-12:]} {e.get('type')} at {s} has no "
                            f"booking (organizer {e.get('organizer', {}).get('emailAddress', {}).get('address')}"
                            f", subject {e.get('subject')!r}): {story}")  # fmt: skip
    return problems


def _no_overlaps(space_id: str, mine: list[Booking]) -> list[str]:
    ordered = sorted(mine, key=lambda b: b.start)
    return [f"{space_id}: {a.id} overlaps {b.id}"
            for a, b in pairwise(ordered) if b.start < a.end]  # fmt: skip


def _rules_hold(mine: list[Booking], space: Space, users: dict[str, User]) -> list[str]:
    problems = []
    for b in mine:
        violations = check_booking(space=space, user=users.get(b.user_id), start=b.start, end=b.end,
                                   user_bookings=[], now=b.start - timedelta(days=1))  # fmt: skip
        broken = [v.rule for v in violations if v.rule in TIME_INDEPENDENT_RULES]
        if broken:
            problems.append(f"{space.id}: confirmed booking {b.id} breaks {broken}")
    return problems


def _organizer_events(scenario: Scenario, confirmed: list[Booking]) -> list[str]:
    problems = []
    for b in confirmed:
        ref = b.outlook
        if not ref.organizer_mailbox or not ref.i_cal_uid:
            problems.append(f"booking {b.id} has no organizer reference")
            continue
        found = scenario.outlook.call(
            "GET", f"users/{ref.organizer_mailbox}/calendarView?startDateTime="
            f"{(b.start - timedelta(minutes=1)).isoformat().replace('+00:00', 'Z')}&endDateTime="
            f"{(b.end + timedelta(minutes=1)).isoformat().replace('+00:00', 'Z')}",
        )["value"]  # fmt: skip
        live = [e for e in found if e.get("iCalUId") == ref.i_cal_uid and not e.get("isCancelled")]
        if not live:
            problems.append(f"booking {b.id}: the organizer's event is gone or cancelled")
    return problems


def _acknowledged(scenario: Scenario, bookings: list[Booking]) -> list[str]:
    stored = {b.id for b in bookings}
    return [f"booking {i} was acknowledged (201/200) but is gone"
            for i in sorted(scenario.acked - stored)]  # fmt: skip


def _failures_left_nothing(scenario: Scenario, bookings: list[Booking]) -> list[str]:
    problems = []
    stored = {b.id: b for b in bookings}
    for booking_id, (organizer, start, end) in sorted(scenario.failed.items()):
        if booking_id in stored:
            b = stored[booking_id]
            problems.append(f"a 5xx creation left booking {booking_id} ({b.status.value})")
        margin = timedelta(minutes=1)
        live = [e for e in scenario.outlook.view(organizer, start - margin, end + margin)
                if e.get("transactionId") == booking_id]  # fmt: skip
        if live:
            problems.append(f"a 5xx creation left the event of {booking_id} in {organizer}")
    return problems


def _subscribed(scenario: Scenario) -> list[str]:
    health = scenario.stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == scenario.tenant.id]
    active = mine[0]["subscriptions"]["active"] if mine else 0
    if active != len(scenario.rooms):
        return [f"{active} of {len(scenario.rooms)} rooms still subscribed"]
    return []


def _poison(scenario: Scenario) -> list[str]:
    problems = []
    for queue in ("mailbox-sync", "lifecycle", "outbound"):
        client = QueueClient.from_connection_string(
            scenario.stack.azurite.connection_string, f"{queue}-poison"
        )
        try:
            messages = list(client.peek_messages(max_messages=32))
        except Exception:  # the poison queue was never created: nothing was poisoned
            messages = []
        for m in messages:
            body = base64.b64decode(m.content).decode(errors="replace")
            problems.append(
                f"poison message in {queue}: {json.loads(body) if body.startswith('{') else body}"
            )
    return problems
