"""Queue ``lifecycle``: subscription upkeep work and Graph lifecycle notifications.

- ``ensure`` / ``ensureTenant``: converge subscriptions after a space or tenant changed;
- ``subscriptionRemoved`` → recreate, then full delta resync;
- ``missed`` → delta resync;
- ``reauthorizationRequired`` → reauthorize (no PATCH too: Graph's lifecycle docs say not both
  within 10 minutes);
- any other lifecycleEvent → logged with its payload and ignored (new kinds appear).
"""

from __future__ import annotations

import logging

from bookker_sync.graph.errors import GraphError, GraphNotFoundError
from bookker_sync.log_context import redact
from bookker_sync.storage.repositories import SubscriptionRecord
from bookker_sync.sync.errors import NotFoundAppError
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.outbound.tenants import get_space, get_tenant
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions import ensure as subscriptions

log = logging.getLogger(__name__)
KNOWN_EVENTS = ("subscriptionRemoved", "missed", "reauthorizationRequired")


async def process(services: Services, message: LifecycleMessage) -> None:
    try:
        tenant = await get_tenant(services, message.tenant_id)
    except NotFoundAppError:
        log.warning("lifecycle work for unknown tenant %s ignored", message.tenant_id)
        return
    if message.kind == "ensureTenant":
        for space in await services.repos.spaces.list(tenant.id):
            await subscriptions.ensure_space(services, tenant, space)
        return
    if message.kind == "ensure":
        if message.space_id:
            try:
                space = await get_space(services, tenant.id, message.space_id)
            except NotFoundAppError:
                await _drop_space(services, tenant.id, message.space_id)
                return
            await subscriptions.ensure_space(services, tenant, space)
        return
    await _lifecycle_event(services, message)


async def _drop_space(services: Services, tenant_id: str, space_id: str) -> None:
    for record in await services.repos.subscriptions.list(tenant_id):
        if record.space_id == space_id:
            await subscriptions.remove(services, record)


async def _lifecycle_event(services: Services, message: LifecycleMessage) -> None:
    event = message.lifecycle_event or ""
    if event not in KNOWN_EVENTS:
        log.warning(
            "unknown lifecycleEvent %r ignored; payload: %s",
            event, redact(message.payload[:2000]),
        )  # fmt: skip
        return
    if not message.mailbox:
        return
    stored = await services.repos.subscriptions.find(message.tenant_id, message.mailbox)
    if stored is None:
        log.info(
            "lifecycle %s for %s: no subscription record (space removed?)", event, message.mailbox
        )
        return
    record = stored.value
    if (record.subscription_id or "").lower() != (message.subscription_id or "").lower():
        log.info("lifecycle %s for an old subscription of %s ignored", event, record.mailbox)
        return
    if event == "subscriptionRemoved":
        await _recreate(services, record)
    elif event == "missed":
        await subscriptions.request_sync(services, record.tenant_id, record.mailbox, full=False)
    else:
        await _reauthorize(services, record)


async def _recreate(services: Services, record: SubscriptionRecord) -> None:
    tenant = await get_tenant(services, record.tenant_id)
    try:
        await subscriptions.create(services, tenant, record.space_id, record.mailbox)
    except GraphError as exc:
        if not subscriptions.settled_failure(exc):
            raise
        log.warning("recreating the subscription of %s left for later: %s", record.mailbox, exc)


async def _reauthorize(services: Services, record: SubscriptionRecord) -> None:
    assert record.subscription_id is not None
    api = services.graph.subscriptions(record.graph_tenant_id)
    try:
        await api.reauthorize(record.subscription_id)
    except GraphNotFoundError:
        await _recreate(services, record)
        return
    except GraphError as exc:
        if not exc.permission:
            raise
        await subscriptions.mark_failed(services, record, exc)
        return
    now = services.clock.now()
    await services.repos.subscriptions.upsert(
        record.tenant_id, record.mailbox, record.model_copy(update={"reauthorized_at": now})
    )
