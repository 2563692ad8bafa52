"""A Bookker booking being written to Outlook: the intent recorded before the write.

Creating a booking writes to two systems (the Outlook event, then Bookker's record), and
the process can die, storage can fail or Graph can answer late in between. So the
intent is stored first; the request completes it (records stored, intent removed) and
only then answers 201. Any intent still there after its deadline belongs to a request
that did not answer 201 (it crashed, timed out or answered 5xx), so it is undone:
whatever Graph applied (maybe after we gave up) is cancelled, the records and the slot
are freed. "503: nothing stored" stays true, and an event Graph applied late is never
adopted as someone's Outlook booking: until the intent is resolved, its room copy is
treated as in flight.

    PENDING --(request completes: intent removed)
    PENDING --deadline passed--> ABANDONING --cleaned up--> ABANDONED --a day--> (forgotten)

The ABANDONED tombstone makes a retry with the same Idempotency-Key answer that the
request was abandoned, instead of reviving the cancelled event.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from bookker_sync.domain.models import Model, UtcDatetime

# Longer than a request may take (its Graph write is bounded well below this), so an
# intent is only undone once its request can no longer complete it.
INTENT_SECONDS = 180
TOMBSTONE = timedelta(days=1)


class IntentState(StrEnum):
    PENDING = "pending"
    ABANDONING = "abandoning"
    ABANDONED = "abandoned"


class IntentSlot(Model):
    booking_id: str
    start: UtcDatetime
    end: UtcDatetime


class CreationIntent(Model):
    """``booking_id`` is the transactionId of the Outlook event (a series' id for a
    series); ``slots`` are the bookings it creates (one per occurrence)."""

    tenant_id: str
    booking_id: str
    space_id: str
    organizer_mailbox: str
    room_mailbox: str | None = None
    slots: list[IntentSlot]
    created_at: UtcDatetime
    deadline: UtcDatetime
    state: IntentState = IntentState.PENDING
    resolved_at: UtcDatetime | None = None

    @property
    def window(self) -> tuple[datetime, datetime]:
        return min(s.start for s in self.slots), max(s.end for s in self.slots)


class Verdict(StrEnum):
    WAIT = "wait"  # its request may still complete it
    UNDO = "undo"  # cancel what Outlook has, free the records and the slot
    FORGET = "forget"  # an old tombstone


def new_intent(
    *,
    tenant_id: str,
    booking_id: str,
    space_id: str,
    organizer_mailbox: str,
    room_mailbox: str | None,
    slots: Iterable[tuple[str, datetime, datetime]],
    now: datetime,
) -> CreationIntent:
    return CreationIntent(
        tenant_id=tenant_id,
        booking_id=booking_id,
        space_id=space_id,
        organizer_mailbox=organizer_mailbox,
        room_mailbox=room_mailbox,
        slots=[IntentSlot(booking_id=i, start=s, end=e) for i, s, e in slots],
        created_at=now,
        deadline=now + timedelta(seconds=INTENT_SECONDS),
    )


def verdict(intent: CreationIntent, now: datetime) -> Verdict:
    if intent.state is IntentState.ABANDONING:
        return Verdict.UNDO  # an earlier sweep started; finish it
    if intent.state is IntentState.ABANDONED:
        resolved = intent.resolved_at or intent.deadline
        return Verdict.FORGET if now - resolved >= TOMBSTONE else Verdict.WAIT
    return Verdict.UNDO if now >= intent.deadline else Verdict.WAIT


def in_flight(intents: Iterable[CreationIntent]) -> list[tuple[datetime, datetime]]:
    """Slots whose Outlook events may still appear or be cancelled: a room copy there is
    not judged yet (neither a Bookker booking nor a stranger's)."""
    return [
        (s.start, s.end)
        for i in intents
        if i.state in (IntentState.PENDING, IntentState.ABANDONING)
        for s in i.slots
    ]
