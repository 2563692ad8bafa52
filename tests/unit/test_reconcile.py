"""The inbound decision function (bookker_sync.domain.reconcile): one table per branch.

``reconcile(stored, remote, ctx)`` is pure, so every case is a stored booking (or
none), a room-calendar delta item and a context in, a list of actions out. No Azure,
no network. Properties over whole delta sequences live in test_reconcile_properties.py.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bookker_sync.domain.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OutlookRef,
    Space,
    SpaceRules,
    User,
    UserRules,
)
from bookker_sync.domain.reconcile import (
    CANCELLED_IN_OUTLOOK,
    IN_FLIGHT,
    PRIVATE_SUBJECT,
    AcceptOutlookBooking,
    Action,
    CancelBooking,
    DeclineRoomEvent,
    Ignore,
    InspectOrganizer,
    LocateRoomCopy,
    MarkDeclined,
    Reconfirm,
    RecordCopy,
    RefreshSubject,
    RevertOrganizerEvent,
    RoomContext,
    UpdateBooking,
    decline_message,
    judge,
    organizer_subject,
    outlook_booking_id,
    reconcile,
    reconcile_organizer_view,
)
from bookker_sync.domain.remote import Attendee, EventType, RemoteEvent, Response

TENANT = "t1"
ROOM = "room-a@contoso.com"
ANA = "ana@contoso.com"
NOW = datetime(2024, 5, 6, 8, 0, tzinfo=UTC)  # Monday
TUESDAY = datetime(2024, 5, 7, tzinfo=UTC)
WEEKDAYS_8_TO_18 = {
    day: [{"start": "08:00", "end": "18:00"}]
    for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
INVALID_TIMES = "The event has no valid start and end."
GRAPH_WRITES = (DeclineRoomEvent, RevertOrganizerEvent)


def at(hour: float, day: datetime = TUESDAY) -> datetime:
    return day + timedelta(hours=hour)


def make_space(**rules: Any) -> Space:
    return Space(
        id="room-a", tenant_id=TENANT, name="Room A", resource_email=ROOM,
        rules=SpaceRules(**rules),
    )  # fmt: skip


def make_user(groups: Sequence[str] = (), **rules: Any) -> User:
    return User(
        id="ana", tenant_id=TENANT, email=ANA, groups=list(groups), rules=UserRules(**rules)
    )


_NO_USER: Any = object()  # "use the default organizer", since None means "not a Bookker user"


def make_ctx(
    *,
    space: Space | None = None,
    organizer: User | None = _NO_USER,
    organizer_bookings: Sequence[Booking] = (),
    space_bookings: Sequence[Booking] = (),
    now: datetime = NOW,
    holds: Sequence[tuple[datetime, datetime]] = (),
) -> RoomContext:
    return RoomContext(
        tenant_id=TENANT,
        space=space or make_space(),
        room_mailbox=ROOM,
        organizer=make_user() if organizer is _NO_USER else organizer,
        organizer_bookings=organizer_bookings,
        space_bookings=space_bookings,
        now=now,
        holds=holds,
    )


def make_event(**fields: Any) -> RemoteEvent:
    """The room's copy of a meeting Ana booked on Tuesday 10:00-11:00, accepted."""
    values: dict[str, Any] = {
        "id": "room-evt-1",
        "i_cal_uid": "uid-1",
        "change_key": "ck-1",
        "subject": "Planning",
        "start": at(10),
        "end": at(11),
        "organizer_email": ANA,
        "response": Response.ACCEPTED,
        "modified": NOW - timedelta(minutes=5),
        "raw": {"id": "room-evt-1"},
    }
    values.update(fields)
    return RemoteEvent(**values)


def make_booking(
    booking_id: str = "bk-1",
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    source: BookingSource = BookingSource.OUTLOOK,
    status: BookingStatus = BookingStatus.CONFIRMED,
    user_id: str = "ana",
    **outlook: Any,
) -> Booking:
    """Ana's confirmed booking of Room A, Tuesday 10:00-11:00, whose room copy is known."""
    ref: dict[str, Any] = {
        "i_cal_uid": "uid-1",
        "organizer_mailbox": ANA,
        "resource_mailbox": ROOM,
        "resource_event_id": "room-evt-1",
        "resource_change_key": "ck-1",
        "resource_extension": True,
    }
    ref.update(outlook)
    return Booking(
        id=booking_id,
        tenant_id=TENANT,
        space_id="room-a",
        user_id=user_id,
        start=start or at(10),
        end=end or at(11),
        status=status,
        source=source,
        outlook=OutlookRef(**ref),
        created_at=NOW - timedelta(days=1),
        updated_at=NOW - timedelta(days=1),
    )


def other_booking(booking_id: str, start: datetime, end: datetime, **kw: Any) -> Booking:
    """A booking that has nothing to do with the event under test (another room copy)."""
    kw.setdefault("i_cal_uid", f"uid-{booking_id}")
    kw.setdefault("resource_event_id", f"room-evt-{booking_id}")
    return make_booking(booking_id, start, end, **kw)


def only(actions: list[Action], kind: type[Any]) -> Any:
    assert len(actions) == 1, actions
    assert isinstance(actions[0], kind), actions
    return actions[0]


# -- removed and cancelled items -----------------------------------------------------


