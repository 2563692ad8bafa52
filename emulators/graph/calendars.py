"""One mailbox's calendar: stored copies, synthesised occurrences and views.

Views follow Graph: ``/events`` lists single instances and series masters;
``/calendarView`` and ``calendarView/delta`` list single instances, occurrences and
exceptions overlapping the window, never masters; ``/events/{id}/instances`` lists a
master's occurrences and exceptions (learn.microsoft.com/graph/api/user-list-calendarview,
…/event-list-instances).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from . import recurrence
from .model import EventCopy, occurrence_id, split_occurrence_id


def overlaps(start: datetime, end: datetime, ws: datetime, we: datetime) -> bool:
    if end <= start:  # zero-length events count where they start
        return ws <= start < we
    return start < we and end > ws


def shape_of(master: EventCopy) -> recurrence.SeriesShape:
    assert master.recurrence is not None
    return recurrence.SeriesShape(master.recurrence, master.start, master.end - master.start)


def synth_occurrence(master: EventCopy, original_start: datetime) -> EventCopy:
    """An occurrence as Graph shows it: the master's data at the occurrence's time.

    Its changeKey is the master's (it changes whenever the master does).
    Lists and dicts are shared with the master: callers must not mutate them.
    """
    return EventCopy(
        id=occurrence_id(master.id, original_start),
        mailbox=master.mailbox,
        meeting_uid=master.meeting_uid,
        meeting_created=master.meeting_created,
        kind="occurrence",
        start=original_start,
        end=original_start + (master.end - master.start),
        start_tz=master.start_tz,
        end_tz=master.end_tz,
        organizer=master.organizer,
        is_organizer=master.is_organizer,
        created=master.created,
        modified=master.modified,
        change_key=master.change_key,
        props=master.props,
        attendees=master.attendees,
        response=master.response,
        response_time=master.response_time,
        is_cancelled=master.is_cancelled,
        series_master_id=master.id,
        original_start=original_start,
        categories=master.categories,
        show_as=master.show_as,
    )


class Calendar:
    def __init__(self, mailbox: str) -> None:
        self.mailbox = mailbox
        self.events: dict[str, EventCopy] = {}
        self.by_transaction: dict[str, str] = {}
        self.by_meeting: dict[str, str] = {}  # meeting uid → root (single/master) id

    # -- storage -----------------------------------------------------------------
    def add(self, ev: EventCopy) -> None:
        self.events[ev.id] = ev
        if ev.kind in ("singleInstance", "seriesMaster"):
            self.by_meeting[ev.meeting_uid] = ev.id
            if ev.transaction_id:
                self.by_transaction[ev.transaction_id] = ev.id

    def remove(self, event_id: str) -> list[EventCopy]:
        """Remove a stored item (a master takes its exceptions along); returns what went."""
        ev = self.events.pop(event_id, None)
        if ev is None:
            return []
        gone = [ev]
        if ev.kind == "seriesMaster":
            for exc_id in list(ev.exceptions.values()):
                exc = self.events.pop(exc_id, None)
                if exc is not None:
                    gone.append(exc)
            ev.exceptions.clear()
        elif ev.kind == "exception" and ev.series_master_id:
            master = self.events.get(ev.series_master_id)
            if master is not None and ev.original_start is not None:
                master.exceptions.pop(ev.original_start, None)
        if ev.kind in ("singleInstance", "seriesMaster"):
            if self.by_meeting.get(ev.meeting_uid) == ev.id:
                del self.by_meeting[ev.meeting_uid]
            if ev.transaction_id and self.by_transaction.get(ev.transaction_id) == ev.id:
                del self.by_transaction[ev.transaction_id]
        return gone

    def root_for_meeting(self, meeting_uid: str) -> EventCopy | None:
        event_id = self.by_meeting.get(meeting_uid)
        return self.events.get(event_id) if event_id else None

    # -- lookups -----------------------------------------------------------------
    def lookup(self, event_id: str) -> EventCopy | None:
        """A stored item, or a live occurrence of a stored master."""
        ev = self.events.get(event_id)
        if ev is not None:
            return ev
        parts = split_occurrence_id(event_id)
        if parts is None:
            return None
        master_id, original_start = parts
        master = self.events.get(master_id)
        if master is None or master.kind != "seriesMaster":
            return None
        exc_id = master.exceptions.get(original_start)
        if exc_id is not None:
            return self.events.get(exc_id)
        if original_start in master.cancelled_occurrences:
            return None
        if not recurrence.is_occurrence(shape_of(master), original_start):
            return None
        return synth_occurrence(master, original_start)

    def instance_at(self, master: EventCopy, original_start: datetime) -> EventCopy | None:
        return self.lookup(occurrence_id(master.id, original_start))

    # -- views -------------------------------------------------------------------
    def roots(self) -> list[EventCopy]:
        return [e for e in self.events.values() if e.kind in ("singleInstance", "seriesMaster")]

    def instances(self, master: EventCopy, ws: datetime, we: datetime) -> list[EventCopy]:
        out: list[EventCopy] = []
        for start in recurrence.starts_between(shape_of(master), ws, we):
            if start in master.cancelled_occurrences or start in master.exceptions:
                continue
            out.append(synth_occurrence(master, start))
        for exc_id in master.exceptions.values():
            exc = self.events.get(exc_id)
            if exc is not None and overlaps(exc.start, exc.end, ws, we):
                out.append(exc)
        out.sort(key=lambda e: (e.start, e.id))
        return out

    def items_of_root(self, root: EventCopy, ws: datetime, we: datetime) -> list[EventCopy]:
        """What a calendar view shows of one stored single/master."""
        if root.kind == "seriesMaster":
            return self.instances(root, ws, we)
        if root.kind == "singleInstance" and overlaps(root.start, root.end, ws, we):
            return [root]
        return []

    def view(self, ws: datetime, we: datetime) -> list[EventCopy]:
        out: list[EventCopy] = []
        for root in self.roots():
            out.extend(self.items_of_root(root, ws, we))
        out.sort(key=lambda e: (e.start, e.id))
        return out

    def busy(
        self, ws: datetime, we: datetime, exclude_meeting: str | None = None
    ) -> list[EventCopy]:
        """Instances that make the mailbox busy in the window (for the room attendant)."""
        return [
            e
            for e in self.view(ws, we)
            if e.meeting_uid != exclude_meeting and not e.is_cancelled and e.show_as != "free"
        ]


def series_bounds(master: EventCopy) -> tuple[datetime, datetime | None]:
    """First start and last end of a series (None for an unbounded series)."""
    shape = shape_of(master)
    first = next(iter(recurrence.iter_starts(shape)), master.start)
    last = recurrence.last_start(shape)
    return first, (last + shape.duration if last is not None else None)


def duration(ev: EventCopy) -> timedelta:
    return ev.end - ev.start
