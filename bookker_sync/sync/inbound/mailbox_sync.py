"""``sync_mailbox``: one room mailbox brought up to date.

lease(mailbox) → calendarView/delta since the stored link → reconcile each item →
apply → save the link (only after the page's actions are applied) → release, or run
again if the mailbox was poked meanwhile. A full listing of a fresh window instead of
the link (domain/sync_window.py: no link, 410 SyncStateNotFound, the previous run
abandoned, or the window due to roll) also finds bookings whose room copies
disappeared while nobody was listening.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bookker_sync import telemetry
from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.creation_intent import in_flight
from bookker_sync.domain.events import EventFacts, EventType, Origin
from bookker_sync.domain.models import TenantMode
from bookker_sync.domain.reconcile import (
    IN_FLIGHT,
    Ignore,
    RoomContext,
    reconcile,
    unanswered,
    vanished,
)
from bookker_sync.domain.remote import RemoteEvent
from bookker_sync.domain.sync_window import (
    FullListing,
    fresh_window,
    full_listing_reason,
    next_full_listing,
)
from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.graph.errors import GraphError, SyncStateNotFoundError
from bookker_sync.graph.event_json import parse_event
from bookker_sync.storage.repositories import MailboxState
from bookker_sync.sync import messages
from bookker_sync.sync.events.log import record_event
from bookker_sync.sync.inbound import lease as mailbox_state
from bookker_sync.sync.inbound.action_runner import ActionRunner
from bookker_sync.sync.inbound.room_snapshot import RoomIndex
from bookker_sync.sync.messages import MailboxSyncMessage
from bookker_sync.sync.ops import lag
from bookker_sync.sync.outbound import creation_intents
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.ownership import holds_room
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
# A Bookker booking whose room copy has not shown up this long after its creation:
# the room may have declined it (nothing is left on its calendar to tell us), so the
# organizer's event is asked. Creations poke the room a few seconds later for this.
PENDING_GRACE = timedelta(seconds=3)
MAX_RUNS = 10
MAX_FOLLOW_UP_SECONDS = 600
IN_FLIGHT_WAIT_SECONDS = 3.0
IN_FLIGHT_RETRY_SECONDS = 5


class InFlightDeferredError(Exception):
    """A delta item can't be judged while a Bookker creation on its slot is still in
    flight: the page is not saved, so a later run (poked after a short delay) sees it
    again."""


SYNC_FAILING_AFTER = 3  # failed runs in a row before Bookker hears the room is failing


@dataclass
class SyncResult:
    mailbox: str
    ran: bool = False  # False: another worker holds the lease (it was marked dirty)
    runs: int = 0
    items: int = 0
    full_resync: bool = False
    actions: dict[str, int] = field(default_factory=dict)


async def sync_mailbox(
    services: Services,
    tenant_id: str,
    mailbox: str,
    *,
    full: bool = False,
    notified_at: datetime | None = None,
    unless_synced_after: datetime | None = None,
) -> SyncResult:
    result = SyncResult(mailbox=Mailbox(mailbox))
    tenant = await get_tenant(services, tenant_id)
    if notified_at is not None:
        await _note_notification(services, tenant_id, mailbox, notified_at)
    if tenant.mode is not TenantMode.BIDIRECTIONAL:
        log.info("sync of %s skipped: tenant %s is unidirectional", mailbox, tenant_id)
        return result
    space = await services.repos.space_by_mailbox(tenant_id, mailbox)
    if space is None:
        log.warning("sync of %s skipped: no space of %s has this room mailbox", mailbox, tenant_id)
        return result
    if not await holds_room(services, tenant, space.id, mailbox):
        return result  # another tenant's room (or no directory bound): never touched
    if unless_synced_after is not None and await _synced_since(
        services, tenant_id, mailbox, unless_synced_after
    ):
        return result  # a follow-up poke whose holder was alive and did the work
    owner = mailbox_state.new_owner()
    acquired = await mailbox_state.acquire(
        services, tenant_id, mailbox, owner, services.clock.now(),
        follow_up=unless_synced_after is not None,
    )  # fmt: skip
    if not acquired.won:
        log.info("sync of %s: already running elsewhere; marked dirty", mailbox)
        if acquired.follow_up_seconds is not None:
            # If the holder died, this poke runs once its lease has run out. A follow-up
            # keeps its first moment: any sync since then has covered the poke.
            delay = int(min(max(acquired.follow_up_seconds, 1), MAX_FOLLOW_UP_SECONDS))
            follow_up = MailboxSyncMessage(
                tenant_id=tenant_id, mailbox=Mailbox(mailbox),
                unless_synced_after=unless_synced_after or services.clock.now(),
            )  # fmt: skip
            await messages.send(services.queues, follow_up, delay_seconds=delay)
        return result
    result.ran = True
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    abandoned = acquired.previous_run_abandoned
    try:
        again = True
        while again and result.runs < MAX_RUNS:
            result.runs += 1
            await _run_once(
                services, calendar, tenant_id, space.id, mailbox, full, abandoned, result, owner
            )
            full = abandoned = False
            again = await mailbox_state.release_or_rerun(
                services, tenant_id, mailbox, owner, services.clock.now()
            )
        if again:  # poked all along: the next run is another message's, soon
            await mailbox_state.hand_back(services, tenant_id, mailbox, owner)
            await messages.send(
                services.queues, MailboxSyncMessage(tenant_id=tenant_id, mailbox=Mailbox(mailbox))
            )
    except Exception as exc:
        state = await mailbox_state.abandon(
            services, tenant_id, mailbox, owner, f"{type(exc).__name__}: {exc}"
        )
        if state.consecutive_failures == SYNC_FAILING_AFTER and state.failing_since:
            await _room_health(services, state, EventType.ROOM_SYNC_FAILING, state.failing_since)
        raise
    return result


async def _room_health(
    services: Services, state: MailboxState, kind: EventType, since: datetime
) -> None:
    """room.sync_failing after SYNC_FAILING_AFTER failed runs in a row; recovered at the
    next good run. One of each per episode (keyed by when the failures began)."""
    await record_event(services, EventFacts(
        tenant_id=state.tenant_id, type=kind, origin=Origin.SYSTEM,
        key=f"{state.mailbox}|{since.isoformat()}", reason=state.last_error,
        extra={"mailbox": state.mailbox, "spaceId": state.space_id,
               "failingSince": since.isoformat()},
    ))  # fmt: skip


async def _run_once(
    services: Services,
    calendar: CalendarApi,
    tenant_id: str,
    space_id: str,
    mailbox: str,
    full: bool,
    abandoned: bool,
    result: SyncResult,
    owner: str,
) -> None:
    now, started = services.clock.now(), time.perf_counter()
    config = services.settings.sync
    window = fresh_window(now, config.horizon_past_days, config.horizon_future_days)
    start, end = window.start, window.end
    space = (await services.repos.spaces.get(tenant_id, space_id)).value
    index = await RoomIndex.load(services, tenant_id, space, Mailbox(mailbox), start)
    runner = ActionRunner(services, calendar, index)
    state = await mailbox_state.mutate_state(services, tenant_id, mailbox, lambda s: False)
    await _resolve_intents(services, index)
    reason = FullListing.NO_LINK if full else full_listing_reason(
        now, has_link=state.delta_link is not None,
        previous_run_abandoned=abandoned, due_at=state.full_listing_due_at,
    )  # fmt: skip
    link = None if reason else state.delta_link
    if reason is not None and reason is not FullListing.NO_LINK:
        log.info("full listing of %s: %s", mailbox, reason.value)
    try:
        try:
            seen = await _pull(services, calendar, index, runner, link, start, end, result, owner)
        except SyncStateNotFoundError:
            log.warning("delta token of %s evicted (410): full resync", mailbox)
            result.full_resync = True
            seen = await _pull(services, calendar, index, runner, None, start, end, result, owner)
    except InFlightDeferredError as exc:
        log.info("sync of %s deferred: a Bookker booking on the slot of %s is in flight",
                 mailbox, exc)  # fmt: skip
        await runner.flush()
        if any(not isinstance(a, Ignore) for a in runner.applied):
            await _list_in_full_next(services, tenant_id, mailbox)
        retry = MailboxSyncMessage(tenant_id=tenant_id, mailbox=Mailbox(mailbox), full=full)
        await messages.send(services.queues, retry, delay_seconds=IN_FLIGHT_RETRY_SECONDS)
        return
    if seen is not None:  # a complete listing: what it lacks is gone
        await _vanished(index, runner, seen, start)
    await _pending_room_answers(services, index, runner, now)
    await runner.flush()
    for action in runner.applied:
        name = type(action).__name__
        result.actions[name] = result.actions.get(name, 0) + 1

    lag_seconds: float | None = None
    recovered: tuple[MailboxState, datetime] | None = None
    listed = seen is not None
    period = timedelta(hours=config.full_listing_hours)

    def done(s: MailboxState) -> bool:
        nonlocal lag_seconds, recovered
        lag_seconds = lag.record_run(s, now, services.clock.now())  # before last_sync_at moves
        failing = s.consecutive_failures >= SYNC_FAILING_AFTER and s.failing_since is not None
        recovered = (s.model_copy(), s.failing_since) if failing and s.failing_since else None
        s.last_sync_at, s.last_error, s.consecutive_failures = now, None, 0
        s.failing_since = None
        s.space_id = space_id
        if listed:
            s.full_resyncs += 1
            s.window_start, s.window_end = window.start, window.end
            s.full_listing_due_at = next_full_listing(
                now, period, config.horizon_future_days, random.random()
            )
        return True

    await mailbox_state.mutate_state(services, tenant_id, mailbox, done)
    if recovered is not None:
        await _room_health(services, recovered[0], EventType.ROOM_SYNC_RECOVERED, recovered[1])
    telemetry.record_sync(tenant_id, mailbox, time.perf_counter() - started, lag_seconds)


async def _pull(
    services: Services,
    calendar: CalendarApi,
    index: RoomIndex,
    runner: ActionRunner,
    link: str | None,
    start: datetime,
    end: datetime,
    result: SyncResult,
    owner: str,
) -> set[str] | None:
    """Follow delta pages; returns the ids listed when this was a full listing."""
    seen: set[str] | None = set() if link is None else None
    async for page in calendar.delta_all(index.room, link=link, start=start, end=end):
        for item in page.items:
            remote = parse_event(item)
            result.items += 1
            if seen is not None and not remote.removed:
                seen.add(remote.id)
            stored = index.find(remote) or await index.refresh_for(services, remote)
            context = await _context(services, index, remote)
            actions = reconcile(stored.booking if stored else None, remote, context)
            if actions == [IN_FLIGHT]:
                # Bookker is storing a booking on this slot right now (this event's own,
                # or one the room's answer decides against): wait for it (ms), then judge.
                if not await index.wait_for_in_flight(services, remote, IN_FLIGHT_WAIT_SECONDS):
                    raise InFlightDeferredError(remote.id)
                stored = index.find(remote)
                if stored is None:  # not its booking; the creation may have been undone
                    remote = await _current(calendar, index.room, remote)  # and it cancelled
                context = await _context(services, index, remote)
                actions = reconcile(stored.booking if stored else None, remote, context)
                if actions == [IN_FLIGHT]:
                    raise InFlightDeferredError(remote.id)
            await runner.run(actions, remote)
        await runner.flush()  # the page's room writes, before its link is saved
        await mailbox_state.renew(services, index.tenant_id, index.room, owner)
        saved = page.next_link or page.delta_link

        def keep(s: MailboxState, saved: str | None = saved) -> bool:
            s.delta_link = saved
            return True

        await mailbox_state.mutate_state(services, index.tenant_id, index.room, keep)
    return seen


async def _current(calendar: CalendarApi, room: str, remote: RemoteEvent) -> RemoteEvent:
    """The room event as it is now (a delta item read before a wait may be stale)."""
    found = await calendar.get_event(room, remote.id)
    if found is None:
        return parse_event({"id": remote.id, "@removed": {"reason": "deleted"}})
    return parse_event(found)


async def _list_in_full_next(services: Services, tenant_id: str, mailbox: str) -> None:
    """A deferred run applied part of a page whose link is not saved: replayed from the
    old link, an event it accepted and that was removed since would never be mentioned
    again. The next run lists the room in full instead."""

    def change(s: MailboxState) -> bool:
        s.full_listing_due_at = None
        return True

    await mailbox_state.mutate_state(services, tenant_id, mailbox, change)


async def _resolve_intents(services: Services, index: RoomIndex) -> None:
    """Creations of this space past their deadline are undone before the room is judged
    (so a room copy Graph applied late is never taken for a stranger's booking); the
    ones left are this run's in-flight creations."""
    try:
        _, left = await creation_intents.sweep(services, index.tenant_id, index.space.id)
    except GraphError as exc:  # tried again by the next run and by the timer
        log.warning("undoing abandoned creations of %s failed: %s", index.space.id, exc)
        return
    index.intent_slots = in_flight(left)


async def _context(services: Services, index: RoomIndex, remote: RemoteEvent) -> RoomContext:
    now = services.clock.now()
    organizer = await index.organizer(services, remote.organizer_email)
    since = now - timedelta(days=2)
    return RoomContext(
        tenant_id=index.tenant_id,
        space=index.space,
        room_mailbox=index.room,
        organizer=organizer,
        organizer_bookings=await index.bookings_of(services, organizer, since),
        space_bookings=index.confirmed(),
        now=now,
        holds=await index.holds(services, now),
    )


async def _vanished(
    index: RoomIndex, runner: ActionRunner, seen: set[str], since: datetime
) -> None:
    """After a full listing: confirmed bookings whose room copy is no longer there."""
    for record in list(index.records.values()):
        action = vanished(record.booking, seen, since)
        if action is not None:
            await runner.apply(action)


async def _pending_room_answers(
    services: Services, index: RoomIndex, runner: ActionRunner, now: datetime
) -> None:
    """Bookker bookings whose room copy never showed up (rare; one read each)."""
    for record in list(index.records.values()):
        action = unanswered(record.booking, now, PENDING_GRACE)
        if action is not None:
            await runner.apply(action)


async def _note_notification(
    services: Services, tenant_id: str, mailbox: str, notified_at: datetime
) -> None:
    def change(state: MailboxState) -> bool:
        if state.last_notification_at and state.last_notification_at >= notified_at:
            return False
        state.last_notification_at = notified_at
        return True

    await mailbox_state.mutate_state(services, tenant_id, mailbox, change)


async def _synced_since(services: Services, tenant_id: str, mailbox: str, moment: datetime) -> bool:
    stored = await services.repos.mailboxes.find(tenant_id, Mailbox(mailbox))
    last = stored.value.last_sync_at if stored else None
    return last is not None and last >= moment