GONE = {
    "@removed": RemoteEvent(id="room-evt-1", removed=True),
    "isCancelled": make_event(is_cancelled=True),
}


@pytest.mark.parametrize("remote", GONE.values(), ids=GONE.keys())
class TestGone:
    def test_unknown_booking_is_ignored(self, remote: RemoteEvent) -> None:
        assert reconcile(None, remote, make_ctx()) == [Ignore("removed event unknown to Bookker")]

    @pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.DECLINED])
    @pytest.mark.parametrize("source", list(BookingSource))
    def test_booking_no_longer_confirmed_is_ignored(
        self, remote: RemoteEvent, status: BookingStatus, source: BookingSource
    ) -> None:
        stored = make_booking(status=status, source=source)
        assert reconcile(stored, remote, make_ctx()) == [Ignore(f"booking already {status.value}")]

    def test_outlook_booking_is_cancelled(self, remote: RemoteEvent) -> None:
        stored = make_booking(source=BookingSource.OUTLOOK)
        assert reconcile(stored, remote, make_ctx()) == [
            CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)
        ]

    def test_bookker_booking_asks_the_organizers_event(self, remote: RemoteEvent) -> None:
        # cancelled by the organizer, or declined by the room: only their copy tells
        stored = make_booking(source=BookingSource.BOOKKER)
        assert reconcile(stored, remote, make_ctx()) == [InspectOrganizer("bk-1")]


@pytest.mark.parametrize("source", list(BookingSource))
def test_a_cancelled_room_copy_of_a_cancelled_booking_is_not_declined_again(
    source: BookingSource,
) -> None:
    """Rooms keep cancelled meetings (Exchange's RemoveCanceledMeetings is false by
    default): the copy still reads "accepted" but it is cancelled, not held, so it is
    not a lost outbound write to repeat (Graph refuses to answer a cancelled meeting)."""
    stored = make_booking(status=BookingStatus.CANCELLED, source=source)
    remote = make_event(change_key="ck-2", is_cancelled=True, subject="Canceled: Ana")
    assert reconcile(stored, remote, make_ctx()) == [Ignore("booking already cancelled")]


def test_a_cancelled_room_copy_cancels_a_confirmed_outlook_booking_whatever_it_says() -> None:
    # a cancelled copy keeps the room's "accepted" and may carry new times: still gone
    stored = make_booking(source=BookingSource.OUTLOOK)
    remote = make_event(change_key="ck-2", is_cancelled=True, start=at(12), end=at(13))
    assert reconcile(stored, remote, make_ctx()) == [CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)]


def test_removed_marker_wins_over_everything_else() -> None:
    # even a removal that still carries a rule-breaking time is just a removal
    remote = make_event(removed=True, start=at(10), end=at(9), response=Response.DECLINED)
    assert reconcile(None, remote, make_ctx(organizer=None)) == [
        Ignore("removed event unknown to Bookker")
    ]


# -- new events: before the rules ------------------------------------------------------


def test_new_event_the_room_declined_is_ignored() -> None:
    remote = make_event(response=Response.DECLINED)
    assert reconcile(None, remote, make_ctx()) == [Ignore("the room already declined it")]


@pytest.mark.parametrize(
    "response", [Response.NONE, Response.NOT_RESPONDED, Response.TENTATIVE], ids=str
)
def test_new_event_the_room_has_not_answered_yet_waits(response: Response) -> None:
    # even a rule-breaking one: the attendant's answer changes the event, delta brings it
    remote = make_event(response=response, start=at(10), end=at(23))
    ctx = make_ctx(organizer=None)
    assert reconcile(None, remote, ctx) == [Ignore("awaiting the room's answer")]


@pytest.mark.parametrize(
    ("start", "end"),
    [(None, at(11)), (at(10), None), (None, None), (at(10), at(10)), (at(11), at(10))],
    ids=["no-start", "no-end", "no-times", "zero-length", "ends-before-start"],
)
def test_new_event_without_valid_times_is_declined(
    start: datetime | None, end: datetime | None
) -> None:
    remote = make_event(start=start, end=end)
    assert reconcile(None, remote, make_ctx()) == [DeclineRoomEvent("room-evt-1", INVALID_TIMES)]


@pytest.mark.parametrize("email", [ROOM, ROOM.upper()])
def test_new_event_organized_by_the_room_itself_is_ignored(email: str) -> None:
    remote = make_event(organizer_email=email)
    assert reconcile(None, remote, make_ctx(organizer=None)) == [
        Ignore("organized by the room itself")
    ]


def test_new_event_on_an_in_flight_bookker_slot_is_ignored() -> None:
    # the room copy of a Bookker booking being created right now: not a new booking
    ctx = make_ctx(holds=[(at(8), at(9)), (at(10), at(11))])
    assert reconcile(None, make_event(), ctx) == [
        Ignore("a Bookker booking for this slot is being created")
    ]


def test_a_hold_for_another_slot_does_not_hide_a_new_event() -> None:
    ctx = make_ctx(holds=[(at(11), at(12)), (at(9, TUESDAY + timedelta(days=1)), at(10))])
    actions = reconcile(None, make_event(), ctx)
    assert [type(a) for a in actions] == [AcceptOutlookBooking, RefreshSubject]


