"""Why is room X (not) in sync? One report for the CLI's ``status`` and the status page.

Per tenant and room: the subscription (state, expiry), the last notification, the last
successful delta, the lag, recent booking changes and declines, and a verdict:

- **failing**: the room's sync failed and has not succeeded since (consecutive
  failures > 0), or its subscription is failing / needs consent / missing / expired,
  or there is none: notifications are not arriving or not being processed;
- **lagging**: the last successful delta is older than the reconcile interval
  (``RECONCILE_INTERVAL_MINUTES``), or there was none yet: the reconcile pass should
  have caught up by now;
- **in sync** otherwise.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Booking, Space, Tenant, TenantMode
from bookker_sync.storage.queue_admin import QueueAdmin
from bookker_sync.storage.queues import APP_QUEUES, poison_queue
from bookker_sync.storage.repositories import (
    PUSH_ROW,
    TENANT_PARTITION,
    DeclineRecord,
    MailboxState,
    SubscriptionRecord,
    SubscriptionState,
)
from bookker_sync.sync.ops import declines, lag
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions.ensure import wants_subscription

CHANGES_WINDOW = timedelta(hours=24)
TENANTS_AT_ONCE = 8  # each tenant costs five table queries
NO_SUBSCRIPTION = "none"


class RoomHealth(StrEnum):
    IN_SYNC = "in sync"
    LAGGING = "lagging"
    FAILING = "failing"


@dataclass(frozen=True)
class BookingChange:
    booking_id: str
    subject: str
    status: str
    source: str
    start: datetime
    end: datetime
    updated_at: datetime
    reason: str | None = None


@dataclass
class RoomStatus:
    space_id: str
    space_name: str
    mailbox: str
    health: RoomHealth
    reasons: list[str]
    subscription_state: str
    subscription_expires_at: datetime | None
    subscription_error: str | None
    last_notification_at: datetime | None
    last_sync_at: datetime | None
    lag_seconds: float | None
    consecutive_failures: int
    last_error: str | None
    lag_samples: list[tuple[datetime, float]] = field(default_factory=list)
    changes: list[BookingChange] = field(default_factory=list)
    declines: list[DeclineRecord] = field(default_factory=list)


@dataclass(frozen=True)
class EventsStatus:
    """The tenant's event log and its push: how far delivery got, what was given up."""

    last_seq: int
    push_url: str | None = None
    delivered_seq: int = 0
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime | None = None
    dead_letters: int = 0


@dataclass
class TenantStatus:
    tenant_id: str
    display_name: str
    mode: str
    graph_tenant_id: str
    rooms: list[RoomStatus]
    events: EventsStatus | None = None

    def count(self, health: RoomHealth) -> int:
        return sum(r.health is health for r in self.rooms)


@dataclass
class StatusReport:
    generated_at: datetime
    reconcile_interval_minutes: int
    tenants: list[TenantStatus]
    poison: dict[str, int]

    def count(self, health: RoomHealth) -> int:
        return sum(t.count(health) for t in self.tenants)


def classify(
    now: datetime,
    interval: timedelta,
    record: SubscriptionRecord | None,
    state: MailboxState | None,
) -> tuple[RoomHealth, list[str]]:
    """The verdict for one room and the reasons behind it (pure)."""
    failing: list[str] = []
    if record is None:
        failing.append("no subscription")
    elif record.state is not SubscriptionState.ACTIVE or not record.subscription_id:
        detail = f": {record.last_error}" if record.last_error else ""
        failing.append(f"subscription {record.state.value}{detail}")
    elif record.expires_at is not None and record.expires_at <= now:
        failing.append("subscription expired")
    if state is not None and state.consecutive_failures > 0:
        runs = "run" if state.consecutive_failures == 1 else "runs"
        detail = f": {state.last_error}" if state.last_error else ""
        failing.append(f"{state.consecutive_failures} failed sync {runs}{detail}")
    if failing:
        return RoomHealth.FAILING, failing
    last = state.last_sync_at if state else None
    if last is None:
        return RoomHealth.LAGGING, ["never synced"]
    if now - last > interval:
        return RoomHealth.LAGGING, [f"last delta {_ago(now - last)} ago"]
    return RoomHealth.IN_SYNC, []


def human_span(seconds: float) -> str:
    """A duration for people: "0 s", "<1 s", "45 s", "12 min", "3.5 h", "7.0 d".
    Shared by the CLI, the status page and the verdict reasons."""
    if seconds < 1:
        return "0 s" if seconds == 0 else "<1 s"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _ago(delta: timedelta) -> str:
    return human_span(delta.total_seconds())


def room_mailbox(tenant: Tenant, space: Space) -> Mailbox | None:
    """The room mailbox this space syncs with, or None (unidirectional / no mailbox)."""
    return Mailbox.parse(space.resource_email) if wants_subscription(tenant, space) else None


