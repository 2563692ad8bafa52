"""Arbitration in bidirectional mode: the room's answer decides who holds the room.

Two actors want one room slot at nearly the same moment: Alice books it in Bookker
(the API holds the slot in the ledger, creates her Outlook event inviting the room,
then stores the booking), Bob books it in Outlook. The room mailbox (AllowConflicts
off) answers each request when it reaches it: free → accepted (a room copy appears),
taken → declined (no room copy; only the organizer's event shows the answer).

A small model of the world drives the pure decisions (``reconcile`` for each delta
item of the room, ``reconcile_organizer_view`` for a Bookker booking whose room copy
has not shown up) through every interleaving of: Alice's hold, Alice's store, each
request reaching the room, delta rounds (with items in any order) and follow-up
checks. The engine's side effects are modelled as in sync/inbound/action_runner.py
and sync/inbound/mailbox_sync.py: an accepted Outlook booking claims its slot in the
ledger (taken → the room declines the copy), a declined booking frees its slot, an
item overlapping an in-flight creation is deferred (the page is not saved, so it
comes again).

The outcome, every time: exactly one of them holds the room, the one whose request
reached the room first; Bookker shows the same (the winner confirmed, the loser
declined or never created); Bookker never declines a meeting the room accepted.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bookker_sync.domain import lifecycle
from bookker_sync.domain.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OutlookRef,
    Space,
    User,
)
from bookker_sync.domain.reconcile import (
    IN_FLIGHT,
    ROOM_TOOK_ANOTHER,
    AcceptOutlookBooking,
    Action,
    DeclineRoomEvent,
    Ignore,
    InspectOrganizer,
    LocateRoomCopy,
    MarkDeclined,
    RecordCopy,
    RefreshSubject,
    RoomContext,
    reconcile,
    reconcile_organizer_view,
)
from bookker_sync.domain.remote import Attendee, RemoteEvent, Response

TENANT = "t1"
ROOM = "room-a@contoso.com"
ALICE = "alice@contoso.com"
BOB = "bob@contoso.com"
NOW = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)
TEN = datetime(2024, 5, 7, 10, 0, tzinfo=UTC)
SPACE = Space(id="room-a", tenant_id=TENANT, name="Room A", resource_email=ROOM)
USERS = {
    ALICE: User(id="alice", tenant_id=TENANT, email=ALICE),
    BOB: User(id="bob", tenant_id=TENANT, email=BOB),
}
A_SLOT = (TEN, TEN + timedelta(hours=1))
B_SHAPES = {  # Bob's meeting against Alice's 10:00-11:00
    "same-slot": (TEN, TEN + timedelta(hours=1)),
    "later-overlap": (TEN + timedelta(minutes=30), TEN + timedelta(minutes=90)),
    "inside": (TEN + timedelta(minutes=15), TEN + timedelta(minutes=45)),
}

A_HOLD, A_STORE, A_ROOM, B_ROOM, SYNC, CHECK = (
    "alice-holds", "alice-stored", "alice-reaches-room", "bob-reaches-room", "sync", "check",
)  # fmt: skip


@dataclass
class Copy:
    """The room's copy of a meeting as delta lists it."""

    remote: RemoteEvent
    version: int = 0