def test_an_overlapping_hold_defers_a_new_event_until_the_booking_is_stored() -> None:
    # Another meeting the room accepted while Bookker creates a booking on an
    # overlapping slot: neither may be judged before Bookker's booking is stored (the
    # room's answer decides, see test_reconcile_arbitration.py).
    ctx = make_ctx(holds=[(at(10.5), at(12))])
    assert reconcile(None, make_event(), ctx) == [IN_FLIGHT]


# -- new events: the rules -------------------------------------------------------------


_WEEK_LATER = TUESDAY + timedelta(days=7)
RULE_CASES: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    # id: (rule key, context overrides, event overrides)
    "access-not-a-bookker-user": ("access", {"organizer": None}, {}),
    "access-by-group": (
        "access",
        {
            "space": make_space(allowed_groups=["facilities", "board"]),
            "organizer": make_user(groups=["sales"]),
        },
        {},
    ),
    "openingHours-ends-after-closing": (
        "openingHours",
        {"space": make_space(opening_hours=WEEKDAYS_8_TO_18)},
        {"start": at(17.5), "end": at(18.5)},
    ),
    "openingHours-closed-day": (
        "openingHours",
        {"space": make_space(opening_hours=WEEKDAYS_8_TO_18)},
        {"start": at(10, TUESDAY + timedelta(days=4)), "end": at(11, TUESDAY + timedelta(days=4))},
    ),
    "minMinutes": ("minMinutes", {"space": make_space(min_minutes=30)}, {"end": at(10.25)}),
    "maxMinutes": ("maxMinutes", {"space": make_space(max_minutes=60)}, {"end": at(11.5)}),
    "bookingWindowDays": (
        "bookingWindowDays",
        {"space": make_space(booking_window_days=7)},
        {"start": at(10, _WEEK_LATER), "end": at(11, _WEEK_LATER)},
    ),
    "past": ("past", {}, {"start": NOW - timedelta(hours=1), "end": NOW, "modified": None}),
    "past-modified-after-start": (
        "past",
        {"now": at(10, TUESDAY) + timedelta(minutes=1)},
        {"modified": at(10) + timedelta(seconds=30)},
    ),
    "maxBookingsPerDay": (
        "maxBookingsPerDay",
        {
            "organizer": make_user(max_bookings_per_day=1),
            "organizer_bookings": [other_booking("bk-other-room", at(14), at(15))],
        },
        {},
    ),
    "maxMinutesPerBooking": (
        "maxMinutesPerBooking",
        {"organizer": make_user(max_minutes_per_booking=45)},
        {},
    ),
    "conflict": (
        "conflict",
        {"space_bookings": [other_booking("bk-2", at(10.5), at(11.5))]},
        {},
    ),
}


@pytest.mark.parametrize(("rule", "ctx_kw", "event_kw"), RULE_CASES.values(), ids=RULE_CASES.keys())
def test_new_event_breaking_a_rule_is_declined_with_the_rules_message(
    rule: str, ctx_kw: dict[str, Any], event_kw: dict[str, Any]
) -> None:
    actions = reconcile(None, make_event(**event_kw), make_ctx(**ctx_kw))

    decline = only(actions, DeclineRoomEvent)
    assert decline.room_event_id == "room-evt-1"
    assert [v.rule for v in decline.violations] == [rule]
    assert decline.violations[0].message in decline.reason
    assert decline.reason == decline_message(decline.violations)
    assert decline.reason.startswith("Declined by Bookker: ")


def test_the_conflict_message_names_the_space_and_the_first_clash() -> None:
    ctx = make_ctx(
        space_bookings=[
            other_booking("bk-3", at(10.75), at(12)),
            other_booking("bk-2", at(9.5), at(10.5)),
            other_booking("bk-4", at(10.5), at(10.75)),
        ]
    )
    decline = only(reconcile(None, make_event(), ctx), DeclineRoomEvent)
    assert decline.violations[0].rule == "conflict"
    assert decline.violations[0].message == (
        "Room A is already booked from 2024-05-07 09:30 to 10:30 UTC."
    )


@pytest.mark.parametrize(
    "neighbour",
    [
        other_booking("bk-before", at(9), at(10)),  # touching is not overlapping
        other_booking("bk-after", at(11), at(12)),
        other_booking("bk-cancelled", at(10), at(11), status=BookingStatus.CANCELLED),
        other_booking("bk-declined", at(10), at(11), status=BookingStatus.DECLINED),
    ],
    ids=["ends-at-start", "starts-at-end", "cancelled", "declined"],
)
def test_no_conflict_with_touching_or_inactive_bookings(neighbour: Booking) -> None:
    actions = reconcile(None, make_event(), make_ctx(space_bookings=[neighbour]))
    assert [type(a) for a in actions] == [AcceptOutlookBooking, RefreshSubject]


def test_every_broken_rule_is_reported_in_one_decline() -> None:
    ctx = make_ctx(
        space=make_space(max_minutes=60, opening_hours=WEEKDAYS_8_TO_18),
        organizer=make_user(max_minutes_per_booking=90),
        space_bookings=[other_booking("bk-2", at(16), at(17))],
    )
    decline = only(reconcile(None, make_event(start=at(15), end=at(19)), ctx), DeclineRoomEvent)
    assert [v.rule for v in decline.violations] == [
        "openingHours", "maxMinutes", "maxMinutesPerBooking", "conflict",
    ]  # fmt: skip
    for violation in decline.violations:
        assert violation.message in decline.reason


