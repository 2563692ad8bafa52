"""Properties of reconcile over whole sequences of room-calendar delta items.

A small in-test *model* of the engine (sync/mailbox_sync.py + sync/apply_actions.py)
feeds each item to ``reconcile`` with a context built from an in-memory store, and
applies the actions the way apply_actions.py does: Accept stores the booking,
UpdateBooking moves it, CancelBooking / MarkDeclined set its status, RecordCopy
remembers the room copy's id and changeKey; Graph-side
actions (decline, revert, reads) are only recorded. There is deliberately no ledger:
slot conflicts must be caught by reconcile's own conflict rule.

Histories are drawn on a small grid (30-minute slots over three days) with a few
organizers (Bookker users with and without limits, a non-member of the allowed group,
an outsider, the room itself), several versions per event (moves, cancellations,
@removed, answers of the room) and Bookker bookings whose room copy is seen for the
first time, so slots and daily quotas collide often.

What "reordering" may change. Delta gives each item's latest state, so versions of one
event arrive in order, but items of different events may come in any order. Bookker
decides first come, first served: when two events compete for one slot (or for a
daily quota), the one processed first wins, whatever the order, and that is correct
(test_reconcile.py::test_colliding_events_first_come_first_served). So the order
properties reorder freely across events that *don't* compete (no version of one
overlaps any version of the other, no shared daily quota on a common day) and keep
the relative order of those that do. In that sense every "same outcome" below is
exact: same store, same Graph writes.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bookker_sync.domain.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OutlookRef,
    Space,
    SpaceRules,
    TimeRange,
    User,
    UserRules,
)
from bookker_sync.domain.reconcile import (
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
    RevertOrganizerEvent,
    RoomContext,
    UpdateBooking,
    outlook_booking_id,
    reconcile,
)
from bookker_sync.domain.remote import EventType, RemoteEvent, Response

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

TENANT = "t1"
ROOM = "room-a@contoso.com"
NOW = datetime(2024, 5, 6, 9, 0, tzinfo=UTC)  # Monday 09:00
GRID = datetime(2024, 5, 6, 7, 0, tzinfo=UTC)  # slot 0: Monday 07:00
SLOT = timedelta(minutes=30)
SLOTS_PER_DAY = 26  # 07:00-20:00
DAYS = 3  # Monday to Wednesday
SLOTS = SLOTS_PER_DAY * DAYS
HOT = [6, 7, 8, 10, 32, 33, 36]  # Monday 10:00-12:00, Tuesday 10:00-11:00: crowded
SPACE = Space(
    id="room-a",
    tenant_id=TENANT,
    name="Room A",
    resource_email=ROOM,
    rules=SpaceRules(
        opening_hours={
            day: [TimeRange(start="08:00", end="18:00")]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        },
        max_minutes=150,
        booking_window_days=2,  # Wednesday from 09:00 is too far ahead
        allowed_groups=["staff"],
    ),
)
USERS = {
    u.email: u
    for u in (
        User(id="ana", tenant_id=TENANT, email="ana@contoso.com", groups=["staff"],
             rules=UserRules(max_bookings_per_day=1)),
        User(id="bob", tenant_id=TENANT, email="bob@contoso.com", groups=["staff"],
             rules=UserRules(max_minutes_per_booking=90)),
        User(id="carla", tenant_id=TENANT, email="carla@contoso.com", groups=["staff", "hr"]),
        User(id="dave", tenant_id=TENANT, email="dave@contoso.com", groups=["visitors"]),
    )
}  # fmt: skip
ORGANIZERS = [
    "ana@contoso.com", "ana@contoso.com", "Ana@Contoso.com", "bob@contoso.com",
    "bob@contoso.com", "carla@contoso.com", "carla@contoso.com", "dave@contoso.com",
    "guest@partner.com", ROOM,
]  # fmt: skip
STORE_WRITES = (
    AcceptOutlookBooking,
    UpdateBooking,
    CancelBooking,
    MarkDeclined,
    RecordCopy,
    Reconfirm,
)
# what a rejected or Bookker-owned event may repeat when it comes again (the engine
# makes these idempotent: a declined copy stays declined, a revert re-reads first,
# an inspection only reads)
REPEATABLE = ("DeclineRoomEvent(", "RevertOrganizerEvent(", "InspectOrganizer(")


def slot_time(slot: int) -> datetime:
    day, n = divmod(slot, SLOTS_PER_DAY)
    return GRID + timedelta(days=day) + n * SLOT


def user_of(email: str | None) -> User | None:
    return USERS.get(email.lower()) if email else None


# -- the model engine ---------------------------------------------------------------------


@dataclass
class Engine:
    """An in-memory stand-in for mailbox_sync + apply_actions (one room)."""

    store: dict[str, Booking] = field(default_factory=dict)
    graph: list[Action] = field(default_factory=list)

    @classmethod
    def seeded(cls, seeds: Iterable[Booking]) -> Engine:
        return cls(store={b.id: b.model_copy(deep=True) for b in seeds})

    def find(self, remote: RemoteEvent) -> Booking | None:
        """RoomIndex.find: by the room copy's id, else by iCalUId."""
        for booking in self.store.values():
            if booking.outlook.resource_event_id == remote.id:
                return booking
        if remote.i_cal_uid:
            for booking in self.store.values():
                if booking.outlook.i_cal_uid == remote.i_cal_uid:
                    return booking
        return None

    def confirmed(self) -> list[Booking]:
        return [b for b in self.store.values() if b.status is BookingStatus.CONFIRMED]

    def context(self, remote: RemoteEvent) -> RoomContext:
        organizer = user_of(remote.organizer_email)
        confirmed = self.confirmed()
        return RoomContext(
            tenant_id=TENANT,
            space=SPACE,
            room_mailbox=ROOM,
            organizer=organizer,
            organizer_bookings=[b for b in confirmed if organizer and b.user_id == organizer.id],
            space_bookings=confirmed,
            now=NOW,
        )

    def process(self, remote: RemoteEvent) -> list[Action]:
        actions = reconcile(self.find(remote), remote, self.context(remote))
        for action in actions:
            self.apply(action)
        return actions

    def run(self, items: Iterable[RemoteEvent]) -> Engine:
        for remote in items:
            self.process(remote)
        return self

    def snapshot(self) -> dict[str, dict[str, Any]]:
        return {bid: b.model_dump() for bid, b in self.store.items()}

    def graph_writes(self) -> Counter[str]:
        return Counter(repr(a) for a in self.graph)

    # apply_actions.py, without Graph and without the ledger
    def apply(self, action: Action) -> None:
        match action:
            case Ignore():
                pass
            case AcceptOutlookBooking(booking=booking):
                # insert; an existing record (ConflictError) is kept as it is
                self.store.setdefault(booking.id, booking.model_copy(deep=True))
            case RecordCopy(booking_id=bid, remote=remote):
                ref = self.store[bid].outlook
                if (ref.resource_event_id, ref.resource_change_key) != (
                    remote.id, remote.change_key,
                ):  # fmt: skip
                    self._change(bid, resource_event_id=remote.id,
                                 resource_change_key=remote.change_key,
                                 resource_series_master_id=remote.series_master_id)  # fmt: skip
            case UpdateBooking(booking_id=bid, start=start, end=end, remote=remote):
                self._change(bid, start=start, end=end, resource_event_id=remote.id,
                             resource_change_key=remote.change_key)  # fmt: skip
            case Reconfirm(booking_id=bid, start=start, end=end, remote=remote):
                if self.store[bid].status is BookingStatus.DECLINED:
                    self._change(bid, status=BookingStatus.CONFIRMED, status_reason=None,
                                 start=start, end=end, resource_event_id=remote.id,
                                 resource_change_key=remote.change_key)  # fmt: skip
            case MarkDeclined(booking_id=bid, reason=reason):
                if self.store[bid].status is BookingStatus.CONFIRMED:
                    self._change(bid, status=BookingStatus.DECLINED, status_reason=reason)
            case CancelBooking(booking_id=bid, reason=reason):
                if self.store[bid].status is not BookingStatus.CANCELLED:
                    self._change(bid, status=BookingStatus.CANCELLED, status_reason=reason)
            case (
                DeclineRoomEvent() | RevertOrganizerEvent() | InspectOrganizer() | LocateRoomCopy()
            ):
                self.graph.append(action)

    def _change(self, booking_id: str, **values: Any) -> None:
        booking = self.store[booking_id].model_copy(deep=True)
        for name, value in values.items():
            target = booking.outlook if name in OutlookRef.model_fields else booking
            setattr(target, name, value)
        booking.updated_at = NOW
        self.store[booking_id] = booking