async def status_report(
    services: Services,
    tenant_id: str | None = None,
    *,
    changes_per_room: int = 3,
    declines_per_room: int = 5,
) -> StatusReport:
    """Raises NotFoundAppError for an unknown ``tenant_id``."""
    now = services.clock.now()
    if tenant_id is not None:
        tenants = [await get_tenant(services, tenant_id)]
    else:
        tenants = sorted(
            await services.repos.tenants.list(TENANT_PARTITION), key=lambda t: t.id.lower()
        )
    gate = asyncio.Semaphore(TENANTS_AT_ONCE)

    async def one(tenant: Tenant) -> TenantStatus:
        async with gate:
            return await _tenant_status(services, tenant, now, changes_per_room, declines_per_room)

    summaries = await asyncio.gather(*(one(t) for t in tenants))
    admin = QueueAdmin(services.storage.queues)
    poison = {q: await admin.depth(poison_queue(q)) for q in APP_QUEUES}
    return StatusReport(
        generated_at=now,
        reconcile_interval_minutes=services.settings.sync.reconcile_interval_minutes,
        tenants=list(summaries),
        poison=poison,
    )


async def _tenant_status(
    services: Services, tenant: Tenant, now: datetime, changes_per_room: int, per_room: int
) -> TenantStatus:
    result = TenantStatus(
        tenant_id=tenant.id, display_name=tenant.display_name, mode=tenant.mode.value,
        graph_tenant_id=tenant.graph_tenant_id, rooms=[],
        events=await events_status(services, tenant.id),
    )  # fmt: skip
    if tenant.mode is not TenantMode.BIDIRECTIONAL:
        return result
    spaces, records, states, recent, declined = await asyncio.gather(
        services.repos.spaces.list(tenant.id),
        services.repos.subscriptions.list(tenant.id),
        services.repos.mailboxes.list(tenant.id),
        services.repos.bookings.list(tenant.id, "UpdatedAt ge @t", t=now - CHANGES_WINDOW),
        declines.recent_by_room(services, tenant.id, per_room),
    )
    by_mailbox = {Mailbox(r.mailbox): r for r in records}
    state_of = {Mailbox(s.mailbox): s for s in states}
    changes = _changes_by_space([r.booking for r in recent], changes_per_room)
    interval = timedelta(minutes=services.settings.sync.reconcile_interval_minutes)
    for space in sorted(spaces, key=lambda s: (s.name.lower(), s.id)):
        mailbox = room_mailbox(tenant, space)
        if mailbox is None:
            continue
        record, state = by_mailbox.get(mailbox), state_of.get(mailbox)
        health, reasons = classify(now, interval, record, state)
        samples = lag.recent(state.lag_samples, now) if state else []
        result.rooms.append(RoomStatus(
            space_id=space.id, space_name=space.name, mailbox=mailbox, health=health,
            reasons=reasons,
            subscription_state=record.state.value if record else NO_SUBSCRIPTION,
            subscription_expires_at=record.expires_at if record else None,
            subscription_error=record.last_error if record else None,
            last_notification_at=state.last_notification_at if state else None,
            last_sync_at=state.last_sync_at if state else None,
            lag_seconds=samples[-1][1] if samples else None,
            consecutive_failures=state.consecutive_failures if state else 0,
            last_error=state.last_error if state else None,
            lag_samples=samples,
            changes=changes.get(space.id, []),
            declines=declined.get(space.id, []),
        ))  # fmt: skip
    return result


def _changes_by_space(bookings: list[Booking], per_room: int) -> dict[str, list[BookingChange]]:
    grouped: dict[str, list[BookingChange]] = defaultdict(list)
    for b in sorted(bookings, key=lambda b: b.updated_at, reverse=True):
        if len(grouped[b.space_id]) < per_room:
            grouped[b.space_id].append(BookingChange(
                booking_id=b.id, subject=b.subject, status=b.status.value, source=b.source.value,
                start=b.start, end=b.end, updated_at=b.updated_at, reason=b.status_reason,
            ))  # fmt: skip
    return dict(grouped)


async def events_status(services: Services, tenant_id: str) -> EventsStatus:
    last, push, dead = await asyncio.gather(
        services.events.last_seq(tenant_id),
        services.repos.event_push.find(tenant_id, PUSH_ROW),
        services.repos.dead_letters.list(tenant_id),
    )
    if push is None:
        return EventsStatus(last_seq=last, dead_letters=len(dead))
    p = push.value
    return EventsStatus(
        last_seq=last, push_url=p.url, delivered_seq=p.delivered_seq, attempts=p.attempts,
        last_error=p.last_error, next_attempt_at=p.next_attempt_at, dead_letters=len(dead),
    )  # fmt: skip
