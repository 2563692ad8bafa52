"""The pure decision function of inbound sync: stored booking + remote event → actions.

``reconcile(stored, remote, context)`` looks at one item of a room mailbox's
calendarView delta (the room's copy of an event, or an ``@removed`` marker) and the
booking Bookker holds for it, and says what to do. No I/O: the engine
(sync/mailbox_sync.py) applies the actions idempotently. Replaying the same item, or
items in another order, converges to the same state (tests/unit/test_reconcile*.py).

``reconcile_organizer_view`` is the second, equally pure step for the one case a room
copy can't settle alone: a Bookker-made booking whose room copy vanished (cancelled by
the organizer, or declined by the room?) is judged on the organizer's event.

Arbitration (bidirectional mode): the room mailbox's answer decides who holds the room.
A Bookker booking whose room copy has not been seen yet is *awaiting* the room's
answer: it is no conflict for an event the room accepted. The room (AllowConflicts
off) holds one meeting per slot, so an accepted Outlook event overlapping an awaiting
Bookker booking means the room took the Outlook event first: it is accepted and the
Bookker booking is declined with that reason. Whichever request reaches the room
first wins, and exactly one does (tests/unit/test_reconcile_arbitration.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OutlookRef,
    Space,
    User,
    Violation,
)
from bookker_sync.domain.remote import RemoteEvent, Response
from bookker_sync.domain.rules import check_booking

_OUTLOOK_IDS = uuid.UUID("3b0e6a55-4d1c-4f7e-a0c2-9f6f2d6b8e21")


# -- actions -------------------------------------------------------------------------
@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class RecordCopy:
    """Remember the room copy's id / changeKey / JSON (no Graph write)."""

    booking_id: str
    remote: RemoteEvent = field(compare=False)


@dataclass(frozen=True)
class AcceptOutlookBooking:
    """Store a booking made in Outlook (claiming its slot in the ledger)."""

    booking: Booking
    remote: RemoteEvent = field(compare=False)


@dataclass(frozen=True)
class DeclineRoomEvent:
    """The room declines its copy, with the reason shown to the organizer."""

    room_event_id: str
    reason: str
    violations: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class MarkDeclined:
    booking_id: str
    reason: str


@dataclass(frozen=True)
class UpdateBooking:
    """Store new times from Outlook (moving the slot in the ledger)."""

    booking_id: str
    start: datetime
    end: datetime
    remote: RemoteEvent = field(compare=False)


@dataclass(frozen=True)
class Reconfirm:
    """A declined booking the room holds again (the organizer moved it to a free slot):
    confirmed again at the room copy's times (claiming its slot in the ledger)."""

    booking_id: str
    start: datetime
    end: datetime
    remote: RemoteEvent = field(compare=False)


@dataclass(frozen=True)
class RevertOrganizerEvent:
    """Put the organizer's event back to the stored times, unless it changed again
    since ``rejected_start``/``rejected_end`` were seen (never clobber a newer change)."""

    booking_id: str
    restore_start: datetime
    restore_end: datetime
    rejected_start: datetime
    rejected_end: datetime
    reason: str


@dataclass(frozen=True)
class CancelBooking:
    booking_id: str
    reason: str


@dataclass(frozen=True)
class LocateRoomCopy:
    """The room accepted a Bookker booking but its copy was never recorded: find it by
    iCalUId in the room's calendar and record it."""

    booking_id: str


@dataclass(frozen=True)
class DeclineRoomCopy:
    """Bookker cancelled a booking the room still holds: the room declines its copy
    (found by iCalUId when its id was never recorded), with the reason."""

    booking_id: str
    reason: str


@dataclass(frozen=True)
class CancelOrganizerEvent:
    """Bookker cancels its own meeting on the organizer's event: cancelled (attendees
    and the room are told) when a room was invited, else deleted."""

    booking_id: str
    comment: str
    notify_attendees: bool


@dataclass(frozen=True)
class RefreshSubject:
    """Read the organizer's event for its subject (the room's copy shows the
    organizer's name instead, under Exchange's DeleteSubject default), then store what
    ``organizer_subject`` says."""

    booking_id: str


