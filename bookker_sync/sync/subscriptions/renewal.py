"""``renew_subscriptions``: keep every room subscription alive, within Graph's limits.

- renews subscriptions expiring within the margin (default 24 h) with PATCH in $batch
  requests of 20, paced through a budget in storage shared by every instance, so one
  tenant never exceeds Graph's 500 subscription writes per 20 s, and stopping before
  the function's time budget;
- new expiries get a random spread, so rooms onboarded together don't all come due
  together again;
- recreates subscriptions found missing (404) or expired, then resyncs those rooms;
- 401/403 → needs-consent (visible in health), with back-off; 429/5xx → next run.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bookker_sync.graph.batch import MAX_BATCH, BatchResult, send_batch
from bookker_sync.graph.errors import GraphError
from bookker_sync.graph.subscriptions import GATE, granted_expiry, renew_item
from bookker_sync.storage import rate_budget
from bookker_sync.storage.repositories import BudgetSlot, SubscriptionRecord, SubscriptionState
from bookker_sync.storage.tables import DocumentTable
from bookker_sync.sync.errors import NotFoundAppError
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions import ensure as subscriptions

log = logging.getLogger(__name__)

# Graph allows 500 subscription writes per 20 s per tenant; see Pacer for the margin.
SLOT_SECONDS = 4.0
WRITES_PER_SLOT = 80
SPREAD = timedelta(hours=12)  # random shortening of new lifetimes


@dataclass
class RenewalReport:
    due: int = 0
    renewed: int = 0
    recreated: int = 0
    needs_consent: int = 0
    failed: int = 0
    deferred: int = 0
    batches: int = 0
    seconds: float = 0.0
    per_tenant_writes: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class Pacer:
    """Subscription writes of one Graph tenant, paced across every instance of the app.

    Graph allows 500 subscription writes per 20 s per app per tenant, and a scaled-out
    app runs this timer's work on several instances over time (and a renewal run can
    overlap a space change's creations elsewhere): the budget lives in storage, shared.
    Time is cut into ``slot_seconds`` slots of at most ``per_slot`` writes each. Any
    20 s window meets at most ``ceil(20 / slot) + 1`` slots, so 4 s slots of 80 cap it
    at 480 (Graph's 500 minus a margin for request latency) while sustaining 400 / 20 s.
    Real time on purpose: Graph's window is real seconds, not the app's clock.
    """

    def __init__(
        self,
        table: DocumentTable[BudgetSlot],
        graph_tenant: str,
        per_slot: int = WRITES_PER_SLOT,
        slot_seconds: float = SLOT_SECONDS,
    ) -> None:
        self.table = table
        self.key = f"subscriptions|{graph_tenant}"
        self.per_slot, self.slot_seconds = per_slot, slot_seconds

    async def take(self, count: int) -> None:
        if count > self.per_slot:
            raise ValueError(f"{count} writes never fit a slot of {self.per_slot}")
        while True:
            now = time.time()
            slot = int(now // self.slot_seconds)
            if await rate_budget.try_take(self.table, self.key, slot, count, self.per_slot):
                return
            # This slot is spent (by us or another instance): wait for the next one,
            # spread a little so instances don't all race at its first millisecond.
            wait = (slot + 1) * self.slot_seconds - now
            await asyncio.sleep(wait + random.uniform(0, self.slot_seconds / 10))


async def renew_due(
    services: Services, *, budget_seconds: float = 240.0, force: bool = False
) -> RenewalReport:
    started = time.monotonic()
    report = RenewalReport()
    now = services.clock.now()
    margin = timedelta(hours=services.settings.sync.renewal_margin_hours)
    if force:
        records = await services.repos.subscriptions.list()
    else:
        # Only records that may be due are read: a timer every 10 minutes over 10,000
        # rooms would otherwise read all of them on every run. _is_due decides.
        records = await services.repos.subscriptions.list(
            None, "State ne @active or SubscriptionId eq '' or ExpiresAt le @soon",
            active=SubscriptionState.ACTIVE.value, soon=now + margin,
        )  # fmt: skip
    due = [r for r in records if _is_due(r, now, margin, force)]
    report.due = len(due)
    by_tenant: dict[str, list[SubscriptionRecord]] = defaultdict(list)
    for record in sorted(due, key=lambda r: r.expires_at or now):
        by_tenant[record.graph_tenant_id].append(record)
    await asyncio.gather(*(
        _renew_tenant(services, group, report, started, budget_seconds, now)
        for group in by_tenant.values()
    ))  # fmt: skip
    report.seconds = time.monotonic() - started
    log.info(
        "renewal: due=%d renewed=%d recreated=%d needs-consent=%d failed=%d deferred=%d "
        "batches=%d in %.1fs", report.due, report.renewed, report.recreated,
        report.needs_consent, report.failed, report.deferred, report.batches, report.seconds,
    )  # fmt: skip
    return report


def _is_due(record: SubscriptionRecord, now: datetime, margin: timedelta, force: bool) -> bool:
    if record.next_attempt_at and record.next_attempt_at > now and not force:
        return False
    if record.state is not SubscriptionState.ACTIVE or not record.subscription_id:
        return True
    return record.expires_at is None or record.expires_at <= now + margin


async def _renew_tenant(
    services: Services,
    records: list[SubscriptionRecord],
    report: RenewalReport,
    started: float,
    budget: float,
    now: datetime,
) -> None:
    pacer = Pacer(services.repos.write_budget, records[0].graph_tenant_id)
    renewable = [r for r in records if _renewable(r, now)]
    missing = [r for r in records if not _renewable(r, now)]
    for chunk_start in range(0, len(renewable), MAX_BATCH):
        if time.monotonic() - started > budget:
            report.deferred += len(renewable) - chunk_start + len(missing)
            return
        chunk = renewable[chunk_start : chunk_start + MAX_BATCH]
        await pacer.take(len(chunk))
        await _renew_chunk(services, chunk, report, now)
    for record in missing:
        if time.monotonic() - started > budget:
            report.deferred += 1
            continue
        await pacer.take(1)
        await _recreate(services, record, report)


def _renewable(record: SubscriptionRecord, now: datetime) -> bool:
    return (
        record.state in (SubscriptionState.ACTIVE, SubscriptionState.FAILING)
        and bool(record.subscription_id)
        and record.expires_at is not None
        and record.expires_at > now
    )


def new_expiry(services: Services, now: datetime) -> datetime:
    return subscriptions.expiry(services, now) - SPREAD * random.random()


async def _renew_chunk(
    services: Services, chunk: list[SubscriptionRecord], report: RenewalReport, now: datetime
) -> None:
    graph_tenant = chunk[0].graph_tenant_id
    expiries = {r.mailbox: new_expiry(services, now) for r in chunk}
    items = [
        renew_item(str(i), str(r.subscription_id), expiries[r.mailbox]) for i, r in enumerate(chunk)
    ]
    try:
        results = await send_batch(services.graph.transport(graph_tenant), GATE, items)
    except GraphError as exc:
        log.warning("renewal batch for %s failed: %s", graph_tenant, exc)
        if not exc.permission:
            report.failed += len(chunk)
            return
        for record in chunk:  # the app lost its consent: each room needs it again
            await subscriptions.mark_failed(services, record, exc)
        report.needs_consent += len(chunk)
        return
    report.batches += 1
    report.per_tenant_writes[graph_tenant] += len(chunk)
    # The chunk's records are stored concurrently: one storage round trip, not 20.
    await asyncio.gather(*(
        _settle(services, record, result, expiries[record.mailbox], report)
        for record, result in zip(chunk, results, strict=True)
    ))  # fmt: skip


async def _settle(
    services: Services,
    record: SubscriptionRecord,
    result: BatchResult,
    expires: datetime,
    report: RenewalReport,
) -> None:
    now = services.clock.now()
    if result.ok:
        updated = record.model_copy(update={
            "expires_at": granted_expiry(result) or expires, "renewed_at": now,
            "state": SubscriptionState.ACTIVE, "consecutive_failures": 0, "last_error": None,
            "next_attempt_at": None,
        })  # fmt: skip
        await services.repos.subscriptions.upsert(record.tenant_id, record.mailbox, updated)
        report.renewed += 1
    elif result.status == 404:
        await _recreate(services, record, report)
    else:
        error = GraphError(result.status, result.error_code or "Error", "renewal failed")
        await subscriptions.mark_failed(services, record, error)
        if error.permission:
            report.needs_consent += 1
        else:
            report.failed += 1


async def _recreate(services: Services, record: SubscriptionRecord, report: RenewalReport) -> None:
    try:
        tenant = await get_tenant(services, record.tenant_id)
        await subscriptions.create(services, tenant, record.space_id, record.mailbox)
        report.recreated += 1
    except NotFoundAppError:
        await subscriptions.remove(services, record)
    except GraphError as exc:
        if exc.permission:
            report.needs_consent += 1
        else:
            report.failed += 1
