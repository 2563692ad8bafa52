"""Graph webhook ingress: authenticate each notification, turn the valid ones into
pokes. Runs on the hot path (Graph wants 2xx within 3 s): no delta, no Graph call,
one cached point read per unknown subscription, one enqueue per (tenant, mailbox).
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from bookker_sync import telemetry
from bookker_sync.graph.graph_types import NotificationJson
from bookker_sync.storage.repositories import SubscriptionIndex
from bookker_sync.sync.inbound.poke_writer import writer_for
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.services import Services

security_log = logging.getLogger("bookker_sync.security")
CACHE_SECONDS = 300.0
MAX_PAYLOAD_CHARS = 8000
# Graph subscription ids are GUIDs. Anything else is rejected before it reaches storage:
# a key with a lone surrogate or odd characters must not become a failed lookup (5xx).
_SUBSCRIPTION_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,199}$")
_cache: dict[str, tuple[SubscriptionIndex, float]] = {}


@dataclass
class IngressResult:
    accepted: int = 0
    rejected: int = 0
    pokes: int = 0
    lifecycle: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


async def _index(services: Services, subscription_id: str) -> SubscriptionIndex | None:
    hit = _cache.get(subscription_id)
    if hit and time.monotonic() - hit[1] < CACHE_SECONDS:
        return hit[0]
    stored = await services.repos.subscription_ids.find(subscription_id, "s")
    if stored is None:
        return None
    _cache[subscription_id] = (stored.value, time.monotonic())
    return stored.value


def _reject(result: IngressResult, reason: str, item: NotificationJson) -> None:
    result.rejected += 1
    result.reasons[reason] = result.reasons.get(reason, 0) + 1
    telemetry.NOTIFICATIONS_REJECTED.add(1, {"reason": reason})
    # A security event: never log the clientState (or anything secret) itself.
    security_log.warning(
        "notification rejected (%s): subscriptionId=%r tenantId=%r changeType=%r",
        reason, str(item.get("subscriptionId"))[:80], str(item.get("tenantId"))[:80],
        str(item.get("changeType") or item.get("lifecycleEvent"))[:40],
    )  # fmt: skip


async def _authentic(
    services: Services, value: Any, result: IngressResult, unknown: set[str]
) -> SubscriptionIndex | None:
    if not isinstance(value, dict):
        _reject(result, "not an object", {})
        return None
    # Shape only: every field is still checked below (it's untrusted input).
    item = cast(NotificationJson, value)
    sub_id, state, tenant = (
        item.get("subscriptionId"),
        item.get("clientState"),
        item.get("tenantId"),
    )
    if not isinstance(sub_id, str) or not _SUBSCRIPTION_ID.fullmatch(sub_id):
        _reject(result, "no subscriptionId", item)
        return None
    # One lookup per unknown id and batch: 1000 copies of a bogus id cost one read.
    index = None if sub_id in unknown else await _index(services, sub_id)
    if index is None:
        unknown.add(sub_id)
        _reject(result, "unknown subscription", item)
        return None
    # surrogatepass: a lone surrogate (legal as a JSON \ud800 escape) can't be UTF-8
    # encoded; its bytes then just never match a real clientState (no crash, no 503).
    given = state.encode("utf-8", "surrogatepass") if isinstance(state, str) else b""
    if not hmac.compare_digest(given, index.client_state.encode()):
        _reject(result, "clientState mismatch", item)
        return None
    if not isinstance(tenant, str) or tenant.lower() != index.graph_tenant_id.lower():
        _reject(result, "tenantId mismatch", item)
        return None
    return index


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
    unknown: set[str] = set()
    for item in items:
        index = await _authentic(services, item, result, unknown)
        if index is None:
            continue
        result.accepted += 1
        if "lifecycleEvent" in item:
            lifecycle.append(LifecycleMessage(
                kind="lifecycle", tenant_id=index.tenant_id, mailbox=index.mailbox,
                subscription_id=item["subscriptionId"],
                lifecycle_event=str(item.get("lifecycleEvent"))[:100],
                payload=_payload(item),
            ))  # fmt: skip
        else:
            pokes[(index.tenant_id, index.mailbox)] = None
    now = services.clock.now()
    await writer_for(services.queues).persist({key: now for key in pokes}, lifecycle)
    result.pokes, result.lifecycle = len(pokes), len(lifecycle)
    return result