@dataclass(frozen=True)
class InspectOrganizer:
    """Read the organizer's event, then call reconcile_organizer_view."""

    booking_id: str


Action = (
    Ignore | RecordCopy | AcceptOutlookBooking | DeclineRoomEvent | MarkDeclined
    | UpdateBooking | RevertOrganizerEvent | CancelBooking | InspectOrganizer | LocateRoomCopy
    | Reconfirm | DeclineRoomCopy | CancelOrganizerEvent | RefreshSubject
)  # fmt: skip


# -- context -------------------------------------------------------------------------
@dataclass(frozen=True)
class RoomContext:
    """What the rules need to judge one room event. ``organizer`` is None when the
    organizer is not a Bookker user of the tenant."""

    tenant_id: str
    space: Space
    room_mailbox: str
    organizer: User | None
    organizer_bookings: Sequence[Booking]  # confirmed, any space (user rules)
    space_bookings: Sequence[Booking]  # confirmed bookings of this space (conflicts)
    now: datetime
    # Slots Bookker is creating right now (ledger holds not yet confirmed): the room
    # copy of an in-flight Bookker booking can reach us before the booking is stored.
    holds: Sequence[tuple[datetime, datetime]] = ()


PRIVATE_SUBJECT = "Private meeting"  # a private meeting's subject is never stored or shown
CANCELLED_IN_OUTLOOK = "Cancelled in Outlook"
CANCELLED_IN_BOOKKER = "Cancelled in Bookker"
IN_FLIGHT = Ignore("a Bookker booking for this slot is being created")
ROOM_TOOK_ANOTHER = (
    "The room declined the booking: it had already accepted another meeting "
    "from {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC."
)
_DECLINED_BY = "Declined by Bookker: "
_INVALID_TIMES = "The event has no valid start and end."


def outlook_booking_id(tenant_id: str, room_mailbox: str, room_event_id: str) -> str:
    """Deterministic: replaying the same creation never makes a second booking."""
    key = f"{tenant_id}\n{Mailbox(room_mailbox)}\n{room_event_id}"
    return str(uuid.uuid5(_OUTLOOK_IDS, key))


# -- the decision --------------------------------------------------------------------
def reconcile(stored: Booking | None, remote: RemoteEvent, ctx: RoomContext) -> list[Action]:
    if remote.removed or remote.is_cancelled:
        return _gone(stored)
    if stored is None:
        return _new_in_outlook(remote, ctx)
    return _known(stored, remote, ctx)


def _gone(stored: Booking | None) -> list[Action]:
    if stored is None:
        return [Ignore("removed event unknown to Bookker")]
    if stored.status is not BookingStatus.CONFIRMED:
        return [Ignore(f"booking already {stored.status.value}")]
    if stored.source is BookingSource.OUTLOOK:
        return [CancelBooking(stored.id, CANCELLED_IN_OUTLOOK)]
    # A Bookker booking's room copy vanished: the organizer cancelled it, or the room
    # declined it. Only the organizer's event tells which.
    return [InspectOrganizer(stored.id)]


def _new_in_outlook(remote: RemoteEvent, ctx: RoomContext) -> list[Action]:
    if remote.response in (Response.DECLINED,):
        return [Ignore("the room already declined it")]
    if remote.response in (Response.NONE, Response.NOT_RESPONDED, Response.TENTATIVE):
        # The booking attendant has not answered yet; its answer changes the event,
        # so delta brings it back.
        return [Ignore("awaiting the room's answer")]
    if remote.start is None or remote.end is None or remote.end <= remote.start:
        return [DeclineRoomEvent(remote.id, _INVALID_TIMES)]
    if Mailbox.parse(remote.organizer_email) == Mailbox(ctx.room_mailbox):
        return [Ignore("organized by the room itself")]
    if any(s < remote.end and remote.start < e for s, e in ctx.holds):
        # Bookker is creating a booking on this slot right now: this may be its room
        # copy, or a meeting the room accepted before it. Judged once it is stored.
        return [IN_FLIGHT]
    violations = judge(remote, ctx, ignore_id=None)
    if violations:
        return [DeclineRoomEvent(remote.id, decline_message(violations), tuple(violations))]
    # Accepting writes nothing to Graph: the room already holds the event. (No extension
    # is put on the room copy: nothing reads it; the copy is matched by its stored id
    # and iCalUId, and the booking id is derived from the room event id.) The subject is
    # read once from the organizer's event (the room's copy shows the organizer's name).
    booking = _booking_from(remote, ctx)
    return [
        *_displaced(ctx, remote, None),
        AcceptOutlookBooking(booking, remote), RefreshSubject(booking.id),
    ]  # fmt: skip


