"""Bookings made in Bookker and written to Outlook.

Order of a creation: rules → record the creation intent → claim the slot in the space
ledger (a hold) → create the Outlook event (transactionId = booking id, so a retried
POST never makes a second event) → store the booking → confirm the hold → remove the
intent → 201. A Graph failure releases the hold and answers 502/503; a storage failure
answers 503. Either way the intent stays, and once its deadline has passed a sweep
cancels whatever Graph applied and removes what was stored
(sync/outbound/creation_intents.py): a 5xx leaves nothing behind. A retry with the same
Idempotency-Key before that resumes the intent.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bookker_sync.domain import lifecycle
from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.creation_intent import new_intent
from bookker_sync.domain.events import EventType, Origin
from bookker_sync.domain.models import (
    Booking,
    BookingSource,
    BookingStatus,
    OutlookRef,
    Space,
    Tenant,
    TenantMode,
    User,
    Violation,
)
from bookker_sync.domain.reconcile import CANCELLED_IN_BOOKKER
from bookker_sync.domain.recurrence import expand, to_graph_pattern
from bookker_sync.domain.rules import check_booking, check_occurrences
from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.graph.errors import GraphChangedError, GraphError, GraphNotFoundError
from bookker_sync.graph.event_json import (
    extension_body,
    fields_patch,
    graph_local_datetime,
    new_event_body,
    time_patch,
)
from bookker_sync.graph.graph_types import GraphEvent, JsonObject
from bookker_sync.storage.errors import ConflictError
from bookker_sync.storage.ledger import MAX_DAYS, Claim, LedgerSpanError, SlotTakenError
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.storage.tables import Stored
from bookker_sync.sync import booking_records, messages
from bookker_sync.sync.booking_records import (
    apply_ledger,
    change_booking,
    get_record,
    mutate,
)
from bookker_sync.sync.errors import (
    AppError,
    BadRequestError,
    ConflictAppError,
    ForbiddenError,
    GraphFailureError,
    IdempotencyKeyReusedError,
    MailboxNotFoundError,
    RuleViolationError,
)
from bookker_sync.sync.events.log import booking_event
from bookker_sync.sync.messages import MailboxSyncMessage, OutboundMessage
from bookker_sync.sync.outbound import creation_intents
from bookker_sync.sync.outbound.cancellation import tell_outlook_cancelled
from bookker_sync.sync.outbound.commands import BookingChange, NewBooking
from bookker_sync.sync.outbound.tenants import get_space, get_tenant, get_user
from bookker_sync.sync.services import Services

_IDS = uuid.UUID("7f1d2c1e-5b1a-4c0e-9d59-6a3f8f0b7a11")
# Real seconds after a creation when the room is synced again to see its answer (a
# room usually answers within seconds; the second look catches a slow one).
ROOM_ANSWER_FOLLOW_UPS = (5, 60)
CONDITIONAL_ATTEMPTS = 3  # writes on an event a person may be editing (If-Match)
# The Outlook write of a creation, retries included, well within the intent's deadline.
GRAPH_WRITE_SECONDS = 60.0


def booking_id_for(tenant_id: str, idempotency_key: str | None) -> str:
    """Same key → same booking id → same transactionId: retries are idempotent."""
    if idempotency_key:
        return str(uuid.uuid5(_IDS, f"{tenant_id}\n{idempotency_key}"))
    return str(uuid.uuid4())


def occurrence_id(series_id: str, index: int) -> str:
    return str(uuid.uuid5(uuid.UUID(series_id), f"occurrence-{index}"))


@dataclass(frozen=True)
class Created:
    records: list[BookingRecord]
    series_id: str | None
    replayed: bool

    @property
    def bookings(self) -> list[Booking]:
        return [r.booking for r in self.records]


def room_of(tenant: Tenant, space: Space) -> str | None:
    """The room mailbox written to: only bidirectional tenants invite rooms."""
    if tenant.mode is TenantMode.BIDIRECTIONAL and space.resource_email:
        return space.resource_email
    return None


async def user_bookings(services: Services, tenant_id: str, user_id: str) -> list[Booking]:
    since = services.clock.now() - timedelta(days=2)
    records = await services.repos.bookings.list(
        tenant_id, "UserId eq @u and Status eq @s and End gt @t",
        u=user_id, s=BookingStatus.CONFIRMED.value, t=since,
    )  # fmt: skip
    return [r.booking for r in records]


def _raise_for(violations: list[Violation]) -> None:
    if not violations:
        return
    errors = [v.to_json_dict() for v in violations]
    if any(v.rule == "access" for v in violations):
        raise ForbiddenError("the user may not book this space", errors=errors)
    raise RuleViolationError(_rules_sentence(violations), errors=errors)


MAX_REASONS_IN_MESSAGE = 3


def _rules_sentence(violations: list[Violation]) -> str:
    """What a person reads: "The booking breaks 2 of the rules. maxMinutes: Sala Mar
    can be booked for at most 240 minutes; … openingHours: …" (each rule named)."""
    rules = sorted({v.rule for v in violations})
    count = "a rule" if len(rules) == 1 else f"{len(rules)} rules"
    shown = [f"{v.rule}: {_sentence(v.message)}" for v in violations[:MAX_REASONS_IN_MESSAGE]]
    more = len(violations) - len(shown)
    tail = [f"And {more} more (see errors)."] if more > 0 else []
    return " ".join([f"The booking breaks {count} ({', '.join(rules)}).", *shown, *tail])


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "!", "?")) else text + "."


