"""Keeping personal data no longer than needed (timer ``purge_expired``, daily).

- events (pull feed, push) and dead letters older than EVENT_RETENTION_DAYS (30);
- the stored Outlook event JSON (attendees, bodies) of bookings that ended more than
  EVENT_JSON_RETENTION_DAYS (90) ago: the booking itself stays, without that JSON.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


@dataclass
class RetentionReport:
    events: int = 0
    dead_letters: int = 0
    event_json: int = 0


async def purge_expired(services: Services) -> RetentionReport:
    now, kept = services.clock.now(), services.settings.events
    report = RetentionReport()
    report.events = await services.events.purge_before(now - timedelta(days=kept.retention_days))
    old_letters = [
        d
        for d in await services.repos.dead_letters.list()
        if d.dead_at < now - timedelta(days=kept.retention_days)
    ]
    for dead in old_letters:
        await services.repos.dead_letters.delete(dead.tenant_id, f"e-{dead.seq:012d}")
    report.dead_letters = len(old_letters)
    cutoff = now - timedelta(days=kept.event_json_retention_days)
    async for stored in services.repos.bookings.query(None, "End lt @t", t=cutoff):
        record = stored.value
        if record.organizer_event is None and record.resource_event is None:
            continue
        b = record.booking
        await update_document(
            services.repos.bookings, b.tenant_id, b.id, _strip_event_json, first=stored
        )
        report.event_json += 1
    log.info("retention: %s", report)
    return report


def _strip_event_json(record: BookingRecord) -> bool:
    if record.organizer_event is None and record.resource_event is None:
        return False
    record.organizer_event, record.resource_event = None, None
    return True