def _known(stored: Booking, remote: RemoteEvent, ctx: RoomContext) -> list[Action]:
    if stored.status is BookingStatus.CANCELLED and remote.response is Response.ACCEPTED:
        # Bookker cancelled it (API delete or a release) but the room still holds it:
        # the outbound write was lost. Bookker is the authority: the room declines.
        return [DeclineRoomEvent(remote.id, stored.status_reason or CANCELLED_IN_BOOKKER)]
    if stored.status is BookingStatus.DECLINED and remote.response is Response.ACCEPTED:
        return _room_took_it_back(stored, remote, ctx)
    if stored.status is not BookingStatus.CONFIRMED:
        return [Ignore(f"booking already {stored.status.value}")]
    if remote.response is Response.DECLINED:
        return [MarkDeclined(stored.id, "The room declined the booking.")]
    if remote.change_key and remote.change_key == stored.outlook.resource_change_key:
        return [Ignore("echo: this version is already stored")]
    if remote.start is None or remote.end is None:
        return [Ignore("no times on the event")]
    # A new version of a copy seen before: the organizer changed the meeting, maybe its
    # subject, which the room's copy doesn't show. One read of the organizer's event
    # per change of the meeting, none per sync (an echo stopped above).
    refresh: list[Action] = (
        [RefreshSubject(stored.id)] if stored.outlook.resource_change_key is not None else []
    )
    if (remote.start, remote.end) == (stored.start, stored.end):
        return [RecordCopy(stored.id, remote), *refresh]
    if remote.end <= remote.start:  # moved to no valid times: not a booking, put it back
        return [RevertOrganizerEvent(
            stored.id, stored.start, stored.end, remote.start, remote.end,
            _DECLINED_BY + _INVALID_TIMES,
        )]  # fmt: skip
    violations = judge(remote, ctx, ignore_id=stored.id)
    if violations:
        return [RevertOrganizerEvent(
            stored.id, stored.start, stored.end, remote.start, remote.end,
            decline_message(violations),
        )]  # fmt: skip
    return [
        *_displaced(ctx, remote, stored.id),
        UpdateBooking(stored.id, remote.start, remote.end, remote), *refresh,
    ]  # fmt: skip


def _room_took_it_back(stored: Booking, remote: RemoteEvent, ctx: RoomContext) -> list[Action]:
    if remote.start is None or remote.end is None or remote.end <= remote.start:
        return [DeclineRoomEvent(remote.id, _DECLINED_BY + _INVALID_TIMES)]
    violations = judge(remote, ctx, ignore_id=stored.id)
    if violations:
        return [DeclineRoomEvent(remote.id, decline_message(violations), tuple(violations))]
    return [
        *_displaced(ctx, remote, stored.id),
        Reconfirm(stored.id, remote.start, remote.end, remote),
    ]


