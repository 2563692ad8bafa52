"""The chaos oracle: what must hold once the stack is quiet after a reconcile pass.

- every room calendar equals Bookker's confirmed bookings for that room;
- no booking without its event (room copy and organizer's event), no event without
  its booking;
- no duplicates, no overlapping confirmed bookings in a space;
- every confirmed booking keeps the space's time-independent rules (so every
  rule-breaking Outlook booking was declined);
- nothing in the poison queues.
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
    confirmed = [b for b in bookings if b.status.value == "confirmed"]
    start = scenario.base - timedelta(days=1)
    end = scenario.base + timedelta(days=40)
    for space_id, room in scenario.rooms.items():
        mine = [b for b in confirmed if b.space_id == space_id]
        # Rooms keep cancelled meetings (RemoveCanceledMeetings false): those hold nothing.
        copies = [e for e in scenario.outlook.view(room, start, end)
                  if (e.get("responseStatus") or {}).get("response") == "accepted"
                  and not e.get("isCancelled")]  # fmt: skip
        everything = [b for b in bookings if b.space_id == space_id]
        problems += _room_matches(space_id, mine, copies, everything)
        problems += _no_overlaps(space_id, mine)
        problems += _rules_hold(mine, spaces[space_id], users, scenario.base)
    problems += _organizer_events(scenario, confirmed)
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


def _rules_hold(
    mine: list[Booking], space: Space, users: dict[str, User], now: datetime
) -> list[str]:
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