# -- histories ------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """Events (each a list of versions of the room's copy), Bookker bookings stored
    before the sync, and one delivery order: ``order[i]`` is the event of item i."""

    seeds: tuple[Booking, ...]
    events: tuple[tuple[RemoteEvent, ...], ...]
    order: tuple[int, ...]

    def items(self, order: Sequence[tuple[int, int]] | None = None) -> list[RemoteEvent]:
        return [self.events[k][v] for k, v in (order if order is not None else self.steps())]

    def steps(self) -> list[tuple[int, int]]:
        """(event, version) per item, versions of each event in increasing order."""
        seen: Counter[int] = Counter()
        steps = []
        for k in self.order:
            steps.append((k, seen[k]))
            seen[k] += 1
        return steps

    # which events compete: the only ones whose relative order may matter
    def footprint(self, k: int) -> list[tuple[datetime, datetime]]:
        times = [(e.start, e.end) for e in self.events[k] if not e.removed]
        spans = [(s, e) for s, e in times if s is not None and e is not None and s < e]
        return spans + [(b.start, b.end) for b in self.seeds if b.outlook.i_cal_uid == f"uid-{k}"]

    def quota_days(self, k: int) -> tuple[str, set[date]] | None:
        user = user_of(self.events[k][0].organizer_email)
        if user is None or user.rules.max_bookings_per_day is None:
            return None
        return user.id, {start.date() for start, _ in self.footprint(k)}

    def competing(self, a: int, b: int) -> bool:
        if a == b:
            return True
        for (s1, e1), (s2, e2) in itertools.product(self.footprint(a), self.footprint(b)):
            if s1 < e2 and s2 < e1:
                return True
        qa, qb = self.quota_days(a), self.quota_days(b)
        return bool(qa and qb and qa[0] == qb[0] and qa[1] & qb[1])


@dataclass(frozen=True)
class Version:
    kind: str  # live | cancelled | removed
    start: int = 0  # slot
    duration: int = 2  # slots; 0 means no valid end
    response: Response = Response.ACCEPTED
    modified: datetime | None = None


@dataclass(frozen=True)
class EventSpec:
    organizer: str
    occurrence: bool
    versions: tuple[Version, ...]
    # is this the room copy of a Bookker booking? "no"; "same": the booking has the
    # copy's first times; "moved": it is an hour from seed_slot (moved in Outlook since)
    seed: str
    seed_slot: int


ROOM_ANSWERS = [Response.ACCEPTED] * 5 + [
    Response.DECLINED, Response.NOT_RESPONDED, Response.TENTATIVE, Response.NONE,
]  # fmt: skip
VERSIONS = st.builds(
    Version,
    kind=st.sampled_from(["live"] * 6 + ["cancelled", "removed"]),
    start=st.one_of(st.sampled_from(HOT), st.integers(0, SLOTS - 1)),
    duration=st.sampled_from([0, 1, 2, 2, 3, 4, 6]),
    response=st.sampled_from(ROOM_ANSWERS),
    modified=st.sampled_from([None, NOW - timedelta(minutes=90), NOW]),
)
EVENT_SPECS = st.builds(
    EventSpec,
    organizer=st.sampled_from(ORGANIZERS),
    occurrence=st.booleans(),
    versions=st.lists(VERSIONS, min_size=1, max_size=3).map(tuple),
    seed=st.sampled_from(["no", "no", "no", "same", "moved"]),
    seed_slot=st.integers(0, SLOTS - 1),
)


def build_versions(k: int, spec: EventSpec) -> tuple[RemoteEvent, ...]:
    common: dict[str, Any] = {
        "id": f"room-evt-{k}",
        "i_cal_uid": f"uid-{k}",
        "organizer_email": spec.organizer,
        "type": EventType.OCCURRENCE if spec.occurrence else EventType.SINGLE,
        "series_master_id": "room-master-1" if spec.occurrence else None,
        "subject": f"Meeting {k}",
    }
    out: list[RemoteEvent] = []
    for v, version in enumerate(spec.versions):
        if version.kind == "removed":
            out.append(RemoteEvent(id=f"room-evt-{k}", removed=True))
            break  # gone for good
        start = slot_time(version.start)
        out.append(RemoteEvent(
            **common,
            change_key=f"ck-{k}-{v}",
            start=start,
            end=start + version.duration * SLOT,
            response=version.response,
            modified=version.modified,
            is_cancelled=version.kind == "cancelled",
        ))  # fmt: skip
        if version.kind == "cancelled":
            break
    return tuple(out)


def build_seed(k: int, spec: EventSpec, first: RemoteEvent) -> Booking | None:
    """A Bookker booking whose room copy is event k (same iCalUId, copy not seen yet):
    at the copy's first times, or elsewhere (moved in Outlook meanwhile)."""
    user = user_of(spec.organizer)
    if user is None or spec.seed == "no":
        return None
    if spec.seed == "same":
        if first.start is None or first.end is None or first.end <= first.start:
            return None
        start, end = first.start, first.end
    else:
        start, end = slot_time(spec.seed_slot), slot_time(spec.seed_slot) + 2 * SLOT
    return Booking(
        id=f"bk-{k}", tenant_id=TENANT, space_id=SPACE.id, user_id=user.id,
        start=start, end=end, source=BookingSource.BOOKKER,
        outlook=OutlookRef(i_cal_uid=f"uid-{k}", organizer_mailbox=spec.organizer),
        created_at=NOW - timedelta(days=1), updated_at=NOW - timedelta(days=1),
    )  # fmt: skip