def judge(remote: RemoteEvent, ctx: RoomContext, ignore_id: str | None) -> list[Violation]:
    """Bookker's rules for this room event, plus overlap with other confirmed bookings."""
    assert remote.start is not None and remote.end is not None
    # An Outlook change is judged at the time it was made: a meeting booked at 09:59
    # for 10:00 and synced at 10:01 is not "in the past".
    when = min(ctx.now, remote.modified) if remote.modified else ctx.now
    ignore = {ignore_id} if ignore_id else set()
    violations = check_booking(
        space=ctx.space, user=ctx.organizer, start=remote.start, end=remote.end,
        user_bookings=ctx.organizer_bookings, now=when, ignore_booking_ids=ignore,
    )  # fmt: skip
    clash = [
        b for b in ctx.space_bookings
        if b.status is BookingStatus.CONFIRMED and b.id not in ignore and holds_room(b)
        and b.outlook.resource_event_id != remote.id and b.overlaps(remote.start, remote.end)
    ]  # fmt: skip
    if clash:
        first = min(clash, key=lambda b: b.start)
        violations.append(Violation(
            rule="conflict",
            message=f"{ctx.space.name} is already booked from {first.start:%Y-%m-%d %H:%M} "
            f"to {first.end:%H:%M} UTC.",
        ))  # fmt: skip
    return violations


def awaiting_room(booking: Booking) -> bool:
    """A Bookker booking that invited the room whose room copy has not been seen: the
    room has not accepted it (yet), so it does not hold the room."""
    ref = booking.outlook
    return (
        booking.source is BookingSource.BOOKKER
        and ref.resource_mailbox is not None
        and ref.resource_event_id is None
    )


def holds_room(booking: Booking) -> bool:
    """Does this confirmed booking hold its slot against another meeting? Outlook
    bookings and Bookker bookings with an accepted room copy do; so do bookings that
    never asked a room (Bookker's ledger is their only arbiter)."""
    return not awaiting_room(booking)


def _displaced(ctx: RoomContext, remote: RemoteEvent, own_id: str | None) -> list[Action]:
    """The room accepted ``remote``: the Bookker bookings on its slot still awaiting the
    room's answer lost the room to it (AllowConflicts off: one meeting per slot)."""
    if remote.response is not Response.ACCEPTED or remote.start is None or remote.end is None:
        return []
    reason = ROOM_TOOK_ANOTHER.format(start=remote.start, end=remote.end)
    return [
        MarkDeclined(b.id, reason) for b in ctx.space_bookings
        if b.id != own_id and b.status is BookingStatus.CONFIRMED and awaiting_room(b)
        and b.overlaps(remote.start, remote.end)
    ]  # fmt: skip


def decline_message(violations: Sequence[Violation]) -> str:
    return _DECLINED_BY + " ".join(v.message for v in violations)


def _booking_from(remote: RemoteEvent, ctx: RoomContext) -> Booking:
    assert remote.start is not None and remote.end is not None and ctx.organizer is not None
    booking_id = outlook_booking_id(ctx.tenant_id, ctx.room_mailbox, remote.id)
    return Booking(
        id=booking_id,
        tenant_id=ctx.tenant_id,
        space_id=ctx.space.id,
        user_id=ctx.organizer.id,
        start=remote.start,
        end=remote.end,
        # the room's copy: the organizer's name (DeleteSubject) until RefreshSubject
        subject=PRIVATE_SUBJECT if remote.private else remote.subject,
        status=BookingStatus.CONFIRMED,
        source=BookingSource.OUTLOOK,
        series_id=remote.series_master_id,
        outlook=OutlookRef(
            i_cal_uid=remote.i_cal_uid,
            organizer_mailbox=remote.organizer_email,
            resource_mailbox=ctx.room_mailbox,
            resource_event_id=remote.id,
            resource_change_key=remote.change_key,
            resource_series_master_id=remote.series_master_id,
        ),
        created_at=ctx.now,
        updated_at=ctx.now,
    )


