"""The room has the last word, and a person's newer change is never overwritten:
through the whole stack (API + Graph emulator + the app in the local Functions host).

Syncs happen as in production here: change notifications poke the room, and a
booking creation pokes it again a few seconds later to see the room's answer. Only
the revert race runs its syncs by hand (its room is silent), to place the user's
move exactly between the app's read and its write.

``RACE_RUNS`` (default 1) repeats each race; the acceptance run uses RACE_RUNS=20.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.support.functions_host import Stack, Tenant, wait_for
from tests.support.outlook import Outlook

RUNS = int(os.environ.get("RACE_RUNS", "1"))
SETTLE_SECONDS = 25.0  # "within seconds": well under the 30 s grace + reconcile of old
OPEN = {"timeZone": "UTC", "maxMinutes": 120,
        "openingHours": {d: [{"start": "08:00", "end": "18:00"}] for d in
                         ("monday", "tuesday", "wednesday", "thursday", "friday")}}  # fmt: skip
EVENT = "/users/{id}/events/{eventId}"


def next_monday(stack: Stack) -> datetime:
    """Monday of next week on the emulator's (virtual) clock, 00:00 UTC."""
    today = stack.emulator.clock_now().replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7)


def sync(stack: Stack, tenant_id: str, room: str) -> None:
    """A sync of the room, finished (also one another worker held the room for)."""
    stack.sync_mailbox(tenant_id, room)


@contextlib.contextmanager
def faults(stack: Stack, **values: Any) -> Iterator[None]:
    stack.emulator.set_faults(**values)
    try:
        yield
    finally:
        stack.emulator.set_faults()


def delay_next(stack: Stack, route: str, mailbox: str, seconds: float) -> None:
    """The next matching Graph request waits ``seconds`` before it is applied."""
    stack.emulator.control("POST", "faults/next", {
        "route": route, "mailbox": mailbox, "answer": "delay", "timeoutSeconds": seconds,
    })  # fmt: skip


def wait_until_held(stack: Stack) -> None:
    """The delayed request has arrived (its rule is used up) and is being held."""
    wait_for(lambda: stack.emulator.control("GET", "faults/next") == {"value": []}, timeout=30,
             interval=0.02)  # fmt: skip


def in_background(call: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def book(stack: Stack, t: Tenant, user: str, start: datetime, end: datetime,
         **extra: Any) -> httpx.Response:  # fmt: skip
    return stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": user, "start": start.isoformat(), "end": end.isoformat(),
        **extra,
    })  # fmt: skip


def booking(stack: Stack, t: Tenant, booking_id: str) -> dict[str, Any]:
    r = stack.api("GET", f"tenants/{t.id}/bookings/{booking_id}")
    assert r.status_code == 200, r.text
    return dict(r.json())


def room_answer(event: dict[str, Any], room: str) -> str:
    [att] = [a for a in event["attendees"] if a["emailAddress"]["address"].lower() == room]
    return str(att["status"]["response"])


# -- Alice (Bookker) and Bob (Outlook) want the same room at the same moment ---------------


