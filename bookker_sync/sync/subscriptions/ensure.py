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
from bookker_sync.domain.signing import CLIENT_STATE, digest_matches, keyed_digest
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
from bookker_sync.sync.inbound.subscription_cache import subscriptions_changed
from bookker_sync.sync.messages import MailboxSyncMessage
from bookker_sync.sync.ownership import holds_room
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
NOT_OURS = "SubscriptionNotOurs"  # 409 on create, the duplicate belonging to someone else
MAX_PENDING = 5


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
    """Converge the room's subscription with what the space and tenant want. A room
    another tenant owns, or a Graph refusal that retrying can't fix (no consent, a
    subscription on the room that isn't ours), is recorded on the subscription record
    (visible in health and status), not raised: the queue would only retry it into the
    poison queue."""
    records = [
        r for r in await services.repos.subscriptions.list(tenant.id) if r.space_id == space.id
    ]
    wanted = Mailbox.parse(space.resource_email) if wants_subscription(tenant, space) else None
    for record in records:
        if record.mailbox != wanted or record.graph_tenant_id != tenant.graph_tenant_id:
            await remove(services, record)  # another room, or the tenant's old directory
    if wanted is None:
        return
    current = next(
        (r for r in records
         if r.mailbox == wanted and r.graph_tenant_id == tenant.graph_tenant_id), None,
    )  # fmt: skip
    if current and current.state is SubscriptionState.ACTIVE and current.subscription_id:
        return
    if not await holds_room(services, tenant, space.id, wanted):
        return
    try:
        await create(services, tenant, space.id, wanted)
    except GraphError as exc:
        if not settled_failure(exc):
            raise
        log.warning("subscribing %s left for later: %s", wanted, exc)


def settled_failure(exc: GraphError) -> bool:
    """Refusals recorded on the subscription record that retrying the message can't fix."""
    return exc.permission or exc.code == NOT_OURS


async def create(
    services: Services, tenant: Tenant, space_id: str, mailbox: str
) -> SubscriptionRecord:
    """Create (or recreate) the subscription, store it, then run a full delta sync so
    changes made while nothing was listening are found."""
    now = services.clock.now()
    key = services.settings.security.key
    stored = await services.repos.subscriptions.find(tenant.id, mailbox)
    record = stored.value if stored else SubscriptionRecord(
        tenant_id=tenant.id, mailbox=mailbox, space_id=space_id,
        graph_tenant_id=tenant.graph_tenant_id,
    )  # fmt: skip
    old_id = record.subscription_id
    client_state = new_client_state()
    digest = keyed_digest(key, CLIENT_STATE, client_state)
    # This attempt's too: the SDK may retry a POST whose answer was lost, and get 409.
    ours = {record.client_state_hash, *record.pending_state_hashes, digest} - {""}
    # Remembered before Graph can act on it: should its answer be lost, the subscription
    # it made is still recognised as ours (a retry's 409 then replaces it).
    record = record.model_copy(update={
        "pending_state_hashes": [*record.pending_state_hashes[-(MAX_PENDING - 1):], digest],
    })  # fmt: skip
    await services.repos.subscriptions.upsert(tenant.id, mailbox, record)
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
            # Graph lists every subscription of the app in the directory: replace only
            # a duplicate that is ours, never another tenant's.
            if not await _delete_own_duplicates(services, api, record, ours):
                raise GraphError(
                    409, NOT_OURS, "the room already has a subscription this tenant doesn't own"
                ) from exc
            remote = await attempt()
    except GraphError as exc:
        await _failed(services, record, exc, now)
        raise
    remote_id = remote.id
    # Index first: a notification may arrive as soon as Graph answered.
    await services.repos.subscription_ids.upsert(remote_id, "s", SubscriptionIndex(
        tenant_id=tenant.id, mailbox=mailbox, graph_tenant_id=tenant.graph_tenant_id,
        client_state_hash=digest,
    ))  # fmt: skip
    record = record.model_copy(update={
        "space_id": space_id, "graph_tenant_id": tenant.graph_tenant_id,
        "subscription_id": remote_id, "client_state_hash": digest, "pending_state_hashes": [],
        "expires_at": remote.expires_at, "state": SubscriptionState.ACTIVE, "created_at": now,
        "renewed_at": now, "consecutive_failures": 0, "last_error": None, "next_attempt_at": None,
    })  # fmt: skip
    await services.repos.subscriptions.upsert(tenant.id, mailbox, record)
    if old_id and old_id != remote_id:
        await services.repos.subscription_ids.delete(old_id, "s")
    await subscriptions_changed(services, remote_id, *([old_id] if old_id else []))
    log.info(
        "subscribed to %s (subscription %s, expires %s)", mailbox, remote_id, remote.expires_at
    )
    await request_sync(services, tenant.id, mailbox, full=True)
    return record


async def _delete_own_duplicates(
    services: Services, api: SubscriptionsApi, record: SubscriptionRecord, ours: set[str]
) -> bool:
    """Delete the subscriptions on the room that are this tenant's (by our index, or by
    a clientState we sent); True if any was."""
    resource = events_resource(record.mailbox).lower().lstrip("/")
    deleted = []
    for sub in await api.list_all():
        if sub.resource.lower().lstrip("/") != resource:
            continue
        if await _is_ours(services, api, sub.id, record, ours):
            await api.delete(sub.id)
            await services.repos.subscription_ids.delete(sub.id, "s")
            deleted.append(sub.id)
        else:
            # Recorded on the subscription record (failing, visible in status); info
            # here so operator tools (renew --now) don't print it as an error.
            log.info("subscription %s on %s is not ours: left alone", sub.id, record.mailbox)
    if deleted:
        await subscriptions_changed(services, *deleted)
    return bool(deleted)


async def _is_ours(
    services: Services,
    api: SubscriptionsApi,
    subscription_id: str,
    record: SubscriptionRecord,
    ours: set[str],
) -> bool:
    indexed = await services.repos.subscription_ids.find(subscription_id, "s")
    if indexed is not None:
        owner = indexed.value
        return owner.tenant_id == record.tenant_id and owner.mailbox == record.mailbox
    # Not indexed: a creation whose answer was lost? Graph's list leaves clientState
    # out (learn.microsoft.com/graph/api/subscription-list); GET one returns it.
    found = await api.get(subscription_id)
    state = found.raw.get("clientState") if found else None
    key = services.settings.security.key
    return isinstance(state, str) and any(
        digest_matches(key, CLIENT_STATE, state, known) for known in ours
    )


async def remove(services: Services, record: SubscriptionRecord) -> None:
    if record.subscription_id:
        try:
            await services.graph.subscriptions(record.graph_tenant_id).delete(
                record.subscription_id
            )
        except GraphError as exc:  # expired or gone already: nothing left to delete
            log.warning("deleting subscription %s failed: %s", record.subscription_id, exc)
        await services.repos.subscription_ids.delete(record.subscription_id, "s")
        await subscriptions_changed(services, record.subscription_id)
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
