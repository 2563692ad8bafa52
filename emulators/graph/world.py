"""The emulated world: directory, calendars, meeting semantics, change log.

Meeting semantics modelled on Exchange Online:

- The organizer's copy is authoritative. Creating or updating it sends a meeting
  message to every attendee that is a known mailbox; delivering it creates or updates
  that mailbox's own copy (own id and changeKey, shared iCalUId). Messages are
  delivered after ``propagation_delay`` seconds of virtual time (default: at once,
  i.e. before the writing request returns).
- Attendee responses (accept / tentativelyAccept / decline with sendResponse) travel
  back the same way and update the organizer's ``attendees[].status``.
- Removing an attendee, deleting or cancelling the organizer's event sends a
  cancellation: the copies stay, ``isCancelled`` with a "Canceled: " subject, as
  Outlook shows them until someone removes them; a room removes its copy only with
  RemoveCanceledMeetings (default False: "Canceled meetings aren't deleted",
  learn.microsoft.com/powershell/module/exchange/set-calendarprocessing). A cancelled
  copy no longer makes its mailbox busy. A cancelled occurrence of a series leaves the
  attendees' series (not emulated as a cancelled exception).
- Room mailboxes run the booking attendant (``attendant``) on every request; a
  decline removes the room's copy (Exchange moves it to Deleted Items) and answers
  the organizer with "declined".
- Declining (as attendee) removes the copy from the calendar; per occurrence, the
  occurrence is removed from the series. Updating or responding to one occurrence
  turns it into an exception.

Every write to a stored copy gives it a new changeKey and is appended to the change
log (``changelog``), including the attendant's writes and occurrence changes.
"""

from __future__ import annotations

import copy as _copy
import heapq
import itertools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from . import attendant, recurrence
from .calendars import Calendar, overlaps, series_bounds, shape_of
from .changelog import ChangeLog, ChangeType
from .clock import VirtualClock
from .directory import Directory, Mailbox
from .errors import GraphError, bad_request, not_found
from .event_input import (
    NO_RESPONSE_TIME,
    EventInput,
    normalize_location,
    parse,
    parse_extension,
)
from .model import (
    SHARED_PROPS,
    EventCopy,
    Extension,
    new_change_key,
    new_event_id,
    new_meeting_uid,
    occurrence_id,
)
from .timezones import format_utc_timestamp

Response = Literal["accepted", "tentativelyAccepted", "declined"]

DEFAULT_PROPS: dict[str, Any] = {
    "subject": "",
    "body": {"contentType": "html", "content": ""},
    "importance": "normal",
    "sensitivity": "normal",
    "isAllDay": False,
    "isReminderOn": True,
    "reminderMinutesBeforeStart": 15,
    "responseRequested": True,
    "allowNewTimeProposals": True,
    "hideAttendees": False,
    "isOnlineMeeting": False,
    "onlineMeetingProvider": "unknown",
}
CANCELED_PREFIX = "Canceled: "


def _online_meeting(ev: EventCopy, existing: dict[str, Any] | None) -> None:
    """isOnlineMeeting: true makes Outlook create the online meeting (Teams by default)
    and fill ``onlineMeeting`` (joinUrl). Once online, the meeting stays online: later
    changes to isOnlineMeeting are ignored. (learn.microsoft.com/graph/
    outlook-calendar-online-meetings: "After you set isOnlineMeeting to true, Microsoft
    Graph initializes onlineMeeting. Subsequently Outlook ignores any further changes to
    isOnlineMeeting, and the meeting remains available online.")"""
    if existing is not None:
        ev.props["onlineMeeting"] = existing
        ev.props["isOnlineMeeting"] = True
        return
    if not ev.props.get("isOnlineMeeting"):
        return
    if ev.props.get("onlineMeetingProvider", "unknown") == "unknown":
        ev.props["onlineMeetingProvider"] = "teamsForBusiness"  # the tenant's default
    meeting = uuid.uuid4().hex
    ev.props["onlineMeeting"] = {
        "joinUrl": f"https://teams.microsoft.com/l/meetup-join/19%3ameeting_{meeting}%40thread.v2/0",
        "conferenceId": str(int(meeting[:8], 16) % 10**9),
        "tollNumber": None,
    }


@dataclass
class MeetingSnapshot:
    """The organizer's meeting as sent in one message (deep copies)."""

    root: EventCopy
    exceptions: dict[datetime, EventCopy]


