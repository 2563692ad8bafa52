"""``reconcile_all``: a sync for every room that would otherwise miss the bound, so a
room whose notifications silently stopped converges within RECONCILE_INTERVAL_MINUTES.
Also re-ensures subscriptions that are missing altogether.

The timer fires every P minutes (its schedule); a room last synced at s is synced by
the first tick at which it is older than T. A change just after s then reaches
Bookker by s + T + P at the latest, so T = interval - P keeps the bound (T = 0 when
the timer fires once per interval: every room, every tick)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import TenantMode
from bookker_sync.graph.errors import GraphError
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync import messages
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.outbound import creation_intents
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions.ensure import request_sync, wants_subscription

log = logging.getLogger(__name__)
SLACK = timedelta(seconds=30)


@dataclass
class ReconcileReport:
    rooms: int = 0
    enqueued: int = 0
    ensured: int = 0
    undone: int = 0  # abandoned Bookker creations undone


def stale_before(now: datetime, interval: timedelta, timer_period: timedelta | None) -> datetime:
    """Rooms last synced before this moment are synced now. ``timer_period`` unknown:
    assume one interval. A little slack: a sync started a few seconds after the tick
    that asked for it must not make the room wait one more period."""
    period = interval if timer_period is None else min(max(timer_period, timedelta(0)), interval)
    return now - (interval - period) + SLACK


async def reconcile_all(
    services: Services, *, force: bool = False, timer_period: timedelta | None = None
) -> ReconcileReport:
    report = ReconcileReport()
    now = services.clock.now()
    interval = timedelta(minutes=services.settings.sync.reconcile_interval_minutes)
    stale = stale_before(now, interval, timer_period)
    for tenant in await services.repos.tenants.list(TENANT_PARTITION):
        await _resolve_intents(services, tenant.id, report)
        if tenant.mode is not TenantMode.BIDIRECTIONAL:
            continue
        states = {s.mailbox: s for s in await services.repos.mailboxes.list(tenant.id)}
        subscribed = {r.mailbox for r in await services.repos.subscriptions.list(tenant.id)}
        for space in await services.repos.spaces.list(tenant.id):
            if not wants_subscription(tenant, space):
                continue
            report.rooms += 1
            mailbox = Mailbox(space.resource_email or "")  # wants_subscription: it has one
            if mailbox not in subscribed:
                await messages.send(
                    services.queues,
                    LifecycleMessage(kind="ensure", tenant_id=tenant.id, space_id=space.id),
                )
                report.ensured += 1
                continue
            state = states.get(mailbox)
            last = state.last_sync_at if state else None
            if force or last is None or last < stale:
                await request_sync(services, tenant.id, mailbox, full=False)
                report.enqueued += 1
    log.info("reconcile_all: rooms=%d enqueued=%d ensured=%d undone=%d force=%s",
             report.rooms, report.enqueued, report.ensured, report.undone, force)  # fmt: skip
    return report


async def _resolve_intents(services: Services, tenant_id: str, report: ReconcileReport) -> None:
    """Bookker creations that never completed (crash, timeout, 5xx) are undone."""
    try:
        report.undone += await creation_intents.resolve_due(services, tenant_id)
    except GraphError as exc:  # tried again at the next tick
        log.warning("undoing abandoned creations of %s failed: %s", tenant_id, exc)