# Graph's 404 codes for an address no mailbox has (event-post: "The requested user
# '…' is invalid."), or a user without an Exchange Online mailbox.
_NO_MAILBOX = {"ErrorInvalidUser", "MailboxNotEnabledForRESTAPI"}


def _graph_failure(exc: GraphError, doing: str, mailbox: str) -> AppError:
    if isinstance(exc, GraphNotFoundError) and exc.code in _NO_MAILBOX:
        return MailboxNotFoundError(
            f"mailbox {mailbox} not found in the directory of the tenant's Microsoft 365",
            mailbox=mailbox,
        )
    return GraphFailureError(
        f"Outlook did not accept {doing}: {exc.message}", transient=exc.transient
    )


async def create_booking(
    services: Services, tenant_id: str, body: NewBooking, idempotency_key: str | None
) -> Created:
    tenant = await get_tenant(services, tenant_id)
    if not tenant.graph_tenant_id:
        raise ConflictAppError(
            f"tenant {tenant_id} has no Microsoft 365 directory bound yet: admin consent "
            f"(GET /api/tenants/{tenant_id}/consent)"
        )
    space = await get_space(services, tenant_id, body.space_id)
    user = await get_user(services, tenant_id, body.user_id)
    if body.end <= body.start:
        raise BadRequestError("end must be after start")
    booking_id = booking_id_for(tenant_id, idempotency_key)
    fingerprint = request_fingerprint(body) if idempotency_key else None
    replay = await _replay(services, tenant_id, booking_id) if idempotency_key else None
    if replay is not None:
        _same_request(replay, fingerprint, idempotency_key)
        # Records and no intent: an earlier attempt completed. With an intent, it did not
        # (resumed below, or refused if it was undone).
        if not await creation_intents.unresolved(services, tenant_id, booking_id):
            return replay.created
    occurrences = _occurrences(body, space)
    now = services.clock.now()
    mine = await user_bookings(services, tenant_id, user.id)
    series_id = booking_id if body.recurrence is not None else None
    ids = [booking_id] if series_id is None else [
        occurrence_id(series_id, i) for i in range(len(occurrences))
    ]  # fmt: skip
    if body.recurrence is None:
        _raise_for(check_booking(
            space=space, user=user, start=body.start, end=body.end, user_bookings=mine, now=now,
            ignore_booking_ids=ids,
        ))  # fmt: skip
    else:
        checks = check_occurrences(
            space=space, user=user, occurrences=occurrences, user_bookings=mine, now=now,
            ignore_booking_ids=ids,
        )  # fmt: skip
        _raise_for([_dated(c.start, v) for c in checks for v in c.violations])
    pending = [
        _new_booking(tenant, space, user, body.subject, Claim(i, s, e), series_id, None, now)
        for i, (s, e) in zip(ids, occurrences, strict=True)
    ]
    # Each new booking takes its slot; held until Outlook has the event, then confirmed.
    claims = booking_records.claims(s for b in pending for s in lifecycle.confirm(b).ledger.take)
    # The intent first: whatever happens from here on, a sweep can finish or undo it.
    intent = await creation_intents.begin(services, new_intent(
        tenant_id=tenant_id, booking_id=booking_id, space_id=space.id,
        organizer_mailbox=user.email, room_mailbox=room_of(tenant, space),
        slots=[(c.id, c.start, c.end) for c in claims], now=now,
    ))  # fmt: skip
    await _claim(services, tenant_id, space.id, claims, now)
    try:
        copies = await asyncio.wait_for(
            _write_outlook(services, tenant, space, user, body, booking_id, claims),
            GRAPH_WRITE_SECONDS,
        )
    except (GraphError, TimeoutError) as exc:
        # The slot is free again at once. Graph may still apply the write (it may have,
        # and lost the answer): the intent stays, and the sweep cancels what it finds.
        await services.ledger.release(tenant_id, space.id, claims)
        if isinstance(exc, GraphError):
            raise _graph_failure(exc, "the booking", user.email) from exc
        raise GraphFailureError(
            "Outlook did not answer in time; nothing is booked", transient=True
        ) from exc
    bookings = [
        b.model_copy(update={"outlook": _outlook_ref(tenant, space, user, copy)})
        for b, copy in zip(pending, copies, strict=True)
    ]
    records = [
        BookingRecord(
            booking=booking, organizer_event=copy.raw, synced_at=now, request_hash=fingerprint
        )
        for booking, copy in zip(bookings, copies, strict=True)
    ]
    for record in records:
        await _store_new(services, record)
    await services.ledger.confirm(tenant_id, space.id, claims)
    await creation_intents.complete(services, intent)
    await _follow_up_room_answer(services, tenant, space)
    return Created(records=records, series_id=series_id, replayed=False)