# -- "past" is judged when the change was made -------------------------------------------


SYNCED_AT = at(10) + timedelta(minutes=1)  # the sync runs a minute after the start


@pytest.mark.parametrize(
    ("modified", "accepted"),
    [
        (at(10) - timedelta(minutes=1), True),  # booked at 09:59 for 10:00
        (at(10), True),  # booked right at the start
        (at(10) + timedelta(seconds=30), False),  # booked after it started
        (None, False),  # unknown: judged now
        (SYNCED_AT + timedelta(hours=1), False),  # a clock ahead of ours: judged now
    ],
    ids=["before-start", "at-start", "after-start", "unknown", "in-the-future"],
)
def test_a_new_event_is_judged_at_its_modification_time(
    modified: datetime | None, accepted: bool
) -> None:
    actions = reconcile(None, make_event(modified=modified), make_ctx(now=SYNCED_AT))
    if accepted:
        assert [type(a) for a in actions] == [AcceptOutlookBooking, RefreshSubject]
    else:
        assert [v.rule for v in only(actions, DeclineRoomEvent).violations] == ["past"]


def test_a_move_is_judged_at_its_modification_time_too() -> None:
    stored = make_booking(start=at(12), end=at(13))
    remote = make_event(change_key="ck-2", modified=at(10) - timedelta(minutes=1))
    assert isinstance(reconcile(stored, remote, make_ctx(now=SYNCED_AT))[0], UpdateBooking)
    late = replace(remote, modified=at(10) + timedelta(seconds=1))
    assert isinstance(reconcile(stored, late, make_ctx(now=SYNCED_AT))[0], RevertOrganizerEvent)


# -- new events: accepted ------------------------------------------------------------------


def test_a_valid_new_event_becomes_an_outlook_booking_without_any_graph_write() -> None:
    remote = make_event()
    actions = reconcile(None, remote, make_ctx())

    # the room already holds it: nothing to write to Graph; the organizer's subject is
    # read once, from their event (the room's copy shows the organizer's name instead)
    accept, refresh = actions
    assert isinstance(accept, AcceptOutlookBooking)
    booking = accept.booking
    assert booking.id == outlook_booking_id(TENANT, ROOM, "room-evt-1")
    assert refresh == RefreshSubject(booking.id)
    assert accept.remote is remote
    assert booking.model_dump() == {
        **booking.model_dump(),
        "tenant_id": TENANT,
        "space_id": "room-a",
        "user_id": "ana",
        "start": at(10),
        "end": at(11),
        "subject": "Planning",
        "status": BookingStatus.CONFIRMED,
        "status_reason": None,
        "source": BookingSource.OUTLOOK,
        "series_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert booking.outlook == OutlookRef(
        i_cal_uid="uid-1",
        organizer_mailbox=ANA,
        resource_mailbox=ROOM,
        resource_event_id="room-evt-1",
        resource_change_key="ck-1",
        resource_extension=False,
    )


def test_the_booking_id_is_the_same_on_every_sighting() -> None:
    first = reconcile(None, make_event(), make_ctx())[0]
    later = make_ctx(now=NOW + timedelta(hours=1))
    again = reconcile(None, make_event(change_key="ck-9"), later)[0]
    assert isinstance(first, AcceptOutlookBooking) and isinstance(again, AcceptOutlookBooking)
    assert first.booking.id == again.booking.id
    other = reconcile(None, make_event(id="room-evt-2"), make_ctx())[0]
    assert isinstance(other, AcceptOutlookBooking)
    assert other.booking.id != first.booking.id


@pytest.mark.parametrize("kind", [EventType.OCCURRENCE, EventType.EXCEPTION], ids=str)
def test_an_occurrence_is_linked_to_its_series(kind: EventType) -> None:
    remote = make_event(type=kind, series_master_id="room-master-1")
    accept = reconcile(None, remote, make_ctx())[0]
    assert isinstance(accept, AcceptOutlookBooking)
    assert accept.booking.series_id == "room-master-1"
    assert accept.booking.outlook.resource_series_master_id == "room-master-1"


# -- series: occurrence by occurrence ------------------------------------------------------


def _weekly(count: int, first: datetime, **overrides: dict[str, Any]) -> list[RemoteEvent]:
    """Room copies of a weekly 10:00-11:00 series; ``overrides`` by occurrence id."""
    events = []
    for n in range(count):
        day = first + timedelta(weeks=n)
        occurrence_id = f"room-occ-{n}"
        fields: dict[str, Any] = {
            "id": occurrence_id,
            "i_cal_uid": f"uid-occ-{n}",
            "change_key": f"ck-occ-{n}",
            "type": EventType.OCCURRENCE,
            "series_master_id": "room-master-1",
            "start": day + timedelta(hours=10),
            "end": day + timedelta(hours=11),
        }
        fields.update(overrides.get(occurrence_id, {}))
        events.append(make_event(**fields))
    return events


def _process_one_by_one(events: list[RemoteEvent], ctx: RoomContext) -> list[list[Action]]:
    """Each occurrence is a delta item of its own; accepted ones join the context."""
    outcomes: list[list[Action]] = []
    accepted: list[Booking] = []
    for event in events:
        current = replace(ctx, space_bookings=list(accepted), organizer_bookings=list(accepted))
        actions = reconcile(None, event, current)
        accepted += [a.booking for a in actions if isinstance(a, AcceptOutlookBooking)]
        outcomes.append(actions)
    return outcomes


