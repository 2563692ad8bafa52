"""One booking record: read, read-modify-write under its ETag, and status/time changes
through the domain's booking lifecycle with the space ledger kept in step."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bookker_sync.domain.lifecycle import LedgerChange, Slot, Transition, TransitionError
from bookker_sync.domain.models import Booking
from bookker_sync.storage.errors import ConflictError, NotFoundError
from bookker_sync.storage.ledger import Claim
from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.storage.tables import Stored
from bookker_sync.sync.errors import ConflictAppError, NotFoundAppError
from bookker_sync.sync.services import Services

MAX_RACES = 20


async def get_record(services: Services, tenant_id: str, booking_id: str) -> Stored[BookingRecord]:
    stored = await services.repos.bookings.find(tenant_id, booking_id)
    if stored is None:
        raise NotFoundAppError(f"booking {booking_id} not found")
    return stored


async def mutate(
    services: Services,
    stored: Stored[BookingRecord],
    change: Callable[[BookingRecord], bool],
) -> BookingRecord:
    """Apply ``change`` (returns False when there is nothing to write) and save.

    On a lost race the record is re-read and ``change`` applied again, so callers
    write their intent, never a stale copy.
    """

    def stamped(record: BookingRecord) -> bool:
        if not change(record):
            return False
        record.booking.updated_at = services.clock.now()
        return True

    b = stored.value.booking
    try:
        return await update_document(
            services.repos.bookings, b.tenant_id, b.id, stamped, first=stored, attempts=MAX_RACES
        )
    except NotFoundError as exc:
        raise NotFoundAppError(f"booking {b.id} not found") from exc
    except ConflictError as exc:
        raise ConflictAppError("the booking kept changing; try again") from exc


# -- status and time changes: through the booking lifecycle ----------------------------
def claims(slots: Iterable[Slot]) -> list[Claim]:
    return [Claim(s.booking_id, s.start, s.end) for s in slots]


async def apply_ledger(
    services: Services, booking: Booking, change: LedgerChange, *, hold: bool = False
) -> None:
    """Take and free slots of the booking's space in one ledger write (a taken slot
    raises SlotTakenError and changes nothing)."""
    if change.take:
        await services.ledger.claim(
            booking.tenant_id, booking.space_id, claims(change.take), services.clock.now(),
            release=claims(change.free), hold=hold,
        )  # fmt: skip
    elif change.free:
        await services.ledger.release(booking.tenant_id, booking.space_id, claims(change.free))


async def change_booking(
    services: Services,
    stored: Stored[BookingRecord],
    step: Callable[[Booking], Transition],
    *,
    also: Callable[[BookingRecord], None] | None = None,
) -> tuple[BookingRecord, Transition]:
    """Apply a lifecycle step to a stored booking (``also`` updates the rest of the
    record, e.g. the room copy it came with).

    A slot to take is claimed before the record is written (taken → SlotTakenError,
    nothing written); a slot to free is freed after. On a lost race ``step`` is judged
    again on the fresh record; if the booking moved on so the step no longer applies
    (TransitionError), nothing more is written."""
    first = step(stored.value.booking)  # TransitionError: the caller's judgement is stale
    if first.ledger.take:
        await apply_ledger(services, first.booking, first.ledger)
    last = first

    def change(record: BookingRecord) -> bool:
        nonlocal last
        try:
            last = step(record.booking)
        except TransitionError:
            return False
        if not last.changed and also is None:
            return False
        record.booking = last.booking
        if also is not None:
            also(record)
        return True

    record = await mutate(services, stored, change)
    if not first.ledger.take and last.ledger.free:
        await apply_ledger(services, last.booking, last.ledger)
    return record, last
