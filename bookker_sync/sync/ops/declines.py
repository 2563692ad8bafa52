"""Recent declines (and reverted moves) per room, with the reasons the organizers were
given and whose meeting it was.

Append-only log in the ``declines`` table: partition = tenant, RowKey =
``<spaceId>|<inverted time>|<event hash>`` so a room's rows list newest first. Only
the last KEEP_PER_ROOM rows of a room are kept. Recording is best effort: it is what
the status page shows, never a reason to fail or repeat a sync.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.repositories import DeclineKind, DeclineRecord
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
KEEP_PER_ROOM = 20
_MAX_MS = 10**13  # inverted milliseconds: newest first in RowKey order


@dataclass(frozen=True)
class Meeting:
    """Whose meeting a decline or revert was about (each part optional)."""

    organizer: str | None = None
    subject: str | None = None
    start: datetime | None = None
    end: datetime | None = None


def _row_key(space_id: str, at: datetime, room_event_id: str) -> str:
    inverted = _MAX_MS - int(at.timestamp() * 1000)
    digest = hashlib.sha256(room_event_id.encode()).hexdigest()[:12]
    return f"{space_id}|{inverted:013d}|{digest}"


async def _room_rows(services: Services, tenant_id: str, space_id: str) -> list[DeclineRecord]:
    rows = [
        stored.value
        async for stored in services.repos.declines.query(
            tenant_id, "RowKey ge @lo and RowKey lt @hi", lo=f"{space_id}|", hi=f"{space_id}}}"
        )
    ]
    return sorted(rows, key=lambda r: r.at, reverse=True)


async def record_decline(
    services: Services,
    *,
    tenant_id: str,
    space_id: str,
    mailbox: str,
    room_event_id: str,
    reason: str,
    rules: Sequence[str] = (),
    meeting: Meeting | None = None,
    kind: DeclineKind = DeclineKind.DECLINE,
) -> None:
    meeting = meeting or Meeting()
    try:
        existing = await _room_rows(services, tenant_id, space_id)
        if any(
            r.room_event_id == room_event_id
            and r.reason == reason
            and r.kind is kind
            and (kind is DeclineKind.DECLINE or (r.start, r.end) == (meeting.start, meeting.end))
            for r in existing
        ):
            return  # a replayed delta page: already recorded
        now = services.clock.now()
        record = DeclineRecord(
            tenant_id=tenant_id, space_id=space_id, mailbox=Mailbox(mailbox),
            room_event_id=room_event_id, reason=reason[:1000], rules=list(rules), at=now,
            kind=kind, organizer=_short(meeting.organizer), subject=_short(meeting.subject),
            start=meeting.start, end=meeting.end,
        )  # fmt: skip
        await services.repos.declines.upsert(
            tenant_id, _row_key(space_id, now, room_event_id), record
        )
        for old in existing[KEEP_PER_ROOM - 1 :]:
            await services.repos.declines.delete(
                tenant_id, _row_key(space_id, old.at, old.room_event_id)
            )
    except StorageError as exc:
        log.warning("could not record the decline of %s: %s", room_event_id, exc)


def _short(text: str | None) -> str | None:
    return text[:200] if text else None


async def record_revert(
    services: Services,
    *,
    tenant_id: str,
    space_id: str,
    mailbox: str,
    organizer_event_id: str,
    reason: str,
    meeting: Meeting,
) -> None:
    """An organizer's move put back to the booked times: listed with the declines
    (``meeting`` holds the times the organizer had asked for)."""
    await record_decline(
        services, tenant_id=tenant_id, space_id=space_id, mailbox=mailbox,
        room_event_id=organizer_event_id, reason=reason, meeting=meeting,
        kind=DeclineKind.REVERT,
    )  # fmt: skip


async def recent_by_room(
    services: Services, tenant_id: str, per_room: int = 5
) -> dict[str, list[DeclineRecord]]:
    """The tenant's latest declines, newest first, grouped by space id."""
    by_room: dict[str, list[DeclineRecord]] = defaultdict(list)
    for record in await services.repos.declines.list(tenant_id):
        by_room[record.space_id].append(record)
    return {
        space: sorted(rows, key=lambda r: r.at, reverse=True)[:per_room]
        for space, rows in by_room.items()
    }