def _fits(seed: Booking, seeds: list[Booking]) -> bool:
    """Bookker's own store is consistent: no overlap, daily quotas respected."""
    if any(b.overlaps(seed.start, seed.end) for b in seeds):
        return False
    user = next(u for u in USERS.values() if u.id == seed.user_id)
    limit = user.rules.max_bookings_per_day
    same_day = [b for b in seeds if b.user_id == user.id and b.start.date() == seed.start.date()]
    return limit is None or len(same_day) < limit


@st.composite
def histories(draw: st.DrawFn, max_events: int = 6) -> History:
    specs = draw(st.lists(EVENT_SPECS, min_size=1, max_size=max_events))
    events = tuple(build_versions(k, spec) for k, spec in enumerate(specs))
    seeds: list[Booking] = []
    for k, spec in enumerate(specs):
        seed = build_seed(k, spec, events[k][0])
        if seed is not None and _fits(seed, seeds):
            seeds.append(seed)
    slots = [k for k, vs in enumerate(events) for _ in vs]
    order = tuple(draw(st.permutations(slots)))
    return History(tuple(seeds), events, order)


def reordered(history: History, rnd: random.Random) -> list[tuple[int, int]]:
    """A random delivery order that keeps the relative order of items of competing
    events (and of each event's versions): a random linear extension."""
    steps = history.steps()
    before = {
        j: {i for i in range(j) if history.competing(steps[i][0], steps[j][0])}
        for j in range(len(steps))
    }
    done: set[int] = set()
    out: list[tuple[int, int]] = []
    while len(out) < len(steps):
        ready = [j for j in range(len(steps)) if j not in done and before[j] <= done]
        j = rnd.choice(ready)
        done.add(j)
        out.append(steps[j])
    return out