THURSDAY = datetime(2024, 5, 9, tzinfo=UTC)  # three days after NOW
SERIES_CASES: dict[str, tuple[str, Space, dict[str, Any], set[str]]] = {
    # id: (rule, space, overrides by occurrence id, the occurrences that break it)
    "bookingWindowDays": (  # the last two start beyond the 30-day window
        "bookingWindowDays",
        make_space(booking_window_days=30),
        {},
        {"room-occ-4", "room-occ-5"},
    ),
    "openingHours": (  # two exceptions were moved to the evening, when the room is closed
        "openingHours",
        make_space(opening_hours=WEEKDAYS_8_TO_18),
        {
            f"room-occ-{n}": {
                "type": EventType.EXCEPTION,
                "start": THURSDAY + timedelta(weeks=n, hours=19),
                "end": THURSDAY + timedelta(weeks=n, hours=20),
            }
            for n in (1, 3)
        },
        {"room-occ-1", "room-occ-3"},
    ),
}


@pytest.mark.parametrize(
    ("rule", "space", "overrides", "breaking"), SERIES_CASES.values(), ids=SERIES_CASES.keys()
)
def test_a_series_of_six_with_two_bad_occurrences_declines_exactly_those_two(
    rule: str, space: Space, overrides: dict[str, Any], breaking: set[str]
) -> None:
    events = _weekly(6, THURSDAY, **overrides)

    outcomes = _process_one_by_one(events, make_ctx(space=space))

    booking_ids = set()
    for event, actions in zip(events, outcomes, strict=True):
        if event.id in breaking:
            decline = only(actions, DeclineRoomEvent)
            assert decline.room_event_id == event.id
            assert [v.rule for v in decline.violations] == [rule]
        else:
            accept, _refresh = actions
            assert isinstance(accept, AcceptOutlookBooking)
            assert accept.booking.id == outlook_booking_id(TENANT, ROOM, event.id)
            assert (accept.booking.start, accept.booking.end) == (event.start, event.end)
            assert accept.booking.series_id == "room-master-1"
            assert accept.booking.outlook.i_cal_uid == event.i_cal_uid
            booking_ids.add(accept.booking.id)
    declined = [a for actions in outcomes for a in actions if isinstance(a, DeclineRoomEvent)]
    assert len(declined) == 2
    assert len(booking_ids) == 4


def test_series_occurrences_count_towards_the_daily_limit_one_by_one() -> None:
    # two occurrences on the same day (an exception moved onto another's day) with a
    # limit of one booking a day: the first accepted, the second declined
    events = _weekly(3, THURSDAY, **{
        "room-occ-1": {
            "type": EventType.EXCEPTION,
            "start": THURSDAY + timedelta(hours=14),
            "end": THURSDAY + timedelta(hours=15),
        },
    })  # fmt: skip
    outcomes = _process_one_by_one(events, make_ctx(organizer=make_user(max_bookings_per_day=1)))
    assert [type(actions[0]) for actions in outcomes] == [
        AcceptOutlookBooking, DeclineRoomEvent, AcceptOutlookBooking,
    ]  # fmt: skip
    assert [v.rule for v in only(outcomes[1], DeclineRoomEvent).violations] == ["maxBookingsPerDay"]


def test_colliding_events_first_come_first_served() -> None:
    # Two valid events on the same slot (the store lags behind the room): whichever is
    # processed first wins and the other is declined. That is why reordering delta
    # items is only outcome-neutral across events that don't compete for a slot or a
    # daily quota (see test_reconcile_properties.py).
    a = make_event(id="room-evt-a", i_cal_uid="uid-a")
    b = make_event(id="room-evt-b", i_cal_uid="uid-b", start=at(10.5), end=at(11.5))
    for first, second in ((a, b), (b, a)):
        accept = reconcile(None, first, make_ctx())[0]
        assert isinstance(accept, AcceptOutlookBooking)
        loser = reconcile(None, second, make_ctx(space_bookings=[accept.booking]))
        assert only(loser, DeclineRoomEvent).room_event_id == second.id


# -- known events ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "remote",
    [make_event(change_key="ck-2"), make_event(change_key="ck-2", start=at(12), end=at(13))],
    ids=["same-times", "moved"],
)
def test_a_declined_booking_the_room_holds_again_is_reconfirmed(remote: RemoteEvent) -> None:
    """The organizer moved a declined meeting to a free slot and the room accepted it."""
    stored = make_booking(status=BookingStatus.DECLINED)
    assert remote.start is not None and remote.end is not None
    assert reconcile(stored, remote, make_ctx()) == [
        Reconfirm(stored.id, remote.start, remote.end, remote)
    ]


def test_a_declined_booking_taken_back_into_a_rule_break_is_declined_again() -> None:
    stored = make_booking(status=BookingStatus.DECLINED)
    remote = make_event(change_key="ck-2", start=at(10), end=at(16))  # longer than allowed
    actions = reconcile(stored, remote, make_ctx(space=make_space(max_minutes=60)))
    assert [type(a) for a in actions] == [DeclineRoomEvent]