async def _follow_up_room_answer(services: Services, tenant: Tenant, space: Space) -> None:
    """The room answers the invitation on its own time, and a decline leaves nothing on
    its calendar to notify us about: delayed syncs of the room look at the answer on
    the organizer's event, so a decline shows in Bookker within seconds."""
    room = room_of(tenant, space)
    if room is None:
        return
    poke = MailboxSyncMessage(tenant_id=tenant.id, mailbox=Mailbox(room))
    for delay in ROOM_ANSWER_FOLLOW_UPS:
        await messages.send(services.queues, poke, delay_seconds=delay)


def _occurrences(body: NewBooking, space: Space) -> list[tuple[datetime, datetime]]:
    if body.recurrence is None:
        return [(body.start, body.end)]
    try:
        return expand(body.recurrence, body.start, body.end, space.rules.time_zone)
    except ValueError as exc:
        raise BadRequestError(f"recurrence: {exc}") from exc


def _dated(start: datetime, violation: Violation) -> Violation:
    return Violation(
        rule=violation.rule, message=f"{start.date().isoformat()}: {violation.message}"
    )


@dataclass(frozen=True)
class _Replay:
    created: Created
    request_hash: str | None


async def _replay(services: Services, tenant_id: str, booking_id: str) -> _Replay | None:
    """A POST retried with the same idempotency key returns what the first one made."""
    single = await services.repos.bookings.find(tenant_id, booking_id)
    if single is not None:
        record = single.value
        return _Replay(Created([record], None, replayed=True), record.request_hash)
    series = await services.repos.bookings.list(tenant_id, "SeriesId eq @s", s=booking_id)
    if series:
        ordered = sorted(series, key=lambda r: r.booking.start)
        return _Replay(Created(ordered, booking_id, replayed=True), ordered[0].request_hash)
    return None


def request_fingerprint(body: NewBooking) -> str:
    """SHA-256 of the request as understood (times in UTC, recurrence normalised), so
    a retry that spells the same request differently still matches."""
    canonical = {
        "spaceId": body.space_id, "userId": body.user_id,
        "start": body.start.astimezone(UTC).isoformat(),
        "end": body.end.astimezone(UTC).isoformat(), "subject": body.subject,
        "recurrence": body.recurrence.model_dump(mode="json") if body.recurrence else None,
        "fields": dataclasses.asdict(body.fields),
    }  # fmt: skip
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _same_request(replay: _Replay, fingerprint: str | None, key: str | None) -> None:
    # Bookings stored before fingerprints existed (None) are replayed as before.
    if fingerprint is None or replay.request_hash in (None, fingerprint):
        return
    raise IdempotencyKeyReusedError(
        f"Idempotency-Key {key!r} was already used for a different booking request; "
        "send a new key for a new booking",
        idempotencyKey=key,
    )