def assert_no_overlap(engine: Engine) -> None:
    confirmed = sorted(engine.confirmed(), key=lambda b: (b.start, b.end))
    for a, b in itertools.pairwise(confirmed):
        assert a.end <= b.start, f"{a.id} {a.start}-{a.end} overlaps {b.id} {b.start}-{b.end}"


def assert_quotas(engine: Engine) -> None:
    per_day = Counter((b.user_id, b.start.date()) for b in engine.confirmed())
    for (user_id, day), count in per_day.items():
        limit = next(u for u in USERS.values() if u.id == user_id).rules.max_bookings_per_day
        assert limit is None or count <= limit, f"{user_id} has {count} bookings on {day}"


# -- (a) replay -----------------------------------------------------------------------------


@PROPERTY
@given(histories())
def test_replaying_an_item_right_away_changes_nothing(history: History) -> None:
    """Every item delivered twice in a row: the second time stores nothing, writes
    nothing new to Graph and leaves the store as it was.

    A rejected event is never stored, so its replay is judged again and repeats the
    same DeclineRoomEvent / RevertOrganizerEvent (the engine's Graph calls make those
    idempotent: declining a declined copy, reverting only if the organizer's event
    still shows the rejected times). Nothing else may come back."""
    engine = Engine.seeded(history.seeds)
    for remote in history.items():
        first = engine.process(remote)
        before = engine.snapshot()
        second = engine.process(remote)
        assert engine.snapshot() == before
        assert not [a for a in second if isinstance(a, STORE_WRITES)], second
        repeated = [a for a in second if not isinstance(a, Ignore)]
        assert all(repr(a).startswith(REPEATABLE) and a in first for a in repeated), second


# -- (b) reordering ----------------------------------------------------------------------------