@pytest.mark.parametrize("response", [Response.NONE, Response.TENTATIVE, Response.DECLINED])
def test_a_declined_booking_is_otherwise_left_alone(response: Response) -> None:
    stored = make_booking(status=BookingStatus.DECLINED)
    remote = make_event(change_key="ck-2", response=response)
    assert reconcile(stored, remote, make_ctx()) == [Ignore("booking already declined")]


@pytest.mark.parametrize("reason", [None, "Released: nobody checked in"])
def test_a_cancelled_booking_still_held_by_the_room_is_declined(reason: str | None) -> None:
    """The outbound write was lost (e.g. a crash): the room copy goes, with the reason."""
    stored = make_booking(status=BookingStatus.CANCELLED).model_copy(
        update={"status_reason": reason}
    )
    remote = make_event(change_key="ck-2")
    expected = reason or "Cancelled in Bookker"
    assert reconcile(stored, remote, make_ctx()) == [DeclineRoomEvent(remote.id, expected)]


@pytest.mark.parametrize(
    "response", [Response.NONE, Response.TENTATIVE, Response.DECLINED, Response.NOT_RESPONDED]
)
def test_a_cancelled_booking_with_an_unaccepted_copy_is_left_alone(response: Response) -> None:
    stored = make_booking(status=BookingStatus.CANCELLED)
    remote = make_event(change_key="ck-2", response=response)
    assert reconcile(stored, remote, make_ctx()) == [Ignore("booking already cancelled")]


@pytest.mark.parametrize("source", list(BookingSource))
def test_the_room_declining_a_known_booking_marks_it_declined(source: BookingSource) -> None:
    stored = make_booking(source=source)
    for remote in (make_event(response=Response.DECLINED), make_event(
        response=Response.DECLINED, change_key="ck-2", start=at(12), end=at(13)
    )):  # fmt: skip
        assert reconcile(stored, remote, make_ctx()) == [
            MarkDeclined("bk-1", "The room declined the booking.")
        ]


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        (
            make_booking(source=BookingSource.BOOKKER),
            [Ignore("echo: this version is already stored")],
        ),
        (
            make_booking(source=BookingSource.OUTLOOK),
            [Ignore("echo: this version is already stored")],
        ),
        (
            make_booking(source=BookingSource.OUTLOOK, resource_extension=False),
            [Ignore("echo: this version is already stored")],
        ),
        (
            make_booking(source=BookingSource.BOOKKER, resource_extension=False),
            [Ignore("echo: this version is already stored")],
        ),
    ],
    ids=["bookker", "outlook", "outlook-without-extension", "bookker-without-extension"],
)
def test_an_echo_of_the_stored_version_costs_nothing(
    stored: Booking, expected: list[Action]
) -> None:
    # the changeKey we stored: nothing to judge, even with rules that would now fail
    ctx = make_ctx(organizer=None, now=at(12))
    assert reconcile(stored, make_event(), ctx) == expected


def test_a_new_version_without_times_is_ignored() -> None:
    remote = make_event(change_key="ck-2", start=None, end=None)
    assert reconcile(make_booking(), remote, make_ctx()) == [Ignore("no times on the event")]


@pytest.mark.parametrize(
    ("stored", "extension"),
    [
        (make_booking(), []),
        (make_booking(resource_extension=False), []),
        (make_booking(source=BookingSource.BOOKKER, resource_extension=False), []),
    ],
    ids=["outlook", "outlook-without-extension", "bookker"],
)
def test_a_new_version_with_the_same_times_is_recorded(
    stored: Booking, extension: list[Action]
) -> None:
    remote = make_event(change_key="ck-2", subject="Renamed")
    # same times: not judged again (the rules may have changed since it was booked)
    ctx = make_ctx(space=make_space(max_minutes=30), organizer=None)
    actions = reconcile(stored, remote, ctx)
    # a new version with the same times: the organizer changed something else (the
    # subject, which the room's copy hides): their event is read for it
    assert actions == [RecordCopy("bk-1", remote), RefreshSubject("bk-1"), *extension]
    assert isinstance(actions[0], RecordCopy) and actions[0].remote is remote


def test_a_bookker_bookings_room_copy_first_seen_by_icaluid_is_recorded_without_writes() -> None:
    # Bookker created the organizer's event; the room's copy has its own id, unknown
    # to us until now, and matched by iCalUId.
    stored = make_booking(
        source=BookingSource.BOOKKER, resource_event_id=None, resource_change_key=None,
        resource_extension=False,
    )  # fmt: skip
    remote = make_event(id="room-copy-77", change_key="ck-room-1")
    actions = reconcile(stored, remote, make_ctx())
    assert actions == [RecordCopy("bk-1", remote)]
    assert not [a for a in actions if isinstance(a, GRAPH_WRITES)]


@pytest.mark.parametrize(
    ("stored", "extension"),
    [
        (make_booking(), []),
        (make_booking(resource_extension=False), []),
        (make_booking(source=BookingSource.BOOKKER), []),
    ],
    ids=["outlook", "outlook-without-extension", "bookker"],
)
def test_an_allowed_move_is_stored(stored: Booking, extension: list[Action]) -> None:
    remote = make_event(change_key="ck-2", start=at(14), end=at(15.5))
    actions = reconcile(stored, remote, make_ctx(space=make_space(max_minutes=120)))
    assert actions == [
        UpdateBooking("bk-1", at(14), at(15.5), remote), RefreshSubject("bk-1"), *extension,
    ]  # fmt: skip