async def _claim(
    services: Services, tenant_id: str, space_id: str, claims: list[Claim], now: datetime
) -> None:
    try:
        await services.ledger.claim(tenant_id, space_id, claims, now)
    except SlotTakenError as exc:
        raise ConflictAppError(
            "the space is already booked at that time", conflicts=exc.conflicts
        ) from exc
    except LedgerSpanError as exc:
        raise _too_long() from exc


def _too_long() -> BadRequestError:
    return BadRequestError(f"a booking or series may cover at most {MAX_DAYS} (UTC) days")


async def _write_outlook(
    services: Services,
    tenant: Tenant,
    space: Space,
    user: User,
    body: NewBooking,
    booking_id: str,
    claims: list[Claim],
) -> list[GraphEvent]:
    """Create the event (or series) in the user's calendar; one JSON copy per claim."""
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    room = room_of(tenant, space)
    subject = body.subject or f"{space.name} (Bookker)"
    extension = extension_body(booking_id, tenant.id, space.id)
    if body.recurrence is None:
        event = await calendar.create_event(user.email, new_event_body(
            subject=subject, start=body.start, end=body.end, location_name=space.name,
            room_email=room, transaction_id=booking_id, extension=extension, fields=body.fields,
        ))  # fmt: skip
        return [event]
    zone = space.rules.time_zone
    first_start, first_end = claims[0].start, claims[0].end
    local_first = graph_local_datetime(first_start, zone)
    pattern = to_graph_pattern(
        body.recurrence, datetime.fromisoformat(local_first["dateTime"][:10]).date(), zone
    )
    event_body = new_event_body(
        subject=subject, start=first_start, end=first_end, location_name=space.name,
        room_email=room, transaction_id=booking_id, extension=extension, recurrence=pattern,
        fields=body.fields,
    )  # fmt: skip
    # Series times are local so Outlook keeps the wall-clock time across DST, like we do.
    event_body["start"], event_body["end"] = local_first, graph_local_datetime(first_end, zone)
    master = await calendar.create_event(user.email, event_body)
    return await _match_instances(calendar, user.email, master, claims)


async def _match_instances(
    calendar: CalendarApi, mailbox: str, master: GraphEvent, claims: list[Claim]
) -> list[GraphEvent]:
    window_start = claims[0].start - timedelta(days=1)
    window_end = claims[-1].end + timedelta(days=1)
    instances = await calendar.instances(mailbox, master.id, window_start, window_end)
    by_start = {i.start: i for i in instances}
    missing = [c for c in claims if c.start not in by_start]
    if missing:
        raise GraphError(
            502, "SeriesMismatch",
            f"Outlook expanded the series differently ({len(missing)} occurrence(s) missing)",
        )  # fmt: skip
    return [by_start[c.start] for c in claims]


def _new_booking(
    tenant: Tenant,
    space: Space,
    user: User,
    subject: str,
    claim: Claim,
    series_id: str | None,
    copy: GraphEvent | None,
    now: datetime,
) -> Booking:
    return Booking(
        id=claim.id,
        tenant_id=tenant.id,
        space_id=space.id,
        user_id=user.id,
        start=claim.start,
        end=claim.end,
        subject=subject,
        source=BookingSource.BOOKKER,
        series_id=series_id,
        outlook=_outlook_ref(tenant, space, user, copy),
        created_at=now,
        updated_at=now,
    )


def _outlook_ref(tenant: Tenant, space: Space, user: User, copy: GraphEvent | None) -> OutlookRef:
    """Where the booking lives in Outlook (before the event exists: only the mailboxes)."""
    return OutlookRef(
        i_cal_uid=copy.i_cal_uid if copy else None,
        organizer_mailbox=user.email,
        organizer_event_id=copy.id if copy else None,
        change_key=copy.change_key if copy else None,
        series_master_id=copy.series_master_id if copy else None,
        resource_mailbox=room_of(tenant, space),
    )


async def _store_new(services: Services, record: BookingRecord) -> None:
    try:
        await services.repos.bookings.insert(record.booking.tenant_id, record.booking.id, record)
    except ConflictError:
        pass  # stored by an earlier attempt of the same request