@dataclass
class World:
    b_slot: tuple[datetime, datetime]
    # the room
    holder: str | None = None  # "A" or "B"
    answers: dict[str, Response] = field(default_factory=dict)
    copies: dict[str, Copy] = field(default_factory=dict)  # room event id → copy
    changed: list[str] = field(default_factory=list)  # delta items not yet consumed
    # Bookker
    alice: str = "none"  # none | held | stored | refused
    store: dict[str, Booking] = field(default_factory=dict)
    ledger: dict[str, tuple[datetime, datetime, bool]] = field(default_factory=dict)  # held?
    room_declines: list[str] = field(default_factory=list)

    # -- the actors -------------------------------------------------------------------
    def alice_holds(self) -> None:
        """Bookker API: rules pass, the slot is held in the ledger (or 409)."""
        if self.alice != "none":
            return
        if any(_overlap(A_SLOT, (s, e)) for s, e, _ in self.ledger.values()):
            self.alice = "refused"  # the API answers 409: the space is already booked
            return
        self.ledger["A"] = (*A_SLOT, True)
        self.alice = "held"

    def alice_stored(self) -> None:
        """The Outlook event exists; the booking is stored and its hold confirmed."""
        if self.alice != "held":
            return
        self.store["A"] = Booking(
            id="A", tenant_id=TENANT, space_id=SPACE.id, user_id="alice",
            start=A_SLOT[0], end=A_SLOT[1], source=BookingSource.BOOKKER,
            outlook=OutlookRef(
                i_cal_uid="uid-a", organizer_mailbox=ALICE, organizer_event_id="org-a",
                resource_mailbox=ROOM,
            ),
            created_at=NOW, updated_at=NOW,
        )  # fmt: skip
        self.ledger["A"] = (*A_SLOT, False)
        self.alice = "stored"

    def reaches_room(self, who: str) -> None:
        if who in self.answers or (who == "A" and self.alice in ("none", "refused")):
            return
        if self.holder is None:
            self.holder = who
            self.answers[who] = Response.ACCEPTED
            start, end = A_SLOT if who == "A" else self.b_slot
            organizer = ALICE if who == "A" else BOB
            room_id = f"room-{who.lower()}"
            self.copies[room_id] = Copy(RemoteEvent(
                id=room_id, i_cal_uid=f"uid-{who.lower()}", change_key=f"ck-{who}-0",
                subject=organizer, start=start, end=end, organizer_email=organizer,
                response=Response.ACCEPTED, modified=NOW,
            ))  # fmt: skip
            self._touch(room_id)
        else:
            self.answers[who] = Response.DECLINED  # nothing appears on the room's calendar

    # -- the engine (mailbox_sync + action_runner) ----------------------------------------
    def sync(self, order: list[int] | None = None) -> None:
        items = list(self.changed)
        if order is not None:
            items = [items[i % len(items)] for i in order if items] + items
            items = list(dict.fromkeys(items))
        for room_id in items:
            remote = self._item(room_id)
            actions = reconcile(self._find(remote), remote, self._context(remote))
            if actions == [IN_FLIGHT]:
                return  # deferred: the page is not saved, the item comes again
            self.changed.remove(room_id)
            self._run(actions)
        self.check()

    def check(self) -> None:
        """Bookker bookings whose room copy never showed up: the organizer's event."""
        for booking in list(self.store.values()):
            if (
                booking.status is BookingStatus.CONFIRMED
                and booking.source is BookingSource.BOOKKER
                and booking.outlook.resource_event_id is None
            ):
                self._run([InspectOrganizer(booking.id)])

    def _item(self, room_id: str) -> RemoteEvent:
        copy = self.copies[room_id]
        return copy.remote

    def _find(self, remote: RemoteEvent) -> Booking | None:
        for b in self.store.values():
            if b.outlook.resource_event_id == remote.id:
                return b
        return next((b for b in self.store.values() if b.outlook.i_cal_uid == remote.i_cal_uid),
                    None)  # fmt: skip

    def _context(self, remote: RemoteEvent) -> RoomContext:
        confirmed = [b for b in self.store.values() if b.status is BookingStatus.CONFIRMED]
        organizer = USERS.get(remote.organizer_email or "")
        return RoomContext(
            tenant_id=TENANT, space=SPACE, room_mailbox=ROOM, organizer=organizer,
            organizer_bookings=[b for b in confirmed if organizer and b.user_id == organizer.id],
            space_bookings=confirmed, now=NOW,
            holds=[(s, e) for s, e, held in self.ledger.values() if held],
        )  # fmt: skip

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            match action:
                case Ignore() | RefreshSubject():
                    pass  # a Graph read that doesn't decide who holds the room
                case AcceptOutlookBooking(booking=booking, remote=remote):
                    taken = any(
                        _overlap((booking.start, booking.end), (s, e))
                        for bid, (s, e, _) in self.ledger.items() if bid != booking.id
                    )  # fmt: skip
                    if taken:
                        self._run([DeclineRoomEvent(remote.id, "slot taken")])
                    else:
                        self.ledger[booking.id] = (booking.start, booking.end, False)
                        self.store[booking.id] = booking
                case MarkDeclined(booking_id=bid, reason=reason):
                    step = lifecycle.decline(self.store[bid], reason)
                    self.store[bid] = step.booking
                    for slot in step.ledger.free:
                        self.ledger.pop(slot.booking_id, None)
                case RecordCopy(booking_id=bid, remote=remote):
                    ref = self.store[bid].outlook.model_copy(
                        update={"resource_event_id": remote.id,
                                "resource_change_key": remote.change_key})  # fmt: skip
                    self.store[bid] = self.store[bid].model_copy(update={"outlook": ref})
                case DeclineRoomEvent(room_event_id=room_id):
                    self.room_declines.append(room_id)
                    who = room_id.removeprefix("room-").upper()
                    if self.holder == who:
                        self.holder = None
                    self.answers[who] = Response.DECLINED
                    gone = self.copies.pop(room_id, None)
                    if gone is not None:
                        self.copies[room_id] = Copy(RemoteEvent(id=room_id, removed=True), 1)
                        self._touch(room_id)
                case InspectOrganizer(booking_id=bid):
                    self._run(reconcile_organizer_view(self.store[bid], self._organizer(), ROOM))
                case LocateRoomCopy(booking_id=bid):
                    if "room-a" in self.copies:
                        self._run([RecordCopy(bid, self.copies["room-a"].remote)])
                case _:
                    raise AssertionError(f"unexpected action {action!r}")

    def _organizer(self) -> RemoteEvent:
        answer = self.answers.get("A", Response.NOT_RESPONDED)
        return RemoteEvent(
            id="org-a", i_cal_uid="uid-a", start=A_SLOT[0], end=A_SLOT[1],
            organizer_email=ALICE, response=Response.ORGANIZER,
            attendees=(Attendee(ROOM, "resource", answer),),
        )  # fmt: skip

    def _touch(self, room_id: str) -> None:
        if room_id not in self.changed:
            self.changed.append(room_id)

    # -- driving ------------------------------------------------------------------------
    def step(self, kind: str, order: list[int] | None = None) -> None:
        {
            A_HOLD: self.alice_holds,
            A_STORE: self.alice_stored,
            A_ROOM: lambda: self.reaches_room("A"),
            B_ROOM: lambda: self.reaches_room("B"),
            SYNC: lambda: self.sync(order),
            CHECK: self.check,
        }[kind]()

    def settle(self) -> None:
        """Everything still on its way arrives; then the follow-up syncs run."""
        for kind in (A_STORE, A_ROOM, B_ROOM, SYNC, SYNC):
            self.step(kind)

    # -- what Bookker shows ---------------------------------------------------------------
    def confirmed(self) -> set[str]:
        return {
            "A" if b.source is BookingSource.BOOKKER else "B"
            for b in self.store.values()
            if b.status is BookingStatus.CONFIRMED
        }