def test_a_move_over_its_own_old_slot_is_no_conflict() -> None:
    stored = make_booking()
    remote = make_event(change_key="ck-2", start=at(10.5), end=at(11.5))
    ctx = make_ctx(
        space_bookings=[stored, other_booking("bk-2", at(11.5), at(12))],
        organizer=make_user(max_bookings_per_day=1),
        organizer_bookings=[stored],  # the booking being moved doesn't count against itself
    )
    assert reconcile(stored, remote, ctx) == [
        UpdateBooking("bk-1", at(10.5), at(11.5), remote), RefreshSubject("bk-1"),
    ]  # fmt: skip


def test_a_copy_listed_under_the_same_room_event_is_no_conflict() -> None:
    # a second record pointing at the same room copy (e.g. a stale duplicate) is the
    # event itself, not a competitor
    stored = make_booking()
    twin = make_booking("bk-twin", at(9), at(12))
    remote = make_event(change_key="ck-2", start=at(10.5), end=at(11.5))
    assert isinstance(reconcile(stored, remote, make_ctx(space_bookings=[twin]))[0], UpdateBooking)


MOVE_CASES: dict[str, tuple[str, dict[str, Any], tuple[datetime, datetime]]] = {
    "conflict": (
        "conflict",
        {"space_bookings": [make_booking(), other_booking("bk-2", at(14), at(15))]},
        (at(14.5), at(15.5)),
    ),
    "maxMinutes": ("maxMinutes", {"space": make_space(max_minutes=60)}, (at(10), at(12))),
    "openingHours": (
        "openingHours",
        {"space": make_space(opening_hours=WEEKDAYS_8_TO_18)},
        (at(18), at(19)),
    ),
    "past": ("past", {"now": at(13)}, (at(12), at(14))),
    "access": ("access", {"organizer": None}, (at(12), at(13))),
    "maxBookingsPerDay": (
        "maxBookingsPerDay",
        {
            "organizer": make_user(max_bookings_per_day=1),
            "organizer_bookings": [
                make_booking(),
                other_booking("bk-next", at(9, _WEEK_LATER), at(10, _WEEK_LATER)),
            ],
        },
        (at(10, _WEEK_LATER), at(11, _WEEK_LATER)),
    ),
}


@pytest.mark.parametrize(("rule", "ctx_kw", "times"), MOVE_CASES.values(), ids=MOVE_CASES.keys())
def test_a_disallowed_move_reverts_the_organizers_event(
    rule: str, ctx_kw: dict[str, Any], times: tuple[datetime, datetime]
) -> None:
    stored = make_booking(resource_extension=False)
    remote = make_event(change_key="ck-2", start=times[0], end=times[1], modified=None)
    ctx = make_ctx(**ctx_kw)

    revert = only(reconcile(stored, remote, ctx), RevertOrganizerEvent)

    assert revert.booking_id == "bk-1"
    assert (revert.restore_start, revert.restore_end) == (at(10), at(11))
    assert (revert.rejected_start, revert.rejected_end) == times
    violations = judge(remote, ctx, ignore_id="bk-1")
    assert [v.rule for v in violations] == [rule]
    assert revert.reason == decline_message(violations)
    assert violations[0].message in revert.reason


def test_a_reverts_reason_names_the_clash() -> None:
    ctx = make_ctx(space_bookings=[make_booking(), other_booking("bk-2", at(14), at(15))])
    remote = make_event(change_key="ck-2", start=at(14.5), end=at(15.5))
    revert = only(reconcile(make_booking(), remote, ctx), RevertOrganizerEvent)
    assert revert.reason == (
        "Declined by Bookker: Room A is already booked from 2024-05-07 14:00 to 15:00 UTC."
    )


@pytest.mark.parametrize(
    ("start", "end"), [(at(12), at(12)), (at(13), at(12))], ids=["zero-length", "reversed"]
)
def test_a_move_to_invalid_times_is_reverted(start: datetime, end: datetime) -> None:
    stored = make_booking()
    remote = make_event(change_key="ck-2", start=start, end=end)
    assert reconcile(stored, remote, make_ctx()) == [
        RevertOrganizerEvent(
            "bk-1", at(10), at(11), start, end, f"Declined by Bookker: {INVALID_TIMES}"
        )
    ]


def test_a_move_before_the_room_answers_is_still_judged() -> None:
    # once known, a moved copy waiting for the room's answer is judged like any move
    stored = make_booking()
    remote = make_event(change_key="ck-2", start=at(12), end=at(13), response=Response.NONE)
    assert reconcile(stored, remote, make_ctx()) == [
        UpdateBooking("bk-1", at(12), at(13), remote), RefreshSubject("bk-1"),
    ]  # fmt: skip


# -- the organizer's subject, private meetings ------------------------------------------------


def test_an_echo_reads_no_subject() -> None:
    # a changeKey we stored: nothing changed, nothing is read (no read per sync)
    assert reconcile(make_booking(), make_event(), make_ctx()) == [
        Ignore("echo: this version is already stored")
    ]


def test_a_private_meeting_is_stored_as_private_meeting() -> None:
    remote = make_event(private=True, subject="")
    accept = reconcile(None, remote, make_ctx())[0]
    assert isinstance(accept, AcceptOutlookBooking)
    assert accept.booking.subject == PRIVATE_SUBJECT


