"""The booking lifecycle: every transition, and the ledger kept in step with the status
under any sequence of transitions (including replays and refused ones)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.domain import lifecycle
from bookker_sync.domain.lifecycle import LedgerChange, Slot, TransitionError
from bookker_sync.domain.models import Booking, BookingStatus

T0 = datetime(2031, 3, 3, 9, 0, tzinfo=UTC)
H = timedelta(hours=1)


def booking(status: BookingStatus = BookingStatus.CONFIRMED, start: datetime = T0) -> Booking:
    return Booking(
        id="b1", tenant_id="t", space_id="s", user_id="u", start=start, end=start + H,
        status=status, created_at=T0, updated_at=T0,
    )  # fmt: skip


def test_confirm_takes_the_slot():
    t = lifecycle.confirm(booking())
    assert t.changed and t.ledger == LedgerChange(take=(Slot("b1", T0, T0 + H),))


def test_confirm_refuses_a_booking_that_is_not_confirmed():
    with pytest.raises(TransitionError):
        lifecycle.confirm(booking(BookingStatus.DECLINED))


@pytest.mark.parametrize(
    ("status", "freed"),
    [(BookingStatus.CONFIRMED, True), (BookingStatus.DECLINED, False)],
)
def test_cancel_frees_only_a_held_slot(status, freed):
    t = lifecycle.cancel(booking(status), "why")
    assert t.booking.status is BookingStatus.CANCELLED and t.booking.status_reason == "why"
    assert t.ledger.free == ((Slot("b1", T0, T0 + H),) if freed else ())
    assert not t.ledger.take


def test_cancel_twice_changes_nothing():
    once = lifecycle.cancel(booking(), "why").booking
    again = lifecycle.cancel(once, "other reason")
    assert not again.changed and again.ledger.empty and again.booking.status_reason == "why"


@pytest.mark.parametrize("status", [BookingStatus.DECLINED, BookingStatus.CANCELLED])
def test_decline_of_a_booking_no_longer_confirmed_changes_nothing(status):
    t = lifecycle.decline(booking(status), "room said no")
    assert not t.changed and t.ledger.empty and t.booking.status is status


def test_decline_frees_the_slot_and_keeps_the_reason():
    t = lifecycle.decline(booking(), "room said no")
    assert t.booking.status is BookingStatus.DECLINED
    assert t.booking.status_reason == "room said no"
    assert t.ledger == LedgerChange(free=(Slot("b1", T0, T0 + H),))


def test_reconfirm_takes_the_new_slot_and_clears_the_reason():
    declined = lifecycle.decline(booking(), "no").booking
    t = lifecycle.reconfirm(declined, T0 + 2 * H, T0 + 3 * H)
    assert t.booking.status is BookingStatus.CONFIRMED and t.booking.status_reason is None
    assert (t.booking.start, t.booking.end) == (T0 + 2 * H, T0 + 3 * H)
    assert t.ledger == LedgerChange(take=(Slot("b1", T0 + 2 * H, T0 + 3 * H),))


def test_reconfirm_replayed_changes_nothing_and_cancelled_is_refused():
    again = lifecycle.reconfirm(booking(), T0, T0 + H)
    assert not again.changed and again.ledger.empty
    with pytest.raises(TransitionError):
        lifecycle.reconfirm(booking(BookingStatus.CANCELLED), T0, T0 + H)


def test_move_takes_new_and_frees_old_in_one_change_and_undo_reverses_it():
    t = lifecycle.move(booking(), T0 + H, T0 + 2 * H)
    assert t.ledger == LedgerChange(
        take=(Slot("b1", T0 + H, T0 + 2 * H),), free=(Slot("b1", T0, T0 + H),)
    )
    assert t.ledger.undo() == LedgerChange(take=t.ledger.free, free=t.ledger.take)
    assert not lifecycle.move(booking(), T0, T0 + H).changed


@pytest.mark.parametrize("status", [BookingStatus.DECLINED, BookingStatus.CANCELLED])
def test_only_a_confirmed_booking_moves(status):
    with pytest.raises(TransitionError):
        lifecycle.move(booking(status), T0 + H, T0 + 2 * H)


# -- property: the ledger mirrors the status, whatever happens ---------------------------
starts = st.integers(min_value=0, max_value=20).map(lambda h: T0 + h * H)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("cancel"), st.text(max_size=5)),
        st.tuples(st.just("decline"), st.text(max_size=5)),
        st.tuples(st.just("reconfirm"), starts),
        st.tuples(st.just("move"), starts),
    ),
    max_size=12,
)


@given(steps)
def test_the_ledger_holds_exactly_the_confirmed_slot(sequence):
    current = booking()
    ledger: set[Slot] = set(lifecycle.confirm(current).ledger.take)
    for kind, arg in sequence:
        try:
            if kind == "cancel":
                t = lifecycle.cancel(current, arg)
            elif kind == "decline":
                t = lifecycle.decline(current, arg)
            elif kind == "reconfirm":
                t = lifecycle.reconfirm(current, arg, arg + H)
            else:
                t = lifecycle.move(current, arg, arg + H)
        except TransitionError:
            continue  # refused: nothing changes
        assert set(t.ledger.free) <= ledger  # only what is held is freed
        ledger = (ledger - set(t.ledger.free)) | set(t.ledger.take)
        current = t.booking
        held = {Slot.of(current)} if current.status is BookingStatus.CONFIRMED else set()
        assert ledger == held
