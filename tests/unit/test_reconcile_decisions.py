"""The domain's other decisions: what a full listing's missing copies mean, bookings the
room never answered, what a ledger refusal turns into, and what Outlook is told when
Bookker cancels. Every combination of status and source, tabled."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bookker_sync.domain.models import BookingSource, BookingStatus
from bookker_sync.domain.reconcile import (
    CANCELLED_IN_OUTLOOK,
    AcceptOutlookBooking,
    CancelBooking,
    CancelOrganizerEvent,
    DeclineRoomCopy,
    DeclineRoomEvent,
    Ignore,
    InspectOrganizer,
    Reconfirm,
    RevertOrganizerEvent,
    UpdateBooking,
    ledger_refused,
    outlook_cancellation,
    unanswered,
    vanished,
)
from tests.unit.test_reconcile import NOW, at, make_booking, make_event

OUT, BKR = BookingSource.OUTLOOK, BookingSource.BOOKKER
C, D, X = BookingStatus.CONFIRMED, BookingStatus.DECLINED, BookingStatus.CANCELLED


@pytest.mark.parametrize(
    ("status", "source", "listed", "expected"),
    [
        (C, OUT, set(), CancelBooking("bk-1", CANCELLED_IN_OUTLOOK)),
        (C, BKR, set(), InspectOrganizer("bk-1")),
        (C, OUT, {"room-evt-1"}, None),
        (C, BKR, {"room-evt-1"}, None),
        (D, OUT, set(), None),
        (X, BKR, set(), None),
    ],
)
def test_vanished_after_a_full_listing(status, source, listed, expected):
    b = make_booking(status=status, source=source)
    assert vanished(b, listed, since=NOW) == expected


def test_vanished_ignores_past_bookings_and_copies_never_recorded():
    assert vanished(make_booking(), set(), since=at(12)) is None  # ended before the window
    assert vanished(make_booking(resource_event_id=None), set(), since=NOW) is None


@pytest.mark.parametrize(
    ("source", "copy", "age", "expected"),
    [
        (BKR, None, timedelta(minutes=5), InspectOrganizer("bk-1")),
        (BKR, None, timedelta(seconds=5), None),  # the room may still answer
        (BKR, "room-evt-1", timedelta(minutes=5), None),  # its copy is known
        (OUT, None, timedelta(minutes=5), None),  # Outlook bookings come from the copy
    ],
)
def test_unanswered_bookker_bookings_are_inspected_after_the_grace(source, copy, age, expected):
    b = make_booking(source=source, resource_event_id=copy).model_copy(
        update={"created_at": NOW - age}
    )
    assert unanswered(b, NOW, timedelta(seconds=30)) == expected


def test_ledger_refusal_declines_a_request_and_reverts_a_move():
    stored = make_booking()
    remote = make_event(start=at(10), end=at(11))
    accept = ledger_refused(AcceptOutlookBooking(stored, remote), stored, "taken")
    assert isinstance(accept, DeclineRoomEvent) and accept.room_event_id == remote.id
    assert accept.violations[0].rule == "conflict" and "taken" in accept.reason
    back = ledger_refused(Reconfirm("bk-1", at(12), at(13), remote), stored, "taken")
    assert isinstance(back, DeclineRoomEvent)
    move = ledger_refused(UpdateBooking("bk-1", at(12), at(13), remote), stored, "taken")
    assert move == RevertOrganizerEvent(
        "bk-1", stored.start, stored.end, at(12), at(13), move.reason
    )
    span = ledger_refused(AcceptOutlookBooking(stored, remote), stored, "too long", "maxMinutes")
    assert isinstance(span, DeclineRoomEvent) and span.violations[0].rule == "maxMinutes"


@pytest.mark.parametrize(
    ("source", "room", "organizer_event", "room_decides", "expected"),
    [
        # a meeting made in Outlook: the room declines its copy, whoever cancels
        (OUT, True, None, False, DeclineRoomCopy("bk-1", "why")),
        (OUT, True, None, True, DeclineRoomCopy("bk-1", "why")),
        (OUT, False, None, False, Ignore("no room copy to decline")),
        # Bookker's own meeting: cancelled by its organizer (room told) or deleted
        (BKR, True, "org-1", False, CancelOrganizerEvent("bk-1", "why", notify_attendees=True)),
        (BKR, False, "org-1", False, CancelOrganizerEvent("bk-1", "why", notify_attendees=False)),
        (BKR, False, "org-1", True, CancelOrganizerEvent("bk-1", "why", notify_attendees=False)),
        # a release in bidirectional mode acts on the room's calendar
        (BKR, True, "org-1", True, DeclineRoomCopy("bk-1", "why")),
        (BKR, False, None, False, Ignore("the booking has no Outlook event")),
    ],
)
def test_what_outlook_is_told_when_bookker_cancels(
    source, room, organizer_event, room_decides, expected
):
    b = make_booking(
        source=source,
        resource_mailbox="room-a@contoso.com" if room else None,
        organizer_event_id=organizer_event,
    )
    assert outlook_cancellation(b, "why", room_decides=room_decides) == expected
