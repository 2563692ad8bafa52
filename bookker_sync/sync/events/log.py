"""``record_event``: the one way an event enters a tenant's log (and its push queue).

Called right where a decision is executed, one line each. The event id comes from the
decision (domain/events.py ``event_id``), so executing it again logs nothing new; the
log (storage/event_log.py) gives it the tenant's next sequence number.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent

from bookker_sync.domain.events import EventFacts, EventType, Origin, event_data, event_id
from bookker_sync.domain.models import Violation
from bookker_sync.json_types import JsonObject
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.booking_view import booking_json
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
_FORMAT = JSONFormat()


async def record_event(services: Services, facts: EventFacts) -> int | None:
    """Log the event; its sequence number, or None when it was logged already."""
    eid = event_id(facts)
    now = services.clock.now()

    def build(seq: int) -> JsonObject:
        attributes: JsonObject = {
            "id": eid,
            "source": f"/tenants/{facts.tenant_id}",
            "type": facts.type.cloud_type,
            "time": now,
            "datacontenttype": "application/json",
            # The CloudEvents "sequence" extension: the order within the tenant's log.
            "sequence": str(seq),
        }
        if facts.booking_id:
            attributes["subject"] = f"bookings/{facts.booking_id}"
        envelope = CloudEvent(attributes, event_data(facts))
        cloud_event: JsonObject = json.loads(_FORMAT.write(envelope))
        return cloud_event

    seq = await services.events.append(facts.tenant_id, eid, now, facts.booking_id, build)
    if seq is not None:
        log.info("event %s %s logged for %s (#%d)", facts.type.value, eid, facts.tenant_id, seq)
        from bookker_sync.sync.events.push import poke_delivery  # push imports this module

        await poke_delivery(services, facts.tenant_id)
    return seq


async def booking_event(
    services: Services,
    kind: EventType,
    record: BookingRecord,
    origin: Origin,
    *,
    key: str,
    reason: str | None = None,
    violations: Sequence[Violation] = (),
) -> int | None:
    """An event about one booking, carrying the booking as the API shows it."""
    b = record.booking
    return await record_event(services, EventFacts(
        tenant_id=b.tenant_id, type=kind, origin=origin, key=key, booking_id=b.id,
        booking=booking_json(record), reason=reason, violations=tuple(violations),
    ))  # fmt: skip