@settings(PROPERTY, max_examples=300)
@given(histories(), st.randoms(use_true_random=False))
def test_any_delivery_order_gives_the_same_outcome(history: History, rnd: random.Random) -> None:
    """Items reordered freely across events that don't compete (and each event's
    versions in order): the same final store and the same Graph writes."""
    expected = Engine.seeded(history.seeds).run(history.items())
    shuffled = Engine.seeded(history.seeds).run(history.items(reordered(history, rnd)))
    assert shuffled.snapshot() == expected.snapshot()
    assert shuffled.graph_writes() == expected.graph_writes()


# -- (c) duplicates ----------------------------------------------------------------------------


@PROPERTY
@given(histories(), st.data())
def test_a_duplicated_item_changes_nothing(history: History, data: st.DataObject) -> None:
    """One item delivered again later (a duplicate page, a re-run after a crash): same
    final store, same Graph state. The copy comes before the event's next version and
    before any item of a competing event (delta would hand out the current state
    instead of a stale copy by then)."""
    steps = history.steps()
    i = data.draw(st.integers(0, len(steps) - 1), label="duplicated item")
    barrier = next(
        (j for j in range(i + 1, len(steps)) if history.competing(steps[i][0], steps[j][0])),
        len(steps),
    )
    at = data.draw(st.integers(i + 1, barrier), label="inserted at")
    with_copy = [*steps[:at], steps[i], *steps[at:]]

    expected = Engine.seeded(history.seeds).run(history.items())
    duplicated = Engine.seeded(history.seeds).run(history.items(with_copy))
    assert duplicated.snapshot() == expected.snapshot()
    # the copy may only repeat a decline, revert or read already made (see (a))
    sent = expected.graph_writes()
    extra = duplicated.graph_writes() - sent
    assert all(w.startswith(REPEATABLE) and w in sent for w in extra), extra


# -- (d) booking ids --------------------------------------------------------------------------

TENANT_IDS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}", fullmatch=True)  # API ids
MAILBOXES = st.builds(
    lambda local, domain: f"{local}@{domain}",
    st.from_regex(r"[A-Za-z0-9._+\-]{1,20}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9\-]{1,12}\.[A-Za-z]{2,6}", fullmatch=True),
)
EVENT_IDS = st.from_regex(r"[A-Za-z0-9+/_\-]{1,120}={0,2}", fullmatch=True)  # Graph ids


@PROPERTY
@given(st.lists(st.tuples(TENANT_IDS, MAILBOXES, EVENT_IDS), min_size=1, max_size=30,
                unique_by=lambda t: (t[0], t[1].lower(), t[2])))  # fmt: skip
def test_outlook_booking_ids_are_deterministic_and_distinct(
    keys: list[tuple[str, str, str]],
) -> None:
    """Distinct (tenant, room mailbox, room event id) → distinct ids; the same → the
    same id every time. Mailboxes are case-insensitive, Graph event ids are not. Keys
    are drawn from what can actually occur: API ids, e-mail addresses, Graph ids."""
    ids = [outlook_booking_id(*key) for key in keys]
    assert len(set(ids)) == len(ids)
    for (tenant, mailbox, event_id), booking_id in zip(keys, ids, strict=True):
        assert outlook_booking_id(tenant, mailbox, event_id) == booking_id
        assert outlook_booking_id(tenant, mailbox.upper(), event_id) == booking_id
        assert outlook_booking_id(tenant, mailbox.lower(), event_id) == booking_id


@PROPERTY
@given(histories())
def test_an_accepted_event_gets_its_deterministic_id(history: History) -> None:
    engine = Engine.seeded(history.seeds)
    for remote in history.items():
        for action in engine.process(remote):
            if isinstance(action, AcceptOutlookBooking):
                assert action.booking.id == outlook_booking_id(TENANT, ROOM, remote.id)
                assert action.booking.outlook.resource_event_id == remote.id


# -- (e) no double booking --------------------------------------------------------------------


@settings(PROPERTY, max_examples=300)
@given(histories(max_events=8))
def test_no_sequence_ever_double_books_the_room(history: History) -> None:
    """Whatever arrives in whatever order, after every item: no two confirmed
    bookings of the room overlap, and nobody exceeds their daily quota."""
    engine = Engine.seeded(history.seeds)
    assert_no_overlap(engine)
    for remote in history.items():
        engine.process(remote)
        assert_no_overlap(engine)
        assert_quotas(engine)
