"""``reconcile_all``: a sync for every room whose last successful delta is older than
the interval, so a room whose notifications silently stopped converges within one
interval. Also re-ensures subscriptions that are missing altogether."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import TenantMode
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync import messages
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions.ensure import request_sync, wants_subscription

log = logging.getLogger(__name__)


@dataclass
class ReconcileReport:
    rooms: int = 0
    enqueued: int = 0
    ensured: int = 0


async def reconcile_all(services: Services, *, force: bool = False) -> ReconcileReport:
    report = ReconcileReport()
    now = services.clock.now()
    # A little less than the interval: a timer that fires every interval must not skip
    # a room synced a few seconds less than one interval ago.
    stale_before = (
        now
        - timedelta(minutes=services.settings.sync.reconcile_interval_minutes)
        + (timedelta(seconds=30))
    )
    for tenant in await services.repos.tenants.list(TENANT_PARTITION):
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
            if force or last is None or last < stale_before:
                await request_sync(services, tenant.id, mailbox, full=False)
                report.enqueued += 1
    log.info("reconcile_all: rooms=%d enqueued=%d ensured=%d force=%s",
             report.rooms, report.enqueued, report.ensured, force)  # fmt: skip
    return report
