"""Applies reconcile's actions. Each one is idempotent: a crash between two actions and
a re-run of the same delta page leaves the same final state."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bookker_sync.domain import lifecycle
from bookker_sync.domain.events import EventFacts, EventType, Origin
from bookker_sync.domain.lifecycle import Transition, TransitionError
from bookker_sync.domain.models import Booking, BookingStatus
from bookker_sync.domain.reconcile import (
    AcceptOutlookBooking,
    Action,
    CancelBooking,
    DeclineRoomEvent,
    Ignore,
    InspectOrganizer,
    LocateRoomCopy,
    MarkDeclined,
    Reconfirm,
    RecordCopy,
    RefreshSubject,
    RevertOrganizerEvent,
    UpdateBooking,
    ledger_refused,
    organizer_subject,
    reconcile_organizer_view,
)
from bookker_sync.domain.remote import RemoteEvent
from bookker_sync.graph.batch import MAX_BATCH, BatchItem, BatchResult, send_batch
from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.graph.errors import GraphChangedError, GraphError
from bookker_sync.graph.event_json import parse_event, time_patch
from bookker_sync.graph.room_writes import decline_item
from bookker_sync.storage.errors import ConflictError
from bookker_sync.storage.ledger import LedgerSpanError, SlotTakenError
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.booking_records import apply_ledger, change_booking, get_record, mutate
from bookker_sync.sync.booking_view import booking_json
from bookker_sync.sync.events.log import booking_event, record_event
from bookker_sync.sync.inbound.room_snapshot import RoomIndex
from bookker_sync.sync.ops import declines
from bookker_sync.sync.room_declines import RoomDecline, decline_room_copy
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
CONDITIONAL_ATTEMPTS = 3


class ActionRunner:
    def __init__(self, services: Services, calendar: CalendarApi, index: RoomIndex) -> None:
        self.services = services
        self.calendar = calendar
        self.index = index
        self.applied: list[Action] = []
        self._room_writes: list[DeclineRoomEvent] = []
        self._seen: dict[str, RemoteEvent] = {}  # room event id → the item (whose meeting)

    async def run(self, actions: list[Action], remote: RemoteEvent | None = None) -> None:
        """Apply the actions reconcile chose for ``remote`` (the delta item)."""
        if remote is not None:
            self._seen[remote.id] = remote
        for action in actions:
            await self.apply(action)

    async def apply(self, action: Action) -> None:
        self.applied.append(action)
        match action:
            case Ignore():
                return
            case RecordCopy(booking_id=bid, remote=remote):
                await self._record_copy(bid, remote)
            case AcceptOutlookBooking():
                await self._accept(action)
            case DeclineRoomEvent():
                # Graph writes on the room wait for the end of the page: one $batch.
                self._room_writes.append(action)
            case MarkDeclined(booking_id=bid, reason=reason):
                await self._set_status(
                    bid, lambda b: lifecycle.decline(b, reason), EventType.BOOKING_DECLINED, reason
                )
            case UpdateBooking():
                await self._update(action)
            case Reconfirm():
                await self._reconfirm(action)
            case RevertOrganizerEvent():
                await self._revert(action)
            case CancelBooking(booking_id=bid, reason=reason):
                await self._set_status(
                    bid, lambda b: lifecycle.cancel(b, reason), EventType.BOOKING_CANCELLED, reason
                )
            case InspectOrganizer(booking_id=bid):
                await self._inspect(bid)
            case LocateRoomCopy(booking_id=bid):
                await self._locate(bid)
            case RefreshSubject(booking_id=bid):
                await self._refresh_subject(bid)

    # -- storage-only actions ----------------------------------------------------------
    async def _record_copy(self, booking_id: str, remote: RemoteEvent) -> None:
        def change(record: BookingRecord) -> bool:
            ref = record.booking.outlook
            if ref.resource_event_id == remote.id and ref.resource_change_key == remote.change_key:
                return False
            ref.resource_event_id, ref.resource_change_key = remote.id, remote.change_key
            ref.resource_series_master_id = remote.series_master_id
            record.resource_event = remote.raw
            record.synced_at = self.services.clock.now()
            return True

        await self._mutate(booking_id, change)

    async def _accept(self, action: AcceptOutlookBooking) -> None:
        booking, remote = action.booking, action.remote
        try:
            await apply_ledger(self.services, booking, lifecycle.confirm(booking).ledger)
        except LedgerSpanError as exc:
            await self.apply(ledger_refused(action, booking, str(exc), rule="maxMinutes"))
            return
        except SlotTakenError:
            clash = [b for b in self.index.confirmed() if b.overlaps(booking.start, booking.end)]
            detail = (
                f"{self.index.space.name} is already booked then in Bookker."
                if not clash
                else f"{self.index.space.name} is already booked from "
                f"{clash[0].start:%Y-%m-%d %H:%M} to {clash[0].end:%H:%M} UTC."
            )
            await self.apply(ledger_refused(action, booking, detail))
            return
        record = BookingRecord(
            booking=booking, resource_event=remote.raw, synced_at=self.services.clock.now()
        )
        try:
            await self.services.repos.bookings.insert(booking.tenant_id, booking.id, record)
        except ConflictError:
            record = (await get_record(self.services, booking.tenant_id, booking.id)).value
        self.index.put(record)
        self.index.add_user_booking(record.booking)
        # Its id is the booking's: a replayed creation (stored already) logs nothing new.
        await booking_event(
            self.services, EventType.BOOKING_CREATED, record, Origin.OUTLOOK, key="created"
        )

    async def _set_status(
        self,
        booking_id: str,
        step: Callable[[Booking], Transition],
        kind: EventType,
        reason: str,
    ) -> None:
        stored = await get_record(self.services, self.index.tenant_id, booking_id)
        ref = stored.value.booking.outlook  # the versions the decision was made on
        try:
            record, transition = await change_booking(self.services, stored, step)
        except TransitionError as exc:
            log.info("%s left as it is: %s", booking_id, exc)
            return
        self.index.put(record)
        if transition.changed:
            # A booking is cancelled once (one event, whoever cancels it); it may be
            # declined again after a reconfirmation (the room copy's version tells).
            cancelled = kind is EventType.BOOKING_CANCELLED
            key = "cancelled" if cancelled else f"{ref.resource_change_key}|{ref.change_key}"
            await booking_event(self.services, kind, record, Origin.OUTLOOK, key=key, reason=reason)

    async def _update(self, action: UpdateBooking) -> None:
        stored = await get_record(self.services, self.index.tenant_id, action.booking_id)
        b = stored.value.booking

        def adopt(rec: BookingRecord) -> None:
            _adopt_copy(rec, action.remote, self.services.clock.now())

        try:
            record, _ = await change_booking(
                self.services, stored, lambda bk: lifecycle.move(bk, action.start, action.end),
                also=adopt,
            )  # fmt: skip
        except (SlotTakenError, LedgerSpanError):
            taken = f"{self.index.space.name} is already booked then."
            await self.apply(ledger_refused(action, b, taken))
            return
        except TransitionError as exc:
            log.info("move of %s not applied: %s", b.id, exc)
            return
        self.index.put(record)
        key = f"{action.start.isoformat()}|{action.end.isoformat()}|{action.remote.change_key}"
        await booking_event(
            self.services, EventType.BOOKING_UPDATED, record, Origin.OUTLOOK, key=key
        )

    async def _reconfirm(self, action: Reconfirm) -> None:
        stored = await get_record(self.services, self.index.tenant_id, action.booking_id)

        def adopt(rec: BookingRecord) -> None:
            _adopt_copy(rec, action.remote, self.services.clock.now())

        try:
            record, _ = await change_booking(
                self.services, stored,
                lambda bk: lifecycle.reconfirm(bk, action.start, action.end), also=adopt,
            )  # fmt: skip
        except (SlotTakenError, LedgerSpanError):
            taken = f"{self.index.space.name} is already booked then."
            await self.apply(ledger_refused(action, stored.value.booking, taken))
            return
        except TransitionError as exc:
            log.info("reconfirmation of %s not applied: %s", action.booking_id, exc)
            return
        self.index.put(record)
        key = f"{action.start.isoformat()}|{action.end.isoformat()}|{action.remote.change_key}"
        await booking_event(
            self.services, EventType.BOOKING_RECONFIRMED, record, Origin.OUTLOOK, key=key
        )

    async def _mutate(self, booking_id: str, change: object) -> BookingRecord:
        stored = await get_record(self.services, self.index.tenant_id, booking_id)
        record = await mutate(self.services, stored, change)  # type: ignore[arg-type]
        self.index.put(record)
        return record

    # -- Graph actions -----------------------------------------------------------------
    async def flush(self) -> None:
        """Send the page's room declines: $batch of up to 20, chained with dependsOn so
        they reach the mailbox one at a time (Outlook allows 4 concurrent requests).
        Anything the batch could not do is done one by one (with retries)."""
        writes, self._room_writes = self._room_writes, []
        items = [(w, decline_item(str(n), self.index.room, w.room_event_id, w.reason))
                 for n, w in enumerate(writes)]  # fmt: skip
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            chained = [
                BatchItem(i.id, i.method, i.url, i.body, (chunk[n - 1][1].id,) if n else ())
                for n, (_, i) in enumerate(chunk)
            ]
            results = await send_batch(self.calendar.transport, self.index.room, chained)
            for (write, _), result in zip(chunk, results, strict=True):
                await self._settle(write, result)

    async def _settle(self, write: DeclineRoomEvent, result: BatchResult) -> None:
        # Not sent (424 after an earlier failure, 429, 5xx): declined alone, with retries.
        remote = self._seen.get(write.room_event_id)
        await decline_room_copy(self.services, self.calendar, RoomDecline(
            tenant_id=self.index.tenant_id, space_id=self.index.space.id,
            room=self.index.room, room_event_id=write.room_event_id, reason=write.reason,
            rules=[v.rule for v in write.violations],
            organizer=remote.organizer_email if remote else None,
            subject=remote.subject if remote else None,
            start=remote.start if remote else None, end=remote.end if remote else None,
        ), sent=result.ok or result.status == 404)  # fmt: skip
        await self._rejected(write)

    async def _rejected(self, write: DeclineRoomEvent) -> None:
        """An Outlook request Bookker declined: Bookker is told who asked for what and
        which rules it broke (not for the room declining what Bookker cancelled)."""
        remote = self._seen.get(write.room_event_id)
        if remote is None:
            return
        record = self.index.find(remote)
        if record is not None and record.booking.status is BookingStatus.CANCELLED:
            return  # Bookker's own cancellation carried out: no request was refused
        await record_event(self.services, EventFacts(
            tenant_id=self.index.tenant_id, type=EventType.BOOKING_REJECTED,
            origin=Origin.OUTLOOK, key=f"{remote.id}|{remote.change_key}",
            booking_id=record.booking.id if record else None,
            booking=booking_json(record) if record else None,
            reason=write.reason, violations=write.violations,
            extra={
                "organizer": remote.organizer_email, "spaceId": self.index.space.id,
                "start": remote.start.isoformat() if remote.start else None,
                "end": remote.end.isoformat() if remote.end else None,
                "subject": remote.subject, "roomEventId": remote.id,
            },
        ))  # fmt: skip

    async def _organizer_copy(self, record: BookingRecord) -> RemoteEvent | None:
        ref = record.booking.outlook
        if not ref.organizer_mailbox:
            return None
        found = None
        if ref.organizer_event_id:
            found = await self.calendar.get_event(ref.organizer_mailbox, ref.organizer_event_id)
        elif ref.i_cal_uid:
            found = await self.calendar.find_by_ical_uid(ref.organizer_mailbox, ref.i_cal_uid)
        return parse_event(found) if found else None

    async def _inspect(self, booking_id: str) -> None:
        record = (await get_record(self.services, self.index.tenant_id, booking_id)).value
        organizer = await self._organizer_copy(record)
        await self.run(reconcile_organizer_view(record.booking, organizer, self.index.room))

    async def _refresh_subject(self, booking_id: str) -> None:
        """The subject as the organizer's event has it (one read); the event's id is
        kept so later reads are a GET by id. A private meeting keeps no subject or body."""
        stored = await get_record(self.services, self.index.tenant_id, booking_id)
        try:
            organizer = await self._organizer_copy(stored.value)
        except GraphError as exc:
            if exc.transient:
                raise
            log.warning("subject of %s not read: %s", booking_id, exc)  # e.g. no such mailbox
            return
        if organizer is None:
            return
        subject = organizer_subject(stored.value.booking, organizer)

        def change(rec: BookingRecord) -> bool:
            ref, changed = rec.booking.outlook, False
            if ref.organizer_event_id is None:
                ref.organizer_event_id, changed = organizer.id, True
            if subject is not None and rec.booking.subject != subject:
                rec.booking.subject, changed = subject, True
            if organizer.private and rec.organizer_event not in (None, organizer.raw):
                rec.organizer_event, changed = organizer.raw, True  # without its text
            return changed

        await self._mutate(booking_id, change)

    async def _locate(self, booking_id: str) -> None:
        record = (await get_record(self.services, self.index.tenant_id, booking_id)).value
        uid = record.booking.outlook.i_cal_uid
        found = await self.calendar.find_by_ical_uid(self.index.room, uid) if uid else None
        if found is not None:
            await self._record_copy(booking_id, parse_event(found))

    async def _revert(self, action: RevertOrganizerEvent) -> None:
        """Read the organizer's event, judge it, and write only if it is still the
        version judged (If-Match on its changeKey): if the person moved it again since
        we saw the rejected times, that newer change comes through delta and is judged
        then; a 412 (changed between our read and our write) means read and judge
        again. A person's newer change is never overwritten."""
        record = (await get_record(self.services, self.index.tenant_id, action.booking_id)).value
        ref = record.booking.outlook
        patch = time_patch(action.restore_start, action.restore_end)
        for _ in range(CONDITIONAL_ATTEMPTS):
            organizer = await self._organizer_copy(record)
            if organizer is None or not ref.organizer_mailbox:
                log.warning("cannot revert %s: organizer's event not found", action.booking_id)
                return
            if (organizer.start, organizer.end) != (action.rejected_start, action.rejected_end):
                log.info("revert of %s skipped: the organizer changed it again", action.booking_id)
                return
            try:
                await self.calendar.update_event(
                    ref.organizer_mailbox, organizer.id, patch, if_match=organizer.change_key
                )
            except GraphChangedError:
                log.info("revert of %s: the event changed since it was read; judging again",
                         action.booking_id)  # fmt: skip
                continue
            await self._reverted(action, record, organizer)
            return
        log.warning("revert of %s given up: the event kept changing", action.booking_id)

    async def _reverted(
        self, action: RevertOrganizerEvent, record: BookingRecord, organizer: RemoteEvent
    ) -> None:
        ref = record.booking.outlook
        await booking_event(
            self.services, EventType.BOOKING_REVERTED, record, Origin.OUTLOOK,
            key=f"{organizer.id}|{organizer.change_key}", reason=action.reason,
        )  # fmt: skip
        log.info("reverted %s to %s-%s: %s", action.booking_id, action.restore_start,
                 action.restore_end, action.reason)  # fmt: skip
        await declines.record_revert(
            self.services, tenant_id=self.index.tenant_id, space_id=self.index.space.id,
            mailbox=self.index.room, organizer_event_id=organizer.id, reason=action.reason,
            meeting=declines.Meeting(
                organizer.organizer_email or ref.organizer_mailbox or "",
                organizer.subject or record.booking.subject,
                action.rejected_start, action.rejected_end,
            ),
        )  # fmt: skip


def _adopt_copy(rec: BookingRecord, remote: RemoteEvent, now: datetime) -> None:
    """The booking keeps the room copy's id, version and JSON (its times come from the
    lifecycle step)."""
    ref = rec.booking.outlook
    ref.resource_event_id, ref.resource_change_key = remote.id, remote.change_key
    rec.resource_event = remote.raw
    rec.synced_at = now
