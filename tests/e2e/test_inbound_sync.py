"""Outlook → Bookker through the real stack (sync run through the admin endpoint)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.functions_host import Stack
from tests.support.outlook import Outlook


def monday(weeks: int = 1) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks)


M = monday()
OPEN = {"timeZone": "UTC", "maxMinutes": 120,
        "openingHours": {d: [{"start": "08:00", "end": "18:00"}] for d in
                         ("monday", "tuesday", "wednesday", "thursday", "friday")}}  # fmt: skip


def sync(stack: Stack, tenant_id: str, room: str) -> dict:
    return stack.sync_mailbox(tenant_id, room)


def test_outlook_create_update_cancel_reach_bookker(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)  # initial delta
    event = outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "1:1")
    sync(stack, t.id, room)
    [b] = t.bookings()
    assert b["source"] == "outlook" and b["status"] == "confirmed" and b["userId"] == "alice"
    assert b["start"].startswith((M + timedelta(hours=9)).strftime("%Y-%m-%dT%H:%M"))
    # allowed move → stored
    outlook.move(alice, event["id"], M + timedelta(hours=11), M + timedelta(hours=12))
    sync(stack, t.id, room)
    [b] = t.bookings()
    assert b["start"].startswith((M + timedelta(hours=11)).strftime("%Y-%m-%dT%H:%M"))
    # disallowed move (past opening hours) → reverted on the organizer's event
    outlook.move(alice, event["id"], M + timedelta(hours=17), M + timedelta(hours=19))
    sync(stack, t.id, room)
    organizer = outlook.get(alice, event["id"])
    assert organizer["start"]["dateTime"].startswith(
        (M + timedelta(hours=11)).strftime("%Y-%m-%dT%H:%M")
    )
    [b] = t.bookings()
    assert b["start"].startswith((M + timedelta(hours=11)).strftime("%Y-%m-%dT%H:%M"))
    # cancel in Outlook → cancelled in Bookker
    outlook.cancel(alice, event["id"])
    sync(stack, t.id, room)
    [b] = t.bookings()
    assert b["status"] == "cancelled"


def test_rule_breaking_creation_is_declined_with_the_message(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    event = outlook.book_room(alice, room, M + timedelta(hours=7), M + timedelta(hours=9))
    sync(stack, t.id, room)
    assert t.bookings() == []
    organizer = outlook.get(alice, event["id"])
    [att] = [a for a in organizer["attendees"] if a["emailAddress"]["address"] == room]
    assert att["status"]["response"] == "declined"
    assert outlook.events(room) == []


def test_non_bookker_organizer_is_declined(stack: Stack):
    t = stack.new_tenant()
    stranger = t.address("stranger")
    stack.emulator.add_mailbox(t.graph_tenant_id, stranger, "Stranger", "user")
    room = t.add_space("room1")
    outlook = Outlook(stack, t)
    outlook.book_room(stranger, room, M + timedelta(hours=9), M + timedelta(hours=10))
    sync(stack, t.id, room)
    assert t.bookings() == []
    assert outlook.events(room) == []


def test_weekly_series_of_six_two_breaking_occurrences(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    # The booking window ends between the 4th and 5th occurrence: 2 break the rule.
    window = (M + timedelta(days=25) - datetime.now(UTC)).days
    room = t.add_space("room1", rules={"bookingWindowDays": window})
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    first = M + timedelta(hours=9)
    outlook.book_room(alice, room, first, first + timedelta(hours=1), "Weekly", recurrence={
        "pattern": {"type": "weekly", "interval": 1, "daysOfWeek": [first.strftime("%A").lower()]},
        "range": {"type": "numbered", "startDate": first.date().isoformat(),
                  "numberOfOccurrences": 6},
    })  # fmt: skip
    sync(stack, t.id, room)
    confirmed = t.bookings(status="confirmed")
    assert len(confirmed) == 4, t.bookings()
    assert len({b["seriesId"] for b in confirmed}) == 1
    room_copies = outlook.view(room, M, M + timedelta(days=60))
    assert len(room_copies) == 4  # the 2 violating occurrences were declined one by one


def test_bookker_booking_echo_costs_no_graph_writes(stack: Stack):
    t = stack.new_tenant()
    t.add_user("alice")
    room = t.add_space("room1")
    sync(stack, t.id, room)
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": (M + timedelta(hours=9)).isoformat(),
        "end": (M + timedelta(hours=10)).isoformat(),
    })  # fmt: skip
    assert r.status_code == 201
    before = stack.emulator.stats()["requests"]
    sync(stack, t.id, room)
    sync(stack, t.id, room)
    after = stack.emulator.stats()["requests"]
    writes = [
        (a["method"], a["route"], a["count"] - _count(before, a))
        for a in after
        if a.get("mailbox")
        and a["mailbox"].lower() == room
        and a["method"] != "GET"
        and a["count"] > _count(before, a)
    ]
    assert writes == []
    [b] = t.bookings()
    assert b["source"] == "bookker" and b["outlook"]["resourceEventId"]


def _count(rows: list[dict], row: dict) -> int:
    for r in rows:
        if (r["method"], r["route"], r.get("mailbox"), r["status"]) == (
            row["method"],
            row["route"],
            row.get("mailbox"),
            row["status"],
        ):
            return int(r["count"])
    return 0
