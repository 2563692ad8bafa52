"""Keeping every bidirectional room subscribed.

A subscription is created when a bidirectional space gets a room mailbox (then an
initial full delta sync runs), recreated when Graph removed it, and deleted when the
space leaves bidirectional sync. Records and the subscriptionId index live in Tables.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.events import EventFacts, EventType, Origin
from bookker_sync.domain.models import Space, Tenant, TenantMode
from bookker_sync.graph.errors import GraphError
from bookker_sync.graph.subscriptions import (
    RemoteSubscription,
    SubscriptionsApi,
    capped_expiry,
    events_resource,
)
from bookker_sync.storage.repositories import (
    SubscriptionIndex,
    SubscriptionRecord,
    SubscriptionState,
)
from bookker_sync.sync import messages
from bookker_sync.sync.events.log import record_event
from bookker_sync.sync.messages import MailboxSyncMessage
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


def wants_subscription(tenant: Tenant, space: Space) -> bool:
    return tenant.mode is TenantMode.BIDIRECTIONAL and bool(space.resource_email)


def new_client_state() -> str:
    return secrets.token_urlsafe(48)  # 64 characters, within Graph's 128


def expiry(services: Services, now: datetime) -> datetime:
    wanted = now + timedelta(minutes=services.settings.sync.subscription_lifetime_minutes)
    return capped_expiry(now, wanted)


async def request_sync(services: Services, tenant_id: str, mailbox: str, *, full: bool) -> None:
    await messages.send(
        services.queues,
        MailboxSyncMessage(tenant_id=tenant_id, mailbox=Mailbox(mailbox), full=full),
    )


async def ensure_space(services: Services, tenant: Tenant, space: Space) -> None:
    """Converge the room's subscription with what the space and tenant want."""
    records = [
        r for r in await services.repos.subscriptions.list(tenant.id) if r.space_id == space.id
    ]
    wanted = Mailbox.parse(space.resource_email) if wants_subscription(tenant, space) else None
    for record in records:
        if record.mailbox != wanted:
            await remove(services, record)
    if wanted is None:
        return
    current = next((r for r in records if r.mailbox == wanted), None)
    if current and current.state is SubscriptionState.ACTIVE and current.subscription_id:
        return
    await create(services, tenant, space.id, wanted)


async def create(
    services: Services, tenant: Tenant, space_id: str, mailbox: str
) -> SubscriptionRecord:
    """Create (or recreate) the subscription, store it, then run a full delta sync so
    changes made while nothing was listening are found."""
    now = services.clock.now()
    stored = await services.repos.subscriptions.find(tenant.id, mailbox)
    record = stored.value if stored else SubscriptionRecord(
        tenant_id=tenant.id, mailbox=mailbox, space_id=space_id,
        graph_tenant_id=tenant.graph_tenant_id,
    )  # fmt: skip
    old_id = record.subscription_id
    client_state = new_client_state()
    api = services.graph.subscriptions(tenant.graph_tenant_id)

    async def attempt() -> RemoteSubscription:
        return await api.create(
            mailbox, notification_url=services.settings.notification_url,
            lifecycle_url=services.settings.lifecycle_url, client_state=client_state,
            expires_at=expiry(services, now),
        )  # fmt: skip

    try:
        try:
            remote = await attempt()
        except GraphError as exc:
            if exc.status != 409:
                raise
            # A duplicate we no longer know the clientState of: replace it.
            await _delete_duplicates(api, mailbox)
            remote = await attempt()
    except GraphError as exc:
        await _failed(services, record, exc, now)
        raise
    # Index first: a notification may arrive as soon as Graph answered.
    await services.repos.subscription_ids.upsert(remote.id, "s", SubscriptionIndex(
        tenant_id=tenant.id, mailbox=mailbox, graph_tenant_id=tenant.graph_tenant_id,
        client_state=client_state,
    ))  # fmt: skip
    record = record.model_copy(update={
        "space_id": space_id, "graph_tenant_id": tenant.graph_tenant_id,
        "subscription_id": remote.id, "client_state": client_state,
        "expires_at": remote.expires_at, "state": SubscriptionState.ACTIVE, "created_at": now,
        "renewed_at": now, "consecutive_failures": 0, "last_error": None, "next_attempt_at": None,
    })  # fmt: skip
    await services.repos.subscriptions.upsert(tenant.id, mailbox, record)
    if old_id and old_id != remote.id:
        await services.repos.subscription_ids.delete(old_id, "s")
    log.info(
        "subscribed to %s (subscription %s, expires %s)", mailbox, remote.id, remote.expires_at
    )
    await request_sync(services, tenant.id, mailbox, full=True)
    return record


async def _delete_duplicates(api: SubscriptionsApi, mailbox: str) -> None:
    resource = events_resource(mailbox).lower().lstrip("/")
    for sub in await api.list_all():
        if sub.resource.lower().lstrip("/") == resource:
            await api.delete(sub.id)


async def remove(services: Services, record: SubscriptionRecord) -> None:
    if record.subscription_id:
        try:
            await services.graph.subscriptions(record.graph_tenant_id).delete(
                record.subscription_id
            )
        except GraphError as exc:  # expired or gone already: nothing left to delete
            log.warning("deleting subscription %s failed: %s", record.subscription_id, exc)
        await services.repos.subscription_ids.delete(record.subscription_id, "s")
    await services.repos.subscriptions.delete(record.tenant_id, record.mailbox)
    log.info("unsubscribed from %s", record.mailbox)


async def mark_failed(services: Services, record: SubscriptionRecord, exc: GraphError) -> None:
    await _failed(services, record, exc, services.clock.now())


async def _failed(
    services: Services, record: SubscriptionRecord, exc: GraphError, now: datetime
) -> None:
    failures = record.consecutive_failures + 1
    state = SubscriptionState.NEEDS_CONSENT if exc.permission else SubscriptionState.FAILING
    backoff = timedelta(minutes=min(2**failures, 240))
    updated = record.model_copy(update={
        "state": state, "consecutive_failures": failures, "last_error": str(exc)[:300],
        "next_attempt_at": now + backoff,
    })  # fmt: skip
    await services.repos.subscriptions.upsert(record.tenant_id, record.mailbox, updated)
    if state is SubscriptionState.NEEDS_CONSENT and record.state is not state:
        await consent_required(services, record.tenant_id, record.mailbox, str(exc), now)


async def consent_required(
    services: Services, tenant_id: str, mailbox: str, error: str, now: datetime
) -> None:
    """Bookker is told once a day at most, however many rooms find consent gone."""
    await record_event(services, EventFacts(
        tenant_id=tenant_id, type=EventType.CONSENT_REQUIRED, origin=Origin.SYSTEM,
        key=f"consent-lost|{now:%Y-%m-%d}", reason="Microsoft Graph refused the app's "
        "access: an administrator must consent again.",
        extra={"mailbox": mailbox, "error": error[:300]},
    ))  # fmt: skip
