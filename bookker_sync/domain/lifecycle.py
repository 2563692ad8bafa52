"""A booking's life: the allowed status changes, and what each does to the space ledger.

Every place that changes a booking's status or times goes through one of these pure
functions; the caller writes the new booking and applies the ledger change. So the
ledger (which slots of a space are taken) and the bookings can't drift apart: a
confirmed booking holds exactly its slot, a declined or cancelled one holds none.

    (new) --confirm--> CONFIRMED --move--> CONFIRMED
                       CONFIRMED --cancel--> CANCELLED
                       CONFIRMED --decline--> DECLINED --reconfirm--> CONFIRMED
                       DECLINED  --cancel--> CANCELLED   (no slot to free)

Repeating a transition that already happened (a replayed delta page, a retried
message) changes nothing and frees or takes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bookker_sync.domain.models import Booking, BookingStatus


class TransitionError(ValueError):
    """The booking's status does not allow this change (e.g. moving a cancelled one)."""


@dataclass(frozen=True)
class Slot:
    """A booking's interval in its space's ledger."""

    booking_id: str
    start: datetime
    end: datetime

    @staticmethod
    def of(booking: Booking) -> Slot:
        return Slot(booking.id, booking.start, booking.end)


@dataclass(frozen=True)
class LedgerChange:
    take: tuple[Slot, ...] = ()
    free: tuple[Slot, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.take and not self.free

    def undo(self) -> LedgerChange:
        """The change that puts the ledger back (e.g. after Outlook refused a move)."""
        return LedgerChange(take=self.free, free=self.take)


@dataclass(frozen=True)
class Transition:
    booking: Booking  # the booking after the change (the same object when unchanged)
    ledger: LedgerChange = LedgerChange()
    changed: bool = False


def _with(booking: Booking, **fields: object) -> Booking:
    return booking.model_copy(update=fields)


def confirm(booking: Booking) -> Transition:
    """A new booking (made in Bookker or accepted from Outlook) takes its slot."""
    if booking.status is not BookingStatus.CONFIRMED:
        raise TransitionError(f"a new booking must be confirmed, not {booking.status.value}")
    return Transition(booking, LedgerChange(take=(Slot.of(booking),)), changed=True)


def cancel(booking: Booking, reason: str | None) -> Transition:
    """Cancelled in Bookker or Outlook, or released: the slot is freed."""
    if booking.status is BookingStatus.CANCELLED:
        return Transition(booking)
    freed = (Slot.of(booking),) if booking.status is BookingStatus.CONFIRMED else ()
    after = _with(booking, status=BookingStatus.CANCELLED, status_reason=reason)
    return Transition(after, LedgerChange(free=freed), changed=True)


def decline(booking: Booking, reason: str) -> Transition:
    """The room mailbox declined it: the slot is freed, the reason kept."""
    if booking.status is not BookingStatus.CONFIRMED:
        return Transition(booking)  # already declined or cancelled: nothing to do
    after = _with(booking, status=BookingStatus.DECLINED, status_reason=reason)
    return Transition(after, LedgerChange(free=(Slot.of(booking),)), changed=True)


def reconfirm(booking: Booking, start: datetime, end: datetime) -> Transition:
    """A declined booking the room holds again (moved to a free slot in Outlook)."""
    if booking.status is BookingStatus.CONFIRMED and (booking.start, booking.end) == (start, end):
        return Transition(booking)
    if booking.status is not BookingStatus.DECLINED:
        raise TransitionError(f"only a declined booking can be reconfirmed, not {booking.status}")
    after = _with(booking, status=BookingStatus.CONFIRMED, status_reason=None, start=start, end=end)
    return Transition(after, LedgerChange(take=(Slot.of(after),)), changed=True)


def move(booking: Booking, start: datetime, end: datetime) -> Transition:
    """New times for a confirmed booking: the new slot is taken, the old one freed
    (one ledger change, so a failed claim leaves the old slot held)."""
    if booking.status is not BookingStatus.CONFIRMED:
        raise TransitionError(f"only a confirmed booking can move, not {booking.status.value}")
    if (booking.start, booking.end) == (start, end):
        return Transition(booking)
    after = _with(booking, start=start, end=end)
    return Transition(
        after, LedgerChange(take=(Slot.of(after),), free=(Slot.of(booking),)), changed=True
    )