# -- second step: the organizer's view ----------------------------------------------------
def reconcile_organizer_view(
    stored: Booking, organizer_event: RemoteEvent | None, room_mailbox: str
) -> list[Action]:
    """A Bookker booking whose room copy is gone (or never appeared), judged on the
    organizer's event: gone/cancelled → cancelled; room declined → declined."""
    if stored.status is not BookingStatus.CONFIRMED:
        return [Ignore(f"booking already {stored.status.value}")]
    if organizer_event is None or organizer_event.removed or organizer_event.is_cancelled:
        return [CancelBooking(stored.id, CANCELLED_IN_OUTLOOK)]
    room = organizer_event.attendee(room_mailbox)
    if room is None:
        return [CancelBooking(stored.id, "The room was removed from the meeting in Outlook")]
    if room.response is Response.DECLINED:
        return [MarkDeclined(stored.id, "The room declined the booking (it is not available).")]
    if room.response is Response.ACCEPTED and not stored.outlook.resource_event_id:
        return [LocateRoomCopy(stored.id)]
    return [Ignore(f"the room's answer is {room.response.value}")]


def organizer_subject(stored: Booking, organizer_event: RemoteEvent | None) -> str | None:
    """The subject to store from the organizer's event (where Exchange keeps the real
    one), or None to leave it: a private meeting shows as PRIVATE_SUBJECT, never with
    its own subject."""
    if organizer_event is None or organizer_event.removed:
        return None
    subject = PRIVATE_SUBJECT if organizer_event.private else organizer_event.subject
    return subject if subject != stored.subject else None


# -- Bookker cancels: what Outlook is told ---------------------------------------------
def outlook_cancellation(booking: Booking, reason: str, *, room_decides: bool) -> Action:
    """The Outlook write for a booking Bookker cancelled (API delete) or released
    (``room_decides``: a system action in bidirectional mode, where the room's calendar
    is acted on). A meeting made in Outlook is not Bookker's to cancel: the room
    declines its copy, so the organizer sees why."""
    ref = booking.outlook
    if ref.resource_mailbox and (room_decides or booking.source is BookingSource.OUTLOOK):
        return DeclineRoomCopy(booking.id, reason)
    if booking.source is BookingSource.OUTLOOK:
        return Ignore("no room copy to decline")
    if not ref.organizer_mailbox or not ref.organizer_event_id:
        return Ignore("the booking has no Outlook event")
    return CancelOrganizerEvent(booking.id, reason, notify_attendees=bool(ref.resource_mailbox))


# -- after a full listing, and bookings the room never answered --------------------------
def vanished(stored: Booking, listed_ids: Set[str], since: datetime) -> Action | None:
    """After a complete listing of the room: a confirmed booking whose room copy is not
    in it is gone. An Outlook booking is cancelled; for a Bookker booking only the
    organizer's event tells whether it was cancelled or declined."""
    ref = stored.outlook
    if stored.status is not BookingStatus.CONFIRMED or stored.end <= since:
        return None
    if not ref.resource_event_id or ref.resource_event_id in listed_ids:
        return None
    if stored.source is BookingSource.OUTLOOK:
        return CancelBooking(stored.id, CANCELLED_IN_OUTLOOK)
    return InspectOrganizer(stored.id)


def unanswered(stored: Booking, now: datetime, grace: timedelta) -> Action | None:
    """A Bookker booking whose room copy never showed up (after ``grace``): the room may
    have declined it straight away. Ask the organizer's event."""
    if (
        stored.status is BookingStatus.CONFIRMED
        and stored.source is BookingSource.BOOKKER
        and stored.outlook.resource_event_id is None
        and stored.created_at < now - grace
        and stored.end > now
    ):
        return InspectOrganizer(stored.id)
    return None


def ledger_refused(
    action: AcceptOutlookBooking | UpdateBooking | Reconfirm,
    stored: Booking,
    detail: str,
    rule: str = "conflict",
) -> Action:
    """The ledger refused the slot (another booking got it between judging and storing,
    or the span is too long): a new Outlook request or a taken-back booking is declined
    by the room, a move is reverted on the organizer's event to the ``stored`` times."""
    violation = Violation(rule=rule, message=detail)
    message = decline_message([violation])
    match action:
        case AcceptOutlookBooking(remote=remote) | Reconfirm(remote=remote):
            return DeclineRoomEvent(remote.id, message, (violation,))
        case UpdateBooking():
            return RevertOrganizerEvent(
                action.booking_id, stored.start, stored.end, action.start, action.end, message
            )
