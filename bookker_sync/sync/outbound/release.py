"""Queue ``outbound``: Bookker system actions applied to Outlook calendars.

Release: bidirectional → the room declines its copy with the reason
(the user sees why); unidirectional → the user's event is cancelled. Every step is
idempotent, so a redelivered message changes nothing the second time.
"""

from __future__ import annotations

import logging

from bookker_sync.domain.models import BookingStatus, TenantMode
from bookker_sync.graph.errors import GraphError
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.booking_records import get_record, mutate
from bookker_sync.sync.errors import NotFoundAppError
from bookker_sync.sync.messages import OutboundMessage
from bookker_sync.sync.outbound.cancellation import tell_outlook_cancelled
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


async def apply_outbound(services: Services, message: OutboundMessage) -> None:
    try:
        tenant = await get_tenant(services, message.tenant_id)
        stored = await get_record(services, message.tenant_id, message.booking_id)
    except NotFoundAppError as exc:
        log.warning("outbound %s for a missing tenant/booking: %s", message.action, exc)
        return
    booking = stored.value.booking
    if booking.status is not BookingStatus.CANCELLED:
        log.info("outbound release of %s skipped: booking is %s", booking.id, booking.status)
        return
    try:
        await tell_outlook_cancelled(
            services, tenant, booking, message.reason or "Released",
            room_decides=tenant.mode is TenantMode.BIDIRECTIONAL,
        )  # fmt: skip
    except GraphError as exc:
        if exc.transient:
            raise  # the queue tries again
        # Refused: retrying can't help. The booking shows it (sync state "failed").
        error = f"Outlook refused the release: {exc.message}"[:300]
        await mutate(services, stored, lambda r: _failed(r, error))
        log.warning("release of %s not told to Outlook: %s", booking.id, exc)


def _failed(record: BookingRecord, error: str) -> bool:
    if record.sync_error == error:
        return False
    record.sync_error = error
    return True
