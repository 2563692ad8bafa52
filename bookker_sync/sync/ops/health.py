"""The health report: storage reachability, poison queues, and per tenant the state of
its room subscriptions and syncs."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Literal, NotRequired, TypedDict

from bookker_sync.domain.models import TenantMode
from bookker_sync.storage.queues import APP_QUEUES, poison_queue
from bookker_sync.storage.repositories import TENANT_PARTITION, SubscriptionState
from bookker_sync.sync.services import Services


class StorageHealth(TypedDict):
    reachable: bool
    error: NotRequired[str]


class GraphTraffic(TypedDict):
    requests: int
    throttled: int
    retries: int


class SubscriptionCounts(TypedDict):
    active: int
    expiringWithin24h: int
    failing: int
    needsConsent: int
    missing: int


class TenantHealth(TypedDict):
    tenantId: str
    mode: str
    rooms: int
    subscriptions: SubscriptionCounts
    oldestSuccessfulSync: str | None
    maxSyncLagSeconds: float | None
    syncFailures: int


class HealthReport(TypedDict):
    """GET /api/health's JSON (camelCase keys: it is the response body)."""

    status: Literal["ok", "degraded", "unhealthy"]
    time: str
    storage: StorageHealth
    graph: NotRequired[GraphTraffic]
    poisonQueues: NotRequired[dict[str, int]]
    tenants: NotRequired[list[TenantHealth]]


async def health_report(services: Services) -> HealthReport:
    try:
        await asyncio.wait_for(services.repos.ping(), timeout=5)
    except Exception as exc:  # any failure means "not reachable" for the report
        return {
            "status": "unhealthy",
            "time": services.clock.now().isoformat(),
            "storage": {"reachable": False, "error": f"{type(exc).__name__}: {exc}"[:300]},
        }
    poison = {q: await services.queues.depth(poison_queue(q)) for q in APP_QUEUES}
    tenants = [await _tenant_summary(services, t.id) for t in
               await services.repos.tenants.list(TENANT_PARTITION)]  # fmt: skip
    degraded = any(poison.values()) or any(
        t["subscriptions"]["failing"] or t["subscriptions"]["needsConsent"] for t in tenants
    )
    graph = services.graph.stats()
    return {
        "status": "degraded" if degraded else "ok",
        "time": services.clock.now().isoformat(),
        "storage": {"reachable": True},
        # This instance's Graph traffic since start (HTTP requests, not $batch items).
        "graph": {
            "requests": graph.requests,
            "throttled": graph.throttled,
            "retries": graph.retries,
        },
        "poisonQueues": poison,
        "tenants": tenants,
    }


async def _tenant_summary(services: Services, tenant_id: str) -> TenantHealth:
    tenant = (await services.repos.tenants.get(TENANT_PARTITION, tenant_id)).value
    now = services.clock.now()
    records = await services.repos.subscriptions.list(tenant_id)
    states = await services.repos.mailboxes.list(tenant_id)
    soon = now + timedelta(hours=24)
    counts: SubscriptionCounts = {
        "active": sum(r.state is SubscriptionState.ACTIVE for r in records),
        "expiringWithin24h": sum(
            r.state is SubscriptionState.ACTIVE and r.expires_at is not None and r.expires_at < soon
            for r in records
        ),
        "failing": sum(r.state is SubscriptionState.FAILING for r in records),
        "needsConsent": sum(r.state is SubscriptionState.NEEDS_CONSENT for r in records),
        "missing": sum(r.state is SubscriptionState.MISSING for r in records),
    }
    synced = [s.last_sync_at for s in states if s.last_sync_at is not None]
    oldest = min(synced) if synced else None
    return {
        "tenantId": tenant_id,
        "mode": tenant.mode.value,
        "rooms": len(records) if tenant.mode is TenantMode.BIDIRECTIONAL else 0,
        "subscriptions": counts,
        "oldestSuccessfulSync": oldest.isoformat() if oldest else None,
        "maxSyncLagSeconds": (now - oldest).total_seconds() if oldest else None,
        "syncFailures": sum(s.consecutive_failures > 0 for s in states),
    }


class Liveness(TypedDict):
    """What GET /api/health tells anyone: alive, and can it reach its storage."""

    status: Literal["ok", "degraded"]


LIVENESS_SECONDS = 10.0  # one storage ping per instance and window, whatever the traffic
_liveness: dict[int, tuple[Liveness, float]] = {}


async def liveness(services: Services) -> Liveness:
    """A cheap check for anonymous callers: one storage ping (no retries, 2 s at most),
    cached; no table scans and nothing about tenants."""
    key = id(services)
    hit = _liveness.get(key)
    if hit is not None and time.monotonic() - hit[1] < LIVENESS_SECONDS:
        return hit[0]
    try:
        await asyncio.wait_for(services.repos.ping(retries=0), timeout=2)
        answer: Liveness = {"status": "ok"}
    except Exception:  # any failure means "degraded" to an anonymous caller
        answer = {"status": "degraded"}
    _liveness[key] = (answer, time.monotonic())
    return answer