# -- read ------------------------------------------------------------------------------
async def get_booking(services: Services, tenant_id: str, booking_id: str) -> Stored[BookingRecord]:
    """A booking as the API shows it: one still being created (or undone) is not there."""
    stored = await get_record(services, tenant_id, booking_id)
    await creation_intents.require_visible(services, tenant_id, booking_id)
    return stored


async def list_bookings(
    services: Services,
    tenant_id: str,
    *,
    space_id: str | None = None,
    user_id: str | None = None,
    start_from: datetime | None = None,
    until: datetime | None = None,
    status: BookingStatus | None = None,
) -> list[BookingRecord]:
    await get_tenant(services, tenant_id)
    clauses: list[str] = []
    params: dict[str, object] = {}
    for column, value, op in (
        ("SpaceId", space_id, "eq"), ("UserId", user_id, "eq"),
        ("Status", status.value if status else None, "eq"),
        ("End", start_from, "gt"), ("Start", until, "lt"),
    ):  # fmt: skip
        if value is not None:
            name = f"p{len(params)}"
            clauses.append(f"{column} {op} @{name}")
            params[name] = value
    records = await services.repos.bookings.list(tenant_id, " and ".join(clauses) or None, **params)
    hidden = await creation_intents.hidden_ids(services, tenant_id) if records else set()
    return sorted(
        (r for r in records if r.booking.id not in hidden),
        key=lambda r: (r.booking.start, r.booking.id),
    )


# -- update ----------------------------------------------------------------------------
async def update_booking(
    services: Services, tenant_id: str, booking_id: str, patch: BookingChange
) -> BookingRecord:
    tenant = await get_tenant(services, tenant_id)
    stored = await get_booking(services, tenant_id, booking_id)
    old = stored.value.booking
    if old.status is not BookingStatus.CONFIRMED:
        raise ConflictAppError(f"booking {booking_id} is {old.status.value}")
    start, end = patch.start or old.start, patch.end or old.end
    if end <= start:
        raise BadRequestError("end must be after start")
    space = await get_space(services, tenant_id, old.space_id)
    user = await get_user(services, tenant_id, old.user_id)
    now = services.clock.now()
    mine = await user_bookings(services, tenant_id, user.id)
    _raise_for(check_booking(
        space=space, user=user, start=start, end=end, user_bookings=mine, now=now,
        ignore_booking_ids={old.id},
    ))  # fmt: skip
    moved = lifecycle.move(old, start, end)
    try:
        await apply_ledger(services, old, moved.ledger)
    except SlotTakenError as exc:
        raise ConflictAppError(
            "the space is already booked at that time", conflicts=exc.conflicts
        ) from exc
    except LedgerSpanError as exc:
        raise _too_long() from exc
    subject = patch.subject if patch.subject is not None else None
    space_room = room_of(tenant, space)
    outlook_patch = _outlook_patch(old, start, end, subject, patch, space_room, space.name)
    try:
        event = await _patch_outlook(services, tenant, old, outlook_patch, start, end)
    except ConflictAppError:
        await apply_ledger(services, old, moved.ledger.undo())
        raise
    except GraphError as exc:
        await apply_ledger(services, old, moved.ledger.undo())
        raise _graph_failure(exc, "the change", old.outlook.organizer_mailbox or "") from exc
    return await _save_update(services, stored, start, end, subject, event, now)


def _outlook_patch(
    old: Booking,
    start: datetime,
    end: datetime,
    subject: str | None,
    change: BookingChange,
    room: str | None,
    location_name: str,
) -> JsonObject:
    """Only what the PATCH changes: anything else Outlook holds (a Teams link,
    attendees, the body) is left alone."""
    patch: JsonObject = {}
    if (start, end) != (old.start, old.end):
        patch.update(time_patch(start, end))
    if subject is not None:
        patch["subject"] = subject
    patch.update(fields_patch(change.fields, room_email=room, location_name=location_name))
    return patch


