"""Read-modify-write of one booking record under its ETag, retried on races."""

from __future__ import annotations

from collections.abc import Callable

from bookker_sync.storage.errors import ConflictError, NotFoundError
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
