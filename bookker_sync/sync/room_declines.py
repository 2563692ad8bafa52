"""Every room decline goes out and is recorded here, whatever decided it.

The decision is always the domain's (reconcile: an Outlook request breaks a rule or
conflicts; ``outlook_cancellation``: Bookker cancelled or released a booking the room
holds). This module does it: the room mailbox declines its copy with the reason (the
organizer sees it), and the decline is written to the room's recent declines, which
the status page and the CLI show.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.sync.ops import declines
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RoomDecline:
    tenant_id: str
    space_id: str
    room: str
    room_event_id: str
    reason: str
    rules: Sequence[str] = ()
    # Whose meeting, for the status page and the CLI (what the room's copy or the
    # booking says; absent when unknown).
    organizer: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None


async def decline_room_copy(
    services: Services, calendar: CalendarApi, decline: RoomDecline, *, sent: bool = False
) -> None:
    """The room declines its copy (unless ``sent``: a $batch already did), then the
    decline is recorded. Declining a copy that is already gone counts as done."""
    if not sent:
        await calendar.decline_event(decline.room, decline.room_event_id, decline.reason)
    log.info("room %s declined %s: %s", decline.room, decline.room_event_id, decline.reason)
    await declines.record_decline(
        services, tenant_id=decline.tenant_id, space_id=decline.space_id, mailbox=decline.room,
        room_event_id=decline.room_event_id, reason=decline.reason, rules=decline.rules,
        meeting=declines.Meeting(decline.organizer, decline.subject, decline.start, decline.end),
    )  # fmt: skip