def _overlap(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def first_at_room(steps: list[str]) -> str:
    """Whose request reaches the room first (Alice's only once she holds the slot and
    was not refused because Bob's booking was already in Bookker)."""
    world = World(b_slot=B_SHAPES["same-slot"])
    for kind in steps:
        world.step(kind)
        if world.holder is not None:
            return world.holder
    return "B" if world.alice == "refused" or A_ROOM not in steps else "A"


def play(steps: list[str], b_slot: tuple[datetime, datetime], orders: list[list[int]] | None = None,
         ) -> World:  # fmt: skip
    world = World(b_slot=b_slot)
    for n, kind in enumerate(steps):
        world.step(kind, orders[n] if orders else None)
        assert world.room_declines == [], "Bookker declined a meeting the room accepted"
        assert len(world.confirmed()) <= 1, "two confirmed bookings of one slot"
    world.settle()
    return world


def assert_one_winner(world: World, expected: str) -> None:
    assert world.room_declines == []
    assert world.holder == expected, (world.holder, world.answers)
    assert world.confirmed() == {expected}, world.store
    loser = "B" if expected == "A" else "A"
    assert world.answers.get(loser, Response.DECLINED) is Response.DECLINED or (
        loser == "A" and world.alice == "refused"
    )
    alice = world.store.get("A")
    if expected == "B" and alice is not None:
        assert alice.status is BookingStatus.DECLINED
        assert alice.status_reason and alice.status_reason.startswith("The room declined")
    held = {bid for bid, (_, _, is_hold) in world.ledger.items() if not is_hold}
    assert len(held) == 1  # the ledger holds exactly the winner's slot


# -- the table: named interleavings and who wins ------------------------------------------

TABLE: dict[str, tuple[list[str], str]] = {
    # Bob's request reaches the room first: Bob wins, Alice's booking is declined.
    "bob-first-then-alice-api-and-room": ([B_ROOM, A_HOLD, A_ROOM, A_STORE, SYNC], "B"),
    "bob-first-synced-before-alice-books": ([B_ROOM, SYNC, A_HOLD], "B"),  # API 409
    "alice-in-flight-when-bob-is-synced": ([A_HOLD, B_ROOM, A_ROOM, SYNC, A_STORE, SYNC], "B"),
    "bob-first-alice-answer-delayed": ([A_HOLD, A_STORE, B_ROOM, SYNC, A_ROOM, CHECK], "B"),
    "bob-first-alice-checked-before-her-answer": (
        [A_HOLD, A_STORE, B_ROOM, CHECK, SYNC, A_ROOM, CHECK],
        "B",
    ),
    # Alice's request reaches the room first: Alice wins, Bob's meeting is declined.
    "alice-first-bob-after": ([A_HOLD, A_ROOM, A_STORE, B_ROOM, SYNC], "A"),
    "alice-first-synced-while-in-flight": ([A_HOLD, A_ROOM, SYNC, B_ROOM, A_STORE, SYNC], "A"),
    "alice-first-answer-delayed": ([A_HOLD, A_STORE, SYNC, A_ROOM, B_ROOM, SYNC], "A"),
}


@pytest.mark.parametrize("shape", B_SHAPES.values(), ids=B_SHAPES.keys())
@pytest.mark.parametrize(("steps", "winner"), TABLE.values(), ids=TABLE.keys())
def test_named_interleavings(steps: list[str], winner: str, shape: tuple[datetime, datetime]):
    assert first_at_room(steps) == winner
    assert_one_winner(play(steps, shape), winner)


def test_the_displaced_bookker_booking_carries_the_rooms_reason() -> None:
    world = play([A_HOLD, A_STORE, B_ROOM, SYNC], B_SHAPES["later-overlap"])
    reason = ROOM_TOOK_ANOTHER.format(start=B_SHAPES["later-overlap"][0],
                                      end=B_SHAPES["later-overlap"][1])  # fmt: skip
    assert world.store["A"].status_reason == reason
    assert "2024-05-07 10:30 to 11:30 UTC" in reason


# -- exhaustively: every order of the five events ------------------------------------------


def _orders() -> list[tuple[str, ...]]:
    out = []
    for perm in itertools.permutations([A_HOLD, A_STORE, A_ROOM, B_ROOM, SYNC]):
        if perm.index(A_HOLD) < perm.index(A_STORE) and perm.index(A_HOLD) < perm.index(A_ROOM):
            out.append(perm)
    return out


ORDERS = _orders()


@pytest.mark.parametrize("shape", B_SHAPES.values(), ids=B_SHAPES.keys())
@pytest.mark.parametrize("steps", ORDERS, ids=["/".join(o) for o in ORDERS])
def test_every_interleaving_has_exactly_one_winner_the_first_at_the_room(
    steps: tuple[str, ...], shape: tuple[datetime, datetime]
) -> None:
    assert len(ORDERS) == 40
    assert_one_winner(play(list(steps), shape), first_at_room(list(steps)))


# -- and with repeated syncs and checks, in any delta order ---------------------------------

STEP_LISTS = st.lists(st.sampled_from([SYNC, SYNC, CHECK]), max_size=6).flatmap(
    lambda extra: st.permutations([A_HOLD, A_STORE, A_ROOM, B_ROOM, *extra])
)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(
    steps=STEP_LISTS.filter(
        lambda s: s.index(A_HOLD) < s.index(A_STORE) and s.index(A_HOLD) < s.index(A_ROOM)
    ),
    shape=st.sampled_from(list(B_SHAPES.values())),
    orders=st.lists(st.lists(st.integers(0, 3), max_size=3), min_size=12, max_size=12),
)
def test_any_interleaving_of_answers_and_delta_items(
    steps: list[str], shape: tuple[datetime, datetime], orders: list[list[int]]
) -> None:
    assert_one_winner(play(steps, shape, orders), first_at_room(steps))
