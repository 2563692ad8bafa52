"""Graph webhook ingress: authenticate each notification, turn the valid ones into
pokes. Runs on the hot path (Graph wants 2xx within 3 s): no delta, no Graph call,
one cached point read per unknown subscription (subscription_cache.py), one enqueue
per (tenant, mailbox).

Anonymous input, so the cost of a hostile request is bounded: ids that are not GUIDs
never reach storage; unknown ids are cached as unknown; a request whose first
``PROBE_LOOKUPS`` looked-up ids are all unknown gets no further lookups; a rejected
request is one log line, not one per item. The stored clientState is a keyed digest,
compared in constant time.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from bookker_sync import telemetry
from bookker_sync.domain.signing import CLIENT_STATE, digest_matches, is_guid
from bookker_sync.graph.graph_types import NotificationJson
from bookker_sync.storage.repositories import SubscriptionIndex
from bookker_sync.sync.inbound.poke_writer import writer_for
from bookker_sync.sync.inbound.subscription_cache import CACHE
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.services import Services

security_log = logging.getLogger("bookker_sync.security")
MAX_PAYLOAD_CHARS = 8000
# Storage lookups of one request run this many at a time.
LOOKUP_CONCURRENCY = 16
# A request whose first this-many distinct uncached ids are all unknown is forged (a
# genuine batch names subscriptions we made): its remaining ids are not looked up.
PROBE_LOOKUPS = 20
SAMPLE_IDS = 3  # subscription ids quoted in the one log line of a rejected request


@dataclass
class IngressResult:
    accepted: int = 0
    rejected: int = 0
    pokes: int = 0
    lifecycle: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)

    def reject(self, reason: str, subscription_id: object = None) -> None:
        self.rejected += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1
        if len(self.samples) < SAMPLE_IDS:
            self.samples.append(repr(str(subscription_id))[:60])


def _subscription_id(value: Any) -> str | None:
    """The item's subscription id if it can be one: Graph's are GUIDs. Anything else is
    rejected before it reaches storage or the caches."""
    if not isinstance(value, dict):
        return None
    sub_id = value.get("subscriptionId")
    # As given: the index holds the id as Graph wrote it, and only that spelling is ours.
    return sub_id if isinstance(sub_id, str) and is_guid(sub_id) else None


async def _resolve(services: Services, ids: list[str]) -> dict[str, SubscriptionIndex | None]:
    """Owner of each distinct id (cached, else one point read each, a few at a time);
    ids left out were not looked up (the request looked forged)."""
    out: dict[str, SubscriptionIndex | None] = {}
    todo: list[str] = []
    for sub_id in dict.fromkeys(ids):
        hit, index = CACHE.cached(sub_id)
        if hit:
            out[sub_id] = index
        else:
            todo.append(sub_id)
    gate = asyncio.Semaphore(LOOKUP_CONCURRENCY)

    async def one(sub_id: str) -> None:
        async with gate:
            out[sub_id] = await CACHE.lookup(services, sub_id)

    probe, rest = todo[:PROBE_LOOKUPS], todo[PROBE_LOOKUPS:]
    await asyncio.gather(*(one(i) for i in probe))
    if rest and any(v is not None for v in out.values()):
        await asyncio.gather(*(one(i) for i in rest))
    return out


def _check(
    key: bytes, item: NotificationJson, index: SubscriptionIndex | None, result: IngressResult
) -> bool:
    sub_id = item.get("subscriptionId")
    if index is None:
        result.reject("unknown subscription", sub_id)
        return False
    state = item.get("clientState")
    if not isinstance(state, str) or not digest_matches(
        key, CLIENT_STATE, state, index.client_state_hash
    ):
        result.reject("clientState mismatch", sub_id)
        return False
    tenant = item.get("tenantId")
    if not isinstance(tenant, str) or tenant.lower() != index.graph_tenant_id.lower():
        result.reject("tenantId mismatch", sub_id)
        return False
    return True


def _log_rejections(result: IngressResult) -> None:
    """One line per request, whatever the number of rejected items; never a clientState."""
    if not result.rejected:
        return
    for reason, count in result.reasons.items():
        telemetry.NOTIFICATIONS_REJECTED.add(count, {"reason": reason})
    reasons = ", ".join(f"{r}: {n}" for r, n in sorted(result.reasons.items()))
    security_log.warning(
        "notifications rejected: %d of %d (%s); subscriptionIds e.g. %s",
        result.rejected, result.rejected + result.accepted, reasons, ", ".join(result.samples),
    )  # fmt: skip


def _payload(item: NotificationJson) -> str:
    """The item without its clientState, as JSON text for the lifecycle worker's log.
    Text, not a structure: a queue message holds 64 KB and an odd item (huge, nested
    past what encoders follow) must not make the whole batch fail (503) on every retry."""
    payload = {k: v for k, v in item.items() if k != "clientState"}
    try:
        text = json.dumps(payload)
    except (ValueError, RecursionError):  # nesting the encoder won't follow
        return "(not serialisable)"
    return text[:MAX_PAYLOAD_CHARS]


async def accept(services: Services, items: Sequence[Any]) -> IngressResult:
    """Validate ``value`` items; enqueue one poke per (tenant, mailbox) and each
    lifecycle event. Raises if enqueueing fails (the caller answers 5xx: Graph retries)."""
    result = IngressResult()
    pokes: dict[tuple[str, str], None] = {}
    lifecycle: list[LifecycleMessage] = []
    telemetry.NOTIFICATIONS_RECEIVED.add(len(items))
    ids = [_subscription_id(item) for item in items]
    well_formed = [i for i in ids if i is not None]
    if well_formed:  # nothing to look up: no storage call at all
        await CACHE.refresh(services)
    owners = await _resolve(services, well_formed)
    secret = services.settings.security.key
    for value, sub_id in zip(items, ids, strict=True):
        if sub_id is None:
            if isinstance(value, dict):
                result.reject("no subscriptionId", value.get("subscriptionId"))
            else:
                result.reject("not an object")
            continue
        # Shape only: every field is still checked (it's untrusted input).
        item = cast(NotificationJson, value)
        index = owners.get(sub_id)
        if not _check(secret, item, index, result):
            continue
        assert index is not None
        result.accepted += 1
        if "lifecycleEvent" in item:
            lifecycle.append(LifecycleMessage(
                kind="lifecycle", tenant_id=index.tenant_id, mailbox=index.mailbox,
                subscription_id=sub_id, lifecycle_event=str(item.get("lifecycleEvent"))[:100],
                payload=_payload(item),
            ))  # fmt: skip
        else:
            pokes[(index.tenant_id, index.mailbox)] = None
    _log_rejections(result)
    now = services.clock.now()
    await writer_for(services.queues).persist({key: now for key in pokes}, lifecycle)
    result.pokes, result.lifecycle = len(pokes), len(lifecycle)
    return result