class Race:
    def __init__(self, stack: Stack, shift_minutes: int = 0) -> None:
        self.stack = stack
        self.t = stack.new_tenant()
        self.alice = self.t.add_user("alice")
        self.bob = self.t.add_user("bob")
        self.room = self.t.add_space("room1")
        assert self.room is not None
        self.outlook = Outlook(stack, self.t)
        day = next_monday(stack)
        self.a_slot = (day + timedelta(hours=10), day + timedelta(hours=11))
        shift = timedelta(minutes=shift_minutes)
        self.b_slot = (self.a_slot[0] + shift, self.a_slot[1] + shift)
        sync(stack, self.t.id, self.room)  # the room's first delta
        self.bob_event: dict[str, Any] = {}
        self.alice_id: str | None = None
        self.alice_status = 0

    def bob_books(self) -> None:
        self.bob_event = self.outlook.book_room(self.bob, self.room, *self.b_slot, "Bob's")

    def alice_books(self) -> None:
        r = book(self.stack, self.t, "alice", *self.a_slot, subject="Alice's")
        self.alice_status = r.status_code
        assert r.status_code in (201, 409), r.text
        if r.status_code == 201:
            self.alice_id = str(r.json()["id"])

    def travel(self) -> None:
        """A minute on: the requests reach the room; another: its answers reach the
        organizers (a Graph request delivers what is due)."""
        for _ in range(2):
            self.stack.emulator.clock_advance(65)
            self.outlook.events(self.room)

    def settled(self, winner: str) -> bool:
        """Bookker and the room agree: exactly one of them holds the room."""
        confirmed = self.t.bookings(status="confirmed")
        if [b["userId"] for b in confirmed] != [winner]:
            return False
        if self.alice_id is not None:
            alice = booking(self.stack, self.t, self.alice_id)
            if alice["status"] != ("confirmed" if winner == "alice" else "declined"):
                return False
        accepted = [
            e for e in self.outlook.events(self.room)
            if e["responseStatus"]["response"] == "accepted"
        ]  # fmt: skip
        organizers = [e["organizer"]["emailAddress"]["address"].lower() for e in accepted]
        return organizers == [self.alice if winner == "alice" else self.bob]

    def assert_outcome(self, winner: str) -> None:
        try:
            wait_for(lambda: self.settled(winner), timeout=SETTLE_SECONDS, interval=0.5)
        except AssertionError:
            raise AssertionError({
                "bookings": self.t.bookings(), "room": self.outlook.events(self.room),
            }) from None  # fmt: skip
        bob = self.outlook.get(self.bob, self.bob_event["id"])
        assert room_answer(bob, self.room) == ("accepted" if winner == "bob" else "declined")
        if winner == "bob" and self.alice_id is not None:
            alice = booking(self.stack, self.t, self.alice_id)
            assert alice["statusReason"].startswith("The room declined the booking")
            [bobs] = self.t.bookings(status="confirmed")
            assert bobs["source"] == "outlook"


SHIFTS = {"same-slot": 0, "overlapping": 30}


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("shift", SHIFTS.values(), ids=SHIFTS.keys())
def test_bob_reaches_the_room_first_bob_wins_alice_is_declined(
    stack: Stack, shift: int, run: int
) -> None:
    """Bob's Outlook request reaches the room first (both requests travel for a
    minute), so the room accepts Bob and declines Alice. Bookker keeps Bob's meeting
    and shows Alice's booking declined with the room's reason."""
    race = Race(stack, shift)
    with faults(stack, propagationDelaySeconds=60):
        race.bob_books()
        stack.emulator.clock_advance(1)
        race.alice_books()
        assert race.alice_status == 201
        race.travel()  # both arrive: Bob's first
    race.assert_outcome("bob")


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("shift", SHIFTS.values(), ids=SHIFTS.keys())
def test_alice_reaches_the_room_first_alice_wins_bob_is_declined(
    stack: Stack, shift: int, run: int
) -> None:
    race = Race(stack, shift)
    with faults(stack, propagationDelaySeconds=60):
        race.alice_books()
        stack.emulator.clock_advance(1)
        race.bob_books()
        race.travel()
    race.assert_outcome("alice")


@pytest.mark.parametrize("run", range(RUNS))
@pytest.mark.parametrize("shift", SHIFTS.values(), ids=SHIFTS.keys())
def test_rooms_answering_at_once_bob_first(stack: Stack, shift: int, run: int) -> None:
    """No travel time: the room accepts Bob's request at once; Alice books a moment
    later (the API either already knows Bob's meeting: 409, or creates her event and
    the room declines it). Bob wins either way, within seconds."""
    race = Race(stack, shift)
    race.bob_books()
    race.alice_books()
    race.assert_outcome("bob")