ORGANIZER_SUBJECTS = {
    "renamed": (make_booking(), make_event(subject="Budget review"), "Budget review"),
    "unchanged": (make_booking().model_copy(update={"subject": "Budget review"}),
                  make_event(subject="Budget review"), None),
    "made-private": (make_booking().model_copy(update={"subject": "Budget review"}),
                     make_event(subject="", private=True), PRIVATE_SUBJECT),
    "still-private": (make_booking().model_copy(update={"subject": PRIVATE_SUBJECT}),
                      make_event(subject="", private=True), None),
    "organizer-event-gone": (make_booking(), None, None),
    "removed": (make_booking(), RemoteEvent(id="org-1", removed=True), None),
}  # fmt: skip


@pytest.mark.parametrize(
    ("stored", "organizer", "expected"), ORGANIZER_SUBJECTS.values(), ids=ORGANIZER_SUBJECTS.keys()
)
def test_the_subject_comes_from_the_organizers_event(
    stored: Booking, organizer: RemoteEvent | None, expected: str | None
) -> None:
    assert organizer_subject(stored, organizer) == expected


# -- reconcile_organizer_view ---------------------------------------------------------------


def organizer_event(*attendees: Attendee, **fields: Any) -> RemoteEvent:
    return make_event(id="org-evt-1", response=Response.ORGANIZER, attendees=attendees, **fields)


def room(response: Response, email: str = ROOM) -> Attendee:
    return Attendee(email=email, kind="resource", response=response)


BOB = Attendee(email="bob@contoso.com", kind="required", response=Response.ACCEPTED)
PENDING = make_booking(source=BookingSource.BOOKKER, resource_event_id=None)
RECORDED = make_booking(source=BookingSource.BOOKKER)

ORGANIZER_CASES: dict[str, tuple[Booking, RemoteEvent | None, list[Action]]] = {
    "event-gone": (RECORDED, None, [CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)]),
    "event-removed": (
        RECORDED,
        RemoteEvent(id="org-evt-1", removed=True),
        [CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)],
    ),
    "event-cancelled": (
        RECORDED,
        organizer_event(room(Response.ACCEPTED), is_cancelled=True),
        [CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)],
    ),
    "room-removed-from-meeting": (
        RECORDED,
        organizer_event(BOB),
        [CancelBooking("bk-1", "The room was removed from the meeting in Outlook")],
    ),
    "room-declined": (
        RECORDED,
        organizer_event(BOB, room(Response.DECLINED)),
        [MarkDeclined("bk-1", "The room declined the booking (it is not available).")],
    ),
    "room-declined-mailbox-case": (
        PENDING,
        organizer_event(room(Response.DECLINED, ROOM.upper())),
        [MarkDeclined("bk-1", "The room declined the booking (it is not available).")],
    ),
    "room-accepted-copy-unknown": (
        PENDING,
        organizer_event(BOB, room(Response.ACCEPTED)),
        [LocateRoomCopy("bk-1")],
    ),
    "room-accepted-copy-known": (
        RECORDED,
        organizer_event(room(Response.ACCEPTED)),
        [Ignore("the room's answer is accepted")],
    ),
    "room-tentative": (
        PENDING,
        organizer_event(room(Response.TENTATIVE)),
        [Ignore("the room's answer is tentativelyAccepted")],
    ),
    "room-not-answered": (
        PENDING,
        organizer_event(room(Response.NONE)),
        [Ignore("the room's answer is none")],
    ),
}


@pytest.mark.parametrize(
    ("stored", "event", "expected"), ORGANIZER_CASES.values(), ids=ORGANIZER_CASES.keys()
)
def test_organizer_view(stored: Booking, event: RemoteEvent | None, expected: list[Action]) -> None:
    assert reconcile_organizer_view(stored, event, ROOM) == expected


@pytest.mark.parametrize("status", [BookingStatus.CANCELLED, BookingStatus.DECLINED])
@pytest.mark.parametrize(
    "event",
    [None, organizer_event(BOB), organizer_event(room(Response.DECLINED))],
    ids=["gone", "room-removed", "room-declined"],
)
def test_organizer_view_leaves_bookings_no_longer_confirmed_alone(
    status: BookingStatus, event: RemoteEvent | None
) -> None:
    stored = make_booking(source=BookingSource.BOOKKER, status=status)
    assert reconcile_organizer_view(stored, event, ROOM) == [
        Ignore(f"booking already {status.value}")
    ]


# -- outlook_booking_id --------------------------------------------------------------------------


def test_outlook_booking_id_is_a_stable_uuid_and_ignores_mailbox_case() -> None:
    first = outlook_booking_id(TENANT, ROOM, "AAMkAGI2=")
    assert first == outlook_booking_id(TENANT, ROOM.upper(), "AAMkAGI2=")
    assert uuid.UUID(first).version == 5
    assert len({
        first,
        outlook_booking_id("t2", ROOM, "AAMkAGI2="),
        outlook_booking_id(TENANT, "room-b@contoso.com", "AAMkAGI2="),
        outlook_booking_id(TENANT, ROOM, "AAMkAGI3="),
        outlook_booking_id(TENANT, ROOM, "aamkagi2="),  # Graph ids are case-sensitive
    }) == 5  # fmt: skip