@dataclass(order=True)
class Delivery:
    due: datetime
    seq: int
    kind: str = field(compare=False)  # meeting | cancel | cancel_occurrence | response
    target: str = field(compare=False)  # mailbox key
    meeting_uid: str = field(compare=False)
    snapshot: MeetingSnapshot | None = field(default=None, compare=False)
    time_changed: bool = field(default=False, compare=False)
    changed_occurrences: tuple[datetime, ...] = field(default=(), compare=False)
    occurrence: datetime | None = field(default=None, compare=False)
    responder: str | None = field(default=None, compare=False)
    response: str | None = field(default=None, compare=False)


class World:
    def __init__(self, clock: VirtualClock) -> None:
        self.clock = clock
        self.directory = Directory()
        self.calendars: dict[str, Calendar] = {}
        self.changes = ChangeLog()
        self.propagation_delay = 0.0
        self._outbox: list[Delivery] = []
        self._seq = itertools.count()

    def reset(self) -> None:
        self.directory = Directory()
        self.calendars.clear()
        self.changes.clear()
        self._outbox.clear()
        self.propagation_delay = 0.0

    # -- basics ------------------------------------------------------------------
    def now(self) -> datetime:
        return self.clock.now()

    def calendar(self, mailbox: Mailbox | str) -> Calendar:
        key = mailbox.key if isinstance(mailbox, Mailbox) else mailbox
        cal = self.calendars.get(key)
        if cal is None:
            cal = Calendar(key)
            self.calendars[key] = cal
        return cal

    def _log(self, ev: EventCopy, change_type: ChangeType, event_id: str | None = None) -> None:
        self.changes.append(
            mailbox=ev.mailbox,
            event_id=event_id or ev.id,
            root_id=ev.root_id,
            change_type=change_type,
            at=self.now(),
            kind=ev.kind if event_id is None else "occurrence",
            change_key=None if change_type == "deleted" else ev.change_key,
        )

    def _write(self, ev: EventCopy, change_type: ChangeType = "updated") -> None:
        ev.touch(self.now())
        self._log(ev, change_type)

    def _remove(self, cal: Calendar, event_id: str) -> None:
        for gone in cal.remove(event_id):
            self._log(gone, "deleted")

    def _remove_occurrence(
        self, cal: Calendar, master: EventCopy, original_start: datetime
    ) -> None:
        exc_id = master.exceptions.get(original_start)
        if exc_id is not None:
            cal.remove(exc_id)
        master.cancelled_occurrences.add(original_start)
        self.changes.append(
            mailbox=master.mailbox,
            event_id=occurrence_id(master.id, original_start),
            root_id=master.id,
            change_type="deleted",
            at=self.now(),
            kind="occurrence",
            change_key=None,
        )

    def get_event(self, mb: Mailbox, event_id: str) -> EventCopy:
        ev = self.calendar(mb).lookup(event_id)
        if ev is None:
            raise not_found()
        return ev

    def _materialize(self, cal: Calendar, occ: EventCopy) -> EventCopy:
        """Turn a synthesised occurrence into a stored exception (same id)."""
        if occ.kind != "occurrence":
            return occ
        assert occ.series_master_id is not None and occ.original_start is not None
        master = cal.events[occ.series_master_id]
        exc = _copy.deepcopy(occ)
        exc.kind = "exception"
        exc.extensions = {}
        cal.add(exc)
        master.exceptions[occ.original_start] = exc.id
        return exc

    def _display_name(self, address: str) -> str:
        mb = self.directory.by_key(address)
        return mb.display_name if mb else address

    # -- create ------------------------------------------------------------------
    def create_event(self, mb: Mailbox, body: Any) -> tuple[EventCopy, bool]:
        inp = parse(body, creating=True)
        cal = self.calendar(mb)
        # transactionId: "a custom identifier specified by a client app for the server to
        # avoid redundant POST operations in case of client retries to create the same
        # event" (learn.microsoft.com/graph/api/resources/event). The docs do not give
        # the status of the deduplicated answer: we answer 201 with the existing event.
        if inp.transaction_id and inp.transaction_id in cal.by_transaction:
            existing = cal.events.get(cal.by_transaction[inp.transaction_id])
            if existing is not None:
                return existing, False
        assert inp.start is not None and inp.end is not None
        now = self.now()
        ev = EventCopy(
            id=new_event_id(),
            mailbox=mb.key,
            meeting_uid=new_meeting_uid(),
            meeting_created=now,
            kind="singleInstance",
            start=inp.start[0],
            end=inp.end[0],
            start_tz=inp.start[1],
            end_tz=inp.end[1],
            organizer={"emailAddress": {"name": mb.display_name, "address": mb.address}},
            is_organizer=True,
            created=now,
            modified=now,
            change_key=new_change_key(),
            props=_copy.deepcopy(DEFAULT_PROPS),
            transaction_id=inp.transaction_id,
        )
        ev.props["location"] = normalize_location(None)
        ev.props["locations"] = []
        self._apply_input(ev, inp, previous_attendees=[])
        for raw in inp.extensions:
            name, data = parse_extension(raw)
            ev.extensions[name] = Extension(name, data)
        cal.add(ev)
        self._log(ev, "created")
        if ev.attendees:
            self._send_meeting(cal, ev, time_changed=True, removed=[])
        return ev, True

    def _apply_input(
        self, ev: EventCopy, inp: EventInput, previous_attendees: list[dict[str, Any]]
    ) -> bool:
        """Apply a validated body to a copy; True when start/end/recurrence changed."""
        before = (ev.start, ev.end, ev.start_tz, ev.end_tz, _copy.deepcopy(ev.recurrence))
        online_before = ev.props.get("onlineMeeting")
        for key, value in inp.props.items():
            ev.props[key] = value
        _online_meeting(ev, online_before)
        if "location" in inp.props and "locations" not in inp.props:
            loc = inp.props["location"]
            ev.props["locations"] = [loc] if loc.get("displayName") else []
        elif "locations" in inp.props and "location" not in inp.props:
            locs = inp.props["locations"]
            ev.props["location"] = locs[0] if locs else normalize_location(None)
        if inp.start is not None:
            ev.start, ev.start_tz = inp.start
        if inp.end is not None:
            ev.end, ev.end_tz = inp.end
        if ev.end < ev.start:
            raise bad_request(
                "Your request can't be completed. The end time must be after the start time.",
                "ErrorInvalidRequest",
            )
        if inp.categories is not None:
            ev.categories = inp.categories
        if inp.show_as is not None:
            ev.show_as = inp.show_as
        if inp.attendees is not None:
            old = {str(a["emailAddress"]["address"]).lower(): a for a in previous_attendees}
            merged: list[dict[str, Any]] = []
            for att in inp.attendees:
                addr = str(att["emailAddress"]["address"])
                prev = old.get(addr.lower())
                if prev is not None:
                    att["status"] = _copy.deepcopy(prev["status"])
                if att["emailAddress"]["name"] == addr:
                    att["emailAddress"]["name"] = self._display_name(addr)
                merged.append(att)
            ev.attendees = merged
        if inp.recurrence_set:
            if ev.kind in ("exception", "occurrence"):
                raise bad_request(
                    "Your request can't be completed. An occurrence can't have a recurrence.",
                    "ErrorInvalidRequest",
                )
            if inp.recurrence is None:
                ev.recurrence = None
                ev.kind = "singleInstance"
            else:
                ev.recurrence = recurrence.normalize(inp.recurrence, ev.start_tz)
                ev.kind = "seriesMaster"
        after = (ev.start, ev.end, ev.start_tz, ev.end_tz, ev.recurrence)
        return before != after

    # -- read --------------------------------------------------------------------
    def list_roots(self, mb: Mailbox) -> list[EventCopy]:
        roots = self.calendar(mb).roots()
        roots.sort(key=lambda e: (e.created, e.id))
        return roots

    def calendar_view(self, mb: Mailbox, ws: datetime, we: datetime) -> list[EventCopy]:
        return self.calendar(mb).view(ws, we)

    def instances(self, mb: Mailbox, event_id: str, ws: datetime, we: datetime) -> list[EventCopy]:
        ev = self.get_event(mb, event_id)
        if ev.kind != "seriesMaster":
            raise bad_request(
                "Your request can't be completed. The event is not a series master.",
                "ErrorInvalidRequest",
            )
        return self.calendar(mb).instances(ev, ws, we)

    # -- update ------------------------------------------------------------------
    def update_event(self, mb: Mailbox, event_id: str, body: Any) -> EventCopy:
        cal = self.calendar(mb)
        ev = self.get_event(mb, event_id)
        inp = parse(body, creating=False)
        if ev.kind == "occurrence":
            ev = self._materialize(cal, ev)
        previous = _copy.deepcopy(ev.attendees)
        was_meeting = bool(ev.attendees)
        time_changed = self._apply_input(ev, inp, previous_attendees=previous)
        if ev.kind == "seriesMaster" and time_changed:
            # Outlook drops the exceptions of a series whose pattern or times change.
            for exc_id in list(ev.exceptions.values()):
                self._remove(cal, exc_id)
            ev.exceptions.clear()
            ev.cancelled_occurrences.clear()
        if ev.kind == "singleInstance" and ev.exceptions:
            for exc_id in list(ev.exceptions.values()):
                self._remove(cal, exc_id)
            ev.cancelled_occurrences.clear()
        self._write(ev)
        if ev.is_organizer and (was_meeting or ev.attendees):
            if ev.kind == "exception":
                assert ev.original_start is not None and ev.series_master_id is not None
                master = cal.events[ev.series_master_id]
                self._send_meeting(
                    cal,
                    master,
                    time_changed=False,
                    removed=[],
                    changed_occurrences=(ev.original_start,) if time_changed else (),
                )
            else:
                prev_keys = {str(a["emailAddress"]["address"]).lower() for a in previous}
                removed = sorted(prev_keys - set(ev.attendee_keys()))
                self._send_meeting(cal, ev, time_changed=time_changed, removed=removed)
        return ev

    # -- delete / cancel ---------------------------------------------------------
    def delete_event(self, mb: Mailbox, event_id: str) -> None:
        cal = self.calendar(mb)
        ev = self.get_event(mb, event_id)
        self._delete(cal, ev)

    def _delete(self, cal: Calendar, ev: EventCopy) -> None:
        if ev.kind in ("occurrence", "exception"):
            assert ev.series_master_id is not None and ev.original_start is not None
            master = cal.events[ev.series_master_id]
            self._remove_occurrence(cal, master, ev.original_start)
            if master.is_organizer and master.attendees:
                self._send_to_attendees(master, "cancel_occurrence", occurrence=ev.original_start)
            return
        self._remove(cal, ev.id)
        if ev.is_organizer and ev.attendees and not ev.is_cancelled:
            self._send_to_attendees(ev, "cancel")

    def cancel_event(self, mb: Mailbox, event_id: str, comment: str | None) -> None:
        cal = self.calendar(mb)
        ev = self.get_event(mb, event_id)
        if not ev.is_organizer:
            # learn.microsoft.com/graph/api/event-cancel: attendees get 400 with this text.
            raise bad_request(
                "Your request can't be completed. You need to be an organizer to cancel a meeting.",
                "ErrorInvalidRequest",
            )
        self._delete(cal, ev)

    # -- responses ---------------------------------------------------------------
    def respond(
        self,
        mb: Mailbox,
        event_id: str,
        response: Response,
        comment: str | None,
        send_response: bool,
    ) -> None:
        cal = self.calendar(mb)
        ev = self.get_event(mb, event_id)
        if ev.is_organizer:
            raise bad_request(
                "Your request can't be completed. You can't respond to a meeting you organized.",
                "ErrorInvalidRequest",
            )
        if ev.is_cancelled:
            raise bad_request(
                "Your request can't be completed. The meeting has been canceled.",
                "ErrorInvalidRequest",
            )
        occurrence = ev.original_start if ev.kind in ("occurrence", "exception") else None
        self._set_own_response(cal, ev, response)
        if send_response:
            self._send_response(ev, mb.key, response, occurrence)

    def _set_own_response(self, cal: Calendar, ev: EventCopy, response: str) -> None:
        """An attendee copy's own answer (the attendee's side only).

        Declining moves the item to Deleted Items, as Exchange does for declined
        meetings (and the booking attendant for a room's declines): the copy leaves
        the calendar, per occurrence the occurrence leaves the series.
        """
        if response == "declined":
            self._delete_own(cal, ev)
            return
        if ev.kind == "occurrence":
            ev = self._materialize(cal, ev)
        ev.response = response
        ev.response_time = self.now()
        ev.show_as = "tentative" if response == "tentativelyAccepted" else "busy"
        self._write(ev)

    def _delete_own(self, cal: Calendar, ev: EventCopy) -> None:
        if ev.kind in ("occurrence", "exception"):
            assert ev.series_master_id is not None and ev.original_start is not None
            self._remove_occurrence(cal, cal.events[ev.series_master_id], ev.original_start)
        else:
            self._remove(cal, ev.id)

    # -- extensions --------------------------------------------------------------
    def _extension_target(self, mb: Mailbox, event_id: str) -> EventCopy:
        ev = self.get_event(mb, event_id)
        if ev.kind == "occurrence":
            ev = self._materialize(self.calendar(mb), ev)
        return ev

    def add_extension(self, mb: Mailbox, event_id: str, body: Any) -> Extension:
        ev = self._extension_target(mb, event_id)
        name, data = parse_extension(body)
        if name in ev.extensions:
            raise GraphError(
                409,
                "ErrorItemAlreadyExists",
                f"An extension with the name '{name}' already exists on this item.",
            )
        ext = Extension(name, data)
        ev.extensions[name] = ext
        self._write(ev)
        return ext

    def find_extension(self, ev: EventCopy, ext_id: str) -> Extension:
        for ext in ev.extensions.values():
            if ext_id in (ext.id, ext.name):
                return ext
        raise not_found("The specified object was not found in the store.")

    def update_extension(self, mb: Mailbox, event_id: str, ext_id: str, body: Any) -> Extension:
        ev = self._extension_target(mb, event_id)
        ext = self.find_extension(ev, ext_id)
        if not isinstance(body, dict):
            raise bad_request("Empty Payload. JSON content expected.", "BadRequest")
        for k, v in body.items():
            if k in ("extensionName", "id") or k.startswith("@odata."):
                continue
            ext.data[k] = v
        self._write(ev)
        return ext

    def delete_extension(self, mb: Mailbox, event_id: str, ext_id: str) -> None:
        ev = self._extension_target(mb, event_id)
        ext = self.find_extension(ev, ext_id)
        del ev.extensions[ext.name]
        self._write(ev)

    # -- messages ----------------------------------------------------------------
    def _enqueue(self, delivery_kind: str, target: str, meeting_uid: str, **kw: Any) -> None:
        due = self.now() + timedelta(seconds=self.propagation_delay)
        heapq.heappush(
            self._outbox,
            Delivery(due, next(self._seq), delivery_kind, target, meeting_uid, **kw),
        )

    def _snapshot(self, cal: Calendar, root: EventCopy) -> MeetingSnapshot:
        exceptions = {
            os: _copy.deepcopy(cal.events[eid])
            for os, eid in root.exceptions.items()
            if eid in cal.events
        }
        return MeetingSnapshot(_copy.deepcopy(root), exceptions)

    def _send_meeting(
        self,
        cal: Calendar,
        root: EventCopy,
        *,
        time_changed: bool,
        removed: list[str],
        changed_occurrences: tuple[datetime, ...] = (),
    ) -> None:
        snap = self._snapshot(cal, root)
        organizer = root.mailbox
        for key in dict.fromkeys(root.attendee_keys()):
            if key == organizer or self.directory.by_key(key) is None:
                continue
            self._enqueue(
                "meeting",
                key,
                root.meeting_uid,
                snapshot=snap,
                time_changed=time_changed,
                changed_occurrences=changed_occurrences,
            )
        for key in removed:
            if key != organizer and self.directory.by_key(key) is not None:
                self._enqueue("cancel", key, root.meeting_uid)

    def _send_to_attendees(
        self, root: EventCopy, kind: str, occurrence: datetime | None = None
    ) -> None:
        for key in dict.fromkeys(root.attendee_keys()):
            if key == root.mailbox or self.directory.by_key(key) is None:
                continue
            self._enqueue(kind, key, root.meeting_uid, occurrence=occurrence)

    def _send_response(
        self, ev: EventCopy, responder: str, response: str, occurrence: datetime | None
    ) -> None:
        organizer = ev.organizer_key()
        if not organizer or self.directory.by_key(organizer) is None:
            return
        self._enqueue(
            "response",
            organizer,
            ev.meeting_uid,
            responder=responder,
            response=response,
            occurrence=occurrence,
        )

    def pending_deliveries(self) -> int:
        return len(self._outbox)

    def next_due(self) -> datetime | None:
        return self._outbox[0].due if self._outbox else None

    def pump(self) -> int:
        """Deliver every message that is due on the virtual clock (in order)."""
        done = 0
        while self._outbox and self._outbox[0].due <= self.now():
            delivery = heapq.heappop(self._outbox)
            target = self.directory.by_key(delivery.target)
            if target is None:
                continue
            if delivery.kind == "meeting":
                self._deliver_meeting(target, delivery)
            elif delivery.kind == "cancel":
                self._deliver_cancel(target, delivery.meeting_uid)
            elif delivery.kind == "cancel_occurrence":
                assert delivery.occurrence is not None
                self._deliver_cancel_occurrence(target, delivery.meeting_uid, delivery.occurrence)
            elif delivery.kind == "response":
                self._deliver_response(target, delivery)
            done += 1
        return done

    # -- delivery: meeting requests and updates ----------------------------------
    def _deliver_meeting(self, target: Mailbox, d: Delivery) -> None:
        assert d.snapshot is not None
        cal = self.calendar(target)
        snap = d.snapshot
        existing = cal.root_for_meeting(d.meeting_uid)
        # A kept cancelled copy (the attendee was removed, then invited again) is
        # answered anew, like a first request.
        fresh = existing is None or existing.is_cancelled
        if target.kind != "room":
            reset = fresh or d.time_changed
            self._sync_copy(cal, target, existing, snap, reset_response=reset)
            return
        needs_eval = fresh or d.time_changed
        if needs_eval:
            decision = self._room_decision(target, cal, snap)
            if decision is None:  # the room does not process requests
                self._sync_copy(cal, target, existing, snap, reset_response=True)
                return
            if not decision.accept:
                if existing is not None:
                    self._remove(cal, existing.id)
                self._send_response(snap.root, target.key, "declined", None)
                return
            copy_ = self._sync_copy(
                cal, target, existing, snap, reset_response=True, response="accepted"
            )
            for os in decision.declined_occurrences:
                if os not in copy_.cancelled_occurrences:
                    self._remove_occurrence(cal, copy_, os)
            self._send_response(copy_, target.key, "accepted", None)
            for os in decision.declined_occurrences:
                self._send_response(copy_, target.key, "declined", os)
            return
        copy_ = self._sync_copy(cal, target, existing, snap, reset_response=False)
        for os in d.changed_occurrences:
            self._room_reevaluate_occurrence(target, cal, copy_, snap, os)

    def _room_instances(
        self, snap: MeetingSnapshot, ws: datetime, we: datetime
    ) -> list[attendant.Instance]:
        root = snap.root
        if root.kind != "seriesMaster":
            return [attendant.Instance(root.start, root.end, None)]
        out: list[attendant.Instance] = []
        shape = shape_of(root)
        for os in recurrence.starts_between(shape, ws, we):
            if os in root.cancelled_occurrences:
                continue
            exc = snap.exceptions.get(os)
            if exc is not None:
                out.append(attendant.Instance(exc.start, exc.end, os))
            else:
                out.append(attendant.Instance(os, os + shape.duration, os))
        for os, exc in snap.exceptions.items():
            if not any(i.original_start == os for i in out) and overlaps(
                exc.start, exc.end, ws, we
            ):
                out.append(attendant.Instance(exc.start, exc.end, os))
        return out

    def _room_decision(
        self, room: Mailbox, cal: Calendar, snap: MeetingSnapshot
    ) -> attendant.Decision | None:
        now = self.now()
        policy = room.policy
        horizon = now + timedelta(days=policy.booking_window_days)
        root = snap.root
        if root.kind == "seriesMaster":
            _first, last_end = series_bounds(root)
            # Conflicts only matter from now to just past the booking window.
            ws = now - timedelta(days=1)
            we = horizon + timedelta(days=1)
            if last_end is not None:
                we = min(we, last_end + timedelta(seconds=1))
            instances = self._room_instances(snap, ws, we)
            recurring = True
        else:
            instances = self._room_instances(snap, root.start, root.end + timedelta(seconds=1))
            last_end = root.end
            recurring = False
        if not instances:
            return attendant.decide(policy, now, [], [], recurring=recurring, series_end=last_end)
        bs = min(i.start for i in instances)
        be = max(i.end for i in instances)
        busy = [(e.start, e.end) for e in cal.busy(bs, be, exclude_meeting=root.meeting_uid)]
        return attendant.decide(
            policy, now, instances, busy, recurring=recurring, series_end=last_end
        )

    def _room_reevaluate_occurrence(
        self,
        room: Mailbox,
        cal: Calendar,
        master: EventCopy,
        snap: MeetingSnapshot,
        os: datetime,
    ) -> None:
        exc = snap.exceptions.get(os)
        if exc is None:
            return
        inst = attendant.Instance(exc.start, exc.end, os)
        busy = [
            (e.start, e.end)
            for e in cal.busy(exc.start, exc.end, exclude_meeting=master.meeting_uid)
        ]
        decision = attendant.decide(
            room.policy, self.now(), [inst], busy, recurring=False, series_end=exc.end
        )
        if decision is None:
            return
        if decision.accept:
            if os in master.cancelled_occurrences:
                master.cancelled_occurrences.discard(os)
                self._sync_exception(cal, room, master, exc, response="accepted")
            else:
                current = cal.instance_at(master, os)
                if (
                    current is not None
                    and current.kind == "exception"
                    and current.response != "accepted"
                ):
                    current.response = "accepted"
                    current.response_time = self.now()
                    self._write(current)
            self._send_response(master, room.key, "accepted", os)
        else:
            if os not in master.cancelled_occurrences:
                self._remove_occurrence(cal, master, os)
            self._send_response(master, room.key, "declined", os)

    def _shared_from(self, target: Mailbox, src: EventCopy) -> dict[str, Any]:
        """The shared props as the target mailbox stores them."""
        props = {k: _copy.deepcopy(src.props[k]) for k in SHARED_PROPS if k in src.props}
        if target.kind == "room":
            if target.policy.delete_subject:
                props["subject"] = str(src.organizer.get("emailAddress", {}).get("name") or "")
            if target.policy.delete_comments and "body" in props:
                props["body"] = {
                    "contentType": props["body"].get("contentType", "html"),
                    "content": "",
                }
        return props

    def _fingerprint(self, ev: EventCopy) -> tuple[Any, ...]:
        return (
            ev.kind,
            ev.start,
            ev.end,
            ev.start_tz,
            ev.end_tz,
            repr(sorted((k, repr(v)) for k, v in ev.props.items() if k in SHARED_PROPS)),
            repr(ev.attendees),
            repr(ev.organizer),
            repr(ev.recurrence),
            ev.response,
            ev.show_as,
            ev.is_cancelled,
        )

    def _sync_copy(
        self,
        cal: Calendar,
        target: Mailbox,
        existing: EventCopy | None,
        snap: MeetingSnapshot,
        *,
        reset_response: bool,
        response: str | None = None,
    ) -> EventCopy:
        """Create or update the target's copy so that it matches the organizer's message."""
        org = snap.root
        now = self.now()
        if existing is not None and existing.kind != org.kind:
            self._remove(cal, existing.id)
            existing = None
        new_response = response or ("notResponded" if reset_response else None)
        if existing is None:
            ev = EventCopy(
                id=new_event_id(),
                mailbox=target.key,
                meeting_uid=org.meeting_uid,
                meeting_created=org.meeting_created,
                kind=org.kind,
                start=org.start,
                end=org.end,
                start_tz=org.start_tz,
                end_tz=org.end_tz,
                organizer=_copy.deepcopy(org.organizer),
                is_organizer=False,
                created=now,
                modified=now,
                change_key=new_change_key(),
                props={**_copy.deepcopy(DEFAULT_PROPS), **self._shared_from(target, org)},
                attendees=_untracked(org.attendees),
                response=new_response or "notResponded",
                response_time=now if response else None,
                recurrence=_copy.deepcopy(org.recurrence),
                cancelled_occurrences=set(org.cancelled_occurrences),
                show_as=_show_as_for(new_response or "notResponded", org.show_as),
            )
            ev.delivered = _delivered(org)
            cal.add(ev)
            self._log(ev, "created")
            for exc in snap.exceptions.values():
                self._sync_exception(cal, target, ev, exc, response=response)
            return ev

        ev = existing
        before = self._fingerprint(ev)
        series_reset = ev.kind == "seriesMaster" and (
            ev.recurrence != org.recurrence or ev.start != org.start or ev.end != org.end
        )
        ev.start, ev.end, ev.start_tz, ev.end_tz = org.start, org.end, org.start_tz, org.end_tz
        ev.props.update(self._shared_from(target, org))
        ev.attendees = _untracked(org.attendees)
        ev.organizer = _copy.deepcopy(org.organizer)
        ev.recurrence = _copy.deepcopy(org.recurrence)
        if ev.is_cancelled and not org.is_cancelled:
            ev.is_cancelled = False
        if new_response is not None:
            if new_response != ev.response:
                ev.response = new_response
                ev.response_time = now if response else None
            ev.show_as = _show_as_for(ev.response, org.show_as)
        # The attendee processes every update, also one changing only what a room hides
        # (its subject under DeleteSubject): Set-CalendarProcessing, "the Resource Booking
        # Attendant ... processes meeting requests" (learn.microsoft.com/powershell/
        # module/exchange/set-calendarprocessing); the saved item gets a new changeKey.
        delivered = _delivered(org)
        if before != self._fingerprint(ev) or ev.delivered != delivered:
            ev.delivered = delivered
            self._write(ev)
        if ev.kind == "seriesMaster":
            if series_reset:
                for exc_id in list(ev.exceptions.values()):
                    self._remove(cal, exc_id)
                ev.exceptions.clear()
                ev.cancelled_occurrences = set(org.cancelled_occurrences)
            for os in org.cancelled_occurrences - ev.cancelled_occurrences:
                self._remove_occurrence(cal, ev, os)
            for os, exc in snap.exceptions.items():
                if os in ev.cancelled_occurrences:
                    continue
                self._sync_exception(cal, target, ev, exc, response=response)
        return ev

    def _sync_exception(
        self,
        cal: Calendar,
        target: Mailbox,
        master: EventCopy,
        org_exc: EventCopy,
        *,
        response: str | None,
    ) -> None:
        assert org_exc.original_start is not None
        os = org_exc.original_start
        exc_id = master.exceptions.get(os)
        existing = cal.events.get(exc_id) if exc_id else None
        if existing is None:
            now = self.now()
            resp = response or master.response
            exc = EventCopy(
                id=occurrence_id(master.id, os),
                mailbox=target.key,
                meeting_uid=master.meeting_uid,
                meeting_created=master.meeting_created,
                kind="exception",
                start=org_exc.start,
                end=org_exc.end,
                start_tz=org_exc.start_tz,
                end_tz=org_exc.end_tz,
                organizer=_copy.deepcopy(master.organizer),
                is_organizer=False,
                created=now,
                modified=now,
                change_key=new_change_key(),
                props={**_copy.deepcopy(master.props), **self._shared_from(target, org_exc)},
                attendees=_untracked(org_exc.attendees),
                response=resp,
                response_time=now if response else master.response_time,
                series_master_id=master.id,
                original_start=os,
                show_as=_show_as_for(resp, org_exc.show_as),
            )
            cal.add(exc)
            master.exceptions[os] = exc.id
            self._log(exc, "updated")  # the occurrence (same id) changed
            return
        before = self._fingerprint(existing)
        existing.start, existing.end = org_exc.start, org_exc.end
        existing.start_tz, existing.end_tz = org_exc.start_tz, org_exc.end_tz
        existing.props.update(self._shared_from(target, org_exc))
        existing.attendees = _untracked(org_exc.attendees)
        if existing.is_cancelled and not org_exc.is_cancelled:
            existing.is_cancelled = False
        if response is not None and existing.response != response:
            existing.response = response
            existing.response_time = self.now()
            existing.show_as = _show_as_for(response, org_exc.show_as)
        if before != self._fingerprint(existing):
            self._write(existing)

    # -- delivery: cancellations and responses -----------------------------------
    def _deliver_cancel(self, target: Mailbox, meeting_uid: str) -> None:
        cal = self.calendar(target)
        ev = cal.root_for_meeting(meeting_uid)
        if ev is None:
            return
        if target.kind == "room" and target.policy.remove_canceled_meetings:
            self._remove(cal, ev.id)
            return
        items = [ev] + [cal.events[i] for i in ev.exceptions.values() if i in cal.events]
        for item in items:
            if item.is_cancelled:
                continue
            item.is_cancelled = True
            subject = str(item.props.get("subject") or "")
            if not subject.startswith(CANCELED_PREFIX):
                item.props["subject"] = CANCELED_PREFIX + subject
            self._write(item)

    def _deliver_cancel_occurrence(self, target: Mailbox, meeting_uid: str, os: datetime) -> None:
        cal = self.calendar(target)
        master = cal.root_for_meeting(meeting_uid)
        if master is None or master.kind != "seriesMaster":
            return
        if os in master.cancelled_occurrences:
            return
        self._remove_occurrence(cal, master, os)

    def _deliver_response(self, organizer: Mailbox, d: Delivery) -> None:
        assert d.responder is not None and d.response is not None
        cal = self.calendar(organizer)
        root = cal.root_for_meeting(d.meeting_uid)
        if root is None or not root.is_organizer:
            return
        now = self.now()
        status = {"response": d.response, "time": _iso(now)}
        if d.occurrence is None:
            att = root.attendee(d.responder)
            if att is None:
                return
            previous = att["status"]["response"]
            if previous != d.response:
                att["status"] = dict(status)
                self._write(root)
            for exc_id in list(root.exceptions.values()):
                exc = cal.events.get(exc_id)
                exc_att = exc.attendee(d.responder) if exc else None
                if (
                    exc is not None
                    and exc_att is not None
                    and (exc_att["status"]["response"] == previous and previous != d.response)
                ):
                    exc_att["status"] = dict(status)
                    self._write(exc)
            return
        inst = cal.instance_at(root, d.occurrence)
        if inst is None:
            return
        att = inst.attendee(d.responder)
        if att is None or att["status"]["response"] == d.response:
            return
        inst = self._materialize(cal, inst)
        att = inst.attendee(d.responder)
        assert att is not None
        att["status"] = dict(status)
        self._write(inst)


def _delivered(organizer_copy: EventCopy) -> str:
    return repr(sorted((k, repr(v)) for k, v in organizer_copy.props.items() if k in SHARED_PROPS))


def _untracked(attendees: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attendee list as an attendee's copy holds it: response tracking lives only
    in the organizer's copy, so statuses read "none"."""
    out = _copy.deepcopy(attendees)
    for att in out:
        att["status"] = {"response": "none", "time": NO_RESPONSE_TIME}
    return out


def _show_as_for(response: str, organizer_show_as: str) -> str:
    if response == "accepted":
        return organizer_show_as if organizer_show_as != "free" else "free"
    if response in ("notResponded", "tentativelyAccepted", "none"):
        return "tentative" if organizer_show_as != "free" else "free"
    return organizer_show_as


def _iso(when: datetime) -> str:
    return format_utc_timestamp(when)