@pytest.mark.parametrize("run", range(RUNS))
def test_bob_accepted_while_alices_creation_is_in_flight(stack: Stack, run: int) -> None:
    """Alice's creation holds the slot in Bookker's ledger and its Graph request is
    slow; meanwhile the room accepts Bob's request and the room is synced. The sync
    waits for Alice's booking to be stored, then the room's answer decides: Bob."""
    race = Race(stack)
    delay_next(stack, "POST /users/{id}/events", race.alice, 2.0)
    thread, _ = in_background(race.alice_books)
    wait_until_held(stack)
    race.bob_books()  # the room accepts Bob: Alice's request is still on its way
    sync(stack, race.t.id, race.room)
    thread.join(30)
    assert race.alice_status == 201
    race.assert_outcome("bob")


# -- the room's answer reaches Bookker within seconds ----------------------------------------


def test_a_25_hour_booking_declined_by_the_room_is_declined_in_bookker(stack: Stack) -> None:
    """Bookker's rules allow it; the room (MaximumDurationInMinutes 1440) declines it.
    Nothing changes on the room's calendar, so no notification comes: the creation's
    follow-up look at the organizer's event shows the decline."""
    t = stack.new_tenant()
    t.add_user("alice")
    room = t.add_space("room1")
    assert room is not None
    sync(stack, t.id, room)
    day = next_monday(stack)
    r = book(stack, t, "alice", day + timedelta(hours=8), day + timedelta(hours=33))
    assert r.status_code == 201, r.text
    booking_id = r.json()["id"]
    assert booking(stack, t, booking_id)["status"] == "confirmed"
    declined = wait_for(
        lambda: (b := booking(stack, t, booking_id))["status"] == "declined" and b,
        timeout=SETTLE_SECONDS, interval=0.5,
    )  # fmt: skip
    assert declined["statusReason"].startswith("The room declined the booking")