async def _patch_outlook(
    services: Services,
    tenant: Tenant,
    booking: Booking,
    patch: JsonObject,
    start: datetime,
    end: datetime,
) -> GraphEvent | None:
    """PATCH the organizer's event, conditional on the version last seen: if the person
    changed it since (412), it is read again; still at the booking's times (they
    changed something else), the patch goes on that version; moved or cancelled in
    Outlook, nothing is written and the API answers 409 (that change reaches Bookker
    through the sync)."""
    ref = booking.outlook
    if not ref.organizer_mailbox or not ref.organizer_event_id:
        raise GraphError(409, "NoOutlookEvent", "the booking has no Outlook event to change")
    if not patch:
        return None  # nothing for Outlook to change
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    change_key = ref.change_key
    for _ in range(CONDITIONAL_ATTEMPTS):
        try:
            return await calendar.update_event(
                ref.organizer_mailbox, ref.organizer_event_id, patch, if_match=change_key
            )
        except GraphChangedError:
            fresh = await calendar.get_event(ref.organizer_mailbox, ref.organizer_event_id)
        if fresh is None or fresh.is_cancelled:
            raise ConflictAppError("the booking was cancelled in Outlook meanwhile") from None
        times = (fresh.start, fresh.end)
        if times != (booking.start, booking.end):
            if "start" in patch and times == (start, end):
                return fresh  # our own write went through (its answer was lost, then retried)
            raise ConflictAppError(
                "the booking was changed in Outlook meanwhile; try again in a moment"
            ) from None
        change_key = fresh.change_key  # changed, but not its times: patch that version
    raise ConflictAppError("the booking kept changing in Outlook; try again in a moment")


async def _save_update(
    services: Services,
    stored: Stored[BookingRecord],
    start: datetime,
    end: datetime,
    subject: str | None,
    event: GraphEvent | None,
    now: datetime,
) -> BookingRecord:
    def change(record: BookingRecord) -> bool:
        b = record.booking
        b.start, b.end = start, end
        if subject is not None:
            b.subject = subject
        if event is not None:
            record.organizer_event = event.raw
            record.synced_at, record.sync_error = now, None
            b.outlook.change_key = event.change_key or b.outlook.change_key
        return True

    return await mutate(services, stored, change)


# -- delete / release --------------------------------------------------------------------
async def delete_booking(services: Services, tenant_id: str, booking_id: str) -> None:
    tenant = await get_tenant(services, tenant_id)
    stored = await get_booking(services, tenant_id, booking_id)
    booking = stored.value.booking
    if booking.status is BookingStatus.CANCELLED:
        return
    try:
        await tell_outlook_cancelled(
            services, tenant, booking, "Cancelled in Bookker", room_decides=False
        )
    except GraphError as exc:
        raise _graph_failure(
            exc, "the cancellation", booking.outlook.organizer_mailbox or ""
        ) from exc
    await mark_cancelled(services, stored, reason=CANCELLED_IN_BOOKKER, origin=Origin.BOOKKER)


async def mark_cancelled(
    services: Services, stored: Stored[BookingRecord], reason: str | None, origin: Origin
) -> BookingRecord:
    """Status cancelled (idempotent) and the slot freed; Bookker is told (once: a
    booking is cancelled only once, so the event's key is fixed)."""
    record, _ = await change_booking(services, stored, lambda b: lifecycle.cancel(b, reason))
    if record.booking.status is BookingStatus.CANCELLED:
        await booking_event(
            services, EventType.BOOKING_CANCELLED, record, origin, key="cancelled",
            reason=record.booking.status_reason,
        )  # fmt: skip
    return record


async def release_booking(
    services: Services, tenant_id: str, booking_id: str, reason: str
) -> BookingRecord:
    """System action: the slot is freed now; Outlook is told through queue `outbound`.

    Retrying a release with the same reason re-sends the outbound work (idempotent).
    """
    await get_tenant(services, tenant_id)
    stored = await get_booking(services, tenant_id, booking_id)
    booking = stored.value.booking
    already = booking.status is BookingStatus.CANCELLED and booking.status_reason == reason
    if booking.status is not BookingStatus.CONFIRMED and not already:
        raise ConflictAppError(f"booking {booking_id} is {booking.status.value}")
    released = await mark_cancelled(services, stored, reason=reason, origin=Origin.SYSTEM)
    await messages.send(services.queues, OutboundMessage(
        action="release", tenant_id=tenant_id, booking_id=booking_id, reason=reason
    ))  # fmt: skip
    return released