def test_a_series_declined_by_the_room_for_one_occurrence_is_declined_per_occurrence(
    stack: Stack,
) -> None:
    """The room accepts the weekly series but declines the occurrence that clashes
    with a meeting already on its calendar (a policy allowing one conflicting
    instance): that occurrence's booking is declined, the others stay confirmed."""
    t = stack.new_tenant()
    t.add_user("alice")
    room = t.add_space(
        "room1", policy={"maximumConflictInstances": 1, "conflictPercentageAllowed": 50}
    )
    assert room is not None
    outlook = Outlook(stack, t)
    day = next_monday(stack)
    first = day + timedelta(hours=9)
    blocked = first + timedelta(days=14)  # the third occurrence
    outlook.call("POST", f"users/{room}/events", {  # the room's own event: Bookker ignores it
        "subject": "Maintenance",
        "start": {"dateTime": blocked.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (blocked + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC"},
    })  # fmt: skip
    sync(stack, t.id, room)
    r = book(stack, t, "alice", first, first + timedelta(hours=1),
             recurrence={"pattern": "weekly", "count": 4})  # fmt: skip
    assert r.status_code == 201, r.text
    series_id = r.json()["seriesId"]

    def per_occurrence() -> dict[str, str] | None:
        found = [b for b in t.bookings() if b.get("seriesId") == series_id]
        states = {b["start"][:10]: b["status"] for b in found}
        return states if sorted(states.values()).count("declined") == 1 else None

    try:
        states = wait_for(per_occurrence, timeout=SETTLE_SECONDS, interval=0.5)
    except AssertionError:
        raise AssertionError(t.bookings()) from None
    assert states[blocked.date().isoformat()] == "declined"
    assert sorted(states.values()) == ["confirmed", "confirmed", "confirmed", "declined"]


# -- a person's newer change is never overwritten -------------------------------------------


@pytest.mark.parametrize("run", range(RUNS))
def test_a_revert_never_overwrites_the_users_newer_move(stack: Stack, run: int) -> None:
    """Alice moves her meeting past closing time; Bookker reads her event and reverts
    it, but she moves it again (to a valid time) between Bookker's read and its write.
    The revert is conditional (If-Match): refused, judged again, dropped; her newer
    move reaches Bookker."""
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    day = next_monday(stack)
    with faults(stack, silentMailboxes=[room]):  # syncs by hand, exactly where wanted
        sync(stack, t.id, room)
        event = outlook.book_room(alice, room, day + timedelta(hours=9),
                                  day + timedelta(hours=10), "1:1")  # fmt: skip
        sync(stack, t.id, room)
        [b] = t.bookings(status="confirmed")
        outlook.move(alice, event["id"], day + timedelta(hours=17), day + timedelta(hours=19))
        delay_next(stack, f"PATCH {EVENT}", alice, 3.0)  # Bookker's revert will be slow
        thread, _ = in_background(lambda: sync(stack, t.id, room))
        wait_until_held(stack)  # Bookker read the event and its revert is on its way
        started = time.monotonic()
        outlook.move(alice, event["id"], day + timedelta(hours=14), day + timedelta(hours=15))
        assert time.monotonic() - started < 2.5  # her move went first
        thread.join(60)
        assert not thread.is_alive()
        now = outlook.get(alice, event["id"])
        assert now["start"]["dateTime"].startswith(f"{(day + timedelta(hours=14)):%Y-%m-%dT%H:%M}")
        sync(stack, t.id, room)  # her newer move is judged: valid, stored
        assert outlook.get(alice, event["id"])["start"]["dateTime"] == now["start"]["dateTime"]
        stored = booking(stack, t, b["id"])
        assert stored["status"] == "confirmed"
        assert stored["start"].startswith(f"{(day + timedelta(hours=14)):%Y-%m-%dT%H:%M}")


@pytest.mark.parametrize("run", range(RUNS))
def test_an_api_move_never_overwrites_a_move_made_in_outlook(stack: Stack, run: int) -> None:
    """Alice moves her Bookker booking in Outlook; before Bookker has synced it, a
    Bookker client moves the same booking through the API. The PATCH is conditional:
    Bookker reads the event again, sees the move it has not judged yet, and answers
    409 instead of overwriting it."""
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    day = next_monday(stack)
    with faults(stack, silentMailboxes=[room]):
        sync(stack, t.id, room)
        r = book(stack, t, "alice", day + timedelta(hours=9), day + timedelta(hours=10))
        assert r.status_code == 201, r.text
        created = r.json()
        event_id = created["outlook"]["organizerEventId"]
        outlook.move(alice, event_id, day + timedelta(hours=13), day + timedelta(hours=14))
        r = stack.api("PATCH", f"tenants/{t.id}/bookings/{created['id']}", {
            "start": (day + timedelta(hours=11)).isoformat(),
            "end": (day + timedelta(hours=12)).isoformat(),
        })  # fmt: skip
        assert r.status_code == 409, r.text
        assert "changed in Outlook" in r.json()["error"]["message"]
        assert outlook.get(alice, event_id)["start"]["dateTime"].startswith(
            f"{(day + timedelta(hours=13)):%Y-%m-%dT%H:%M}"
        )
        # without a change in Outlook the same API move goes through (a stale
        # changeKey alone is re-read and retried, not refused)
        sync(stack, t.id, room)
        r = stack.api("PATCH", f"tenants/{t.id}/bookings/{created['id']}", {
            "start": (day + timedelta(hours=15)).isoformat(),
            "end": (day + timedelta(hours=16)).isoformat(),
        })  # fmt: skip
        assert r.status_code == 200, r.text
        assert outlook.get(alice, event_id)["start"]["dateTime"].startswith(
            f"{(day + timedelta(hours=15)):%Y-%m-%dT%H:%M}"
        )
