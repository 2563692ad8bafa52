"""Pushing a tenant's events to Bookker's webhook, signed per Standard Webhooks.

Events go out in the log's order, one tenant at a time (a lease on the tenant's push
row: one deliverer, so a booking's events never overtake each other). An event is
POSTed until the receiver answers 2xx; a failure stops the run and the same event is
tried again after an exponential back-off (domain/events.py), for 24 h; then it is
dead-lettered (table ``eventdeadletters``: status page, CLI, replay) and delivery goes
on with the next one. At least once: a receiver dedupes by ``webhook-id`` (the
CloudEvent id).

The back-off is on the app's clock (virtual under the local stack); the timer
``deliver_events`` pokes tenants whose next try is due, so a clock jump is enough.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks.webhooks import Webhook

from bookker_sync.domain.events import gives_up, retry_delay
from bookker_sync.storage.errors import NotFoundError
from bookker_sync.storage.event_log import LoggedEvent, event_row
from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import PUSH_ROW, DeadLetter, EventPush
from bookker_sync.sync import messages
from bookker_sync.sync.events.destination import (
    UnsafeDestinationError,
    parse_destination,
    resolve_safe,
)
from bookker_sync.sync.messages import EventPushMessage
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
LEASE = timedelta(seconds=120)
PAGE = 50
MAX_RUN_EVENTS = 500
MAX_RERUNS = 10
TIMEOUT_SECONDS = 10.0
MAX_POKE_DELAY_SECONDS = 300
USER_AGENT = "BookkerSync-Webhooks/1.0"


@dataclass
class PushResult:
    delivered: int = 0
    dead_lettered: int = 0
    failed: bool = False
    skipped: str | None = None
    errors: list[str] = field(default_factory=list)


async def poke_delivery(services: Services, tenant_id: str, delay: int | None = None) -> None:
    """Ask for a delivery run if the tenant has a push URL."""
    if await services.repos.event_push.find(tenant_id, PUSH_ROW) is None:
        return
    await messages.send(services.queues, EventPushMessage(tenant_id=tenant_id),
                        delay_seconds=delay)  # fmt: skip


async def poke_due(services: Services) -> int:
    """Timer: poke every tenant with events to push whose next try is due."""
    now, poked = services.clock.now(), 0
    for push in await services.repos.event_push.list():
        waiting = push.next_attempt_at is not None and push.next_attempt_at > now
        behind = push.delivered_seq < await services.events.last_seq(push.tenant_id)
        if behind and not waiting:
            await messages.send(services.queues, EventPushMessage(tenant_id=push.tenant_id))
            poked += 1
    return poked


async def _update(
    services: Services, tenant_id: str, change: Callable[[EventPush], bool]
) -> EventPush:
    return await update_document(services.repos.event_push, tenant_id, PUSH_ROW, change)


async def deliver(services: Services, tenant_id: str) -> PushResult:
    """One delivery run for the tenant (nothing if another run holds the lease)."""
    result = PushResult()
    owner, now = uuid.uuid4().hex, services.clock.now()

    def take(push: EventPush) -> bool:
        if push.lease_owner and push.lease_until and push.lease_until > now:
            if push.dirty:
                return False
            push.dirty = True  # the holder looks again before it lets go
            return True
        push.lease_owner, push.lease_until, push.dirty = owner, now + LEASE, False
        return True

    try:
        push = await _update(services, tenant_id, take)
    except NotFoundError:
        result.skipped = "no push URL"
        return result
    if push.lease_owner != owner:
        result.skipped = "another delivery run is going on"
        return result
    try:
        async with _client() as http:
            for _ in range(MAX_RERUNS):
                await _run(services, http, push, owner, result)
                if result.failed or not await _was_poked(services, tenant_id, owner):
                    break
                push = await _update(services, tenant_id, lambda p: False)
    finally:
        await _update(services, tenant_id, lambda p: _release(p, owner))
    return result


async def _was_poked(services: Services, tenant_id: str, owner: str) -> bool:
    """Clear the dirty flag: True if it was set (a poke came during the run)."""
    poked = False

    def change(push: EventPush) -> bool:
        nonlocal poked
        poked = push.lease_owner == owner and push.dirty
        push.dirty = False
        return poked

    await _update(services, tenant_id, change)
    return poked


def _release(push: EventPush, owner: str) -> bool:
    if push.lease_owner != owner:
        return False
    push.lease_owner, push.lease_until = None, None
    return True


def _client() -> httpx.AsyncClient:
    # No redirects: a 3xx could point anywhere (SSRF); it counts as a failed delivery.
    return httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False)


async def _run(
    services: Services, http: httpx.AsyncClient, push: EventPush, owner: str, result: PushResult
) -> None:
    while result.delivered + result.dead_lettered < MAX_RUN_EVENTS:
        now = services.clock.now()
        if push.next_attempt_at is not None and push.next_attempt_at > now:
            result.skipped = "waiting for the next try"
            return
        events = await services.events.read(push.tenant_id, push.delivered_seq, PAGE)
        if not events:
            return
        for event in events:
            error = await send_event(services, http, push, event)
            push = await _settle(services, push.tenant_id, owner, event, error, result)
            if error is not None and push.delivered_seq < event.seq:
                return  # try this one again after the back-off
    await poke_delivery(services, push.tenant_id)  # more to do: in the next run


async def _settle(
    services: Services,
    tenant_id: str,
    owner: str,
    event: LoggedEvent,
    error: str | None,
    result: PushResult,
) -> EventPush:
    now = services.clock.now()
    dead: DeadLetter | None = None

    def change(push: EventPush) -> bool:
        nonlocal dead
        if push.delivered_seq >= event.seq:
            return False
        if push.lease_owner == owner:
            push.lease_until = now + LEASE  # a long run keeps its lease
        if error is None:
            push.delivered_seq, push.attempts, push.first_failure_at = event.seq, 0, None
            push.next_attempt_at, push.last_error, push.last_delivered_at = None, None, now
            return True
        push.attempts += 1
        push.first_failure_at = push.first_failure_at or now
        push.last_error = error[:300]
        if gives_up(push.first_failure_at, now):
            dead = DeadLetter(
                tenant_id=tenant_id, seq=event.seq, event_id=event.event_id,
                type=str(event.cloud_event.get("type", "")), booking_id=event.booking_id,
                attempts=push.attempts, first_failure_at=push.first_failure_at, dead_at=now,
                last_error=push.last_error,
            )  # fmt: skip
            push.delivered_seq, push.attempts, push.first_failure_at = event.seq, 0, None
            push.next_attempt_at = None
        else:
            push.next_attempt_at = now + retry_delay(push.attempts)
        return True

    push = await _update(services, tenant_id, change)
    if error is None:
        result.delivered += 1
        return push
    result.errors.append(error)
    if dead is not None:
        await services.repos.dead_letters.upsert(tenant_id, event_row(event.seq), dead)
        result.dead_lettered += 1
        log.warning("event %s for %s dead-lettered after %d tries: %s",
                    event.event_id, tenant_id, dead.attempts, error)  # fmt: skip
    else:
        result.failed = True
        assert push.next_attempt_at is not None
        wait = (push.next_attempt_at - now).total_seconds()
        await poke_delivery(
            services, tenant_id, delay=int(min(max(wait, 1), MAX_POKE_DELAY_SECONDS))
        )
        log.info("push of %s to %s failed (%s); next try at %s",
                 event.event_id, tenant_id, error, push.next_attempt_at)  # fmt: skip
    return push


async def send_event(
    services: Services, http: httpx.AsyncClient, push: EventPush, event: LoggedEvent
) -> str | None:
    """POST one event; None when the receiver took it (2xx), else why not."""
    allow_local = services.settings.events.allow_local_http
    try:
        destination = parse_destination(push.url, allow_local=allow_local)
        address = await resolve_safe(destination, allow_local=allow_local)  # at every send
    except UnsafeDestinationError as exc:
        return f"refused destination: {exc}"
    body = json.dumps(event.cloud_event, separators=(",", ":"), ensure_ascii=False)
    # The signature's timestamp is real time, never the app's (virtual) clock: receivers
    # check it against their own clock (Standard Webhooks: a 5-minute tolerance).
    sent_at = datetime.now(UTC)
    signature = Webhook(push.secret).sign(event.event_id, sent_at, body)
    headers = {
        "content-type": "application/cloudevents+json; charset=utf-8",
        "user-agent": USER_AGENT,
        "host": destination.host if destination.port in (80, 443) else
                f"{destination.host}:{destination.port}",
        "webhook-id": event.event_id,
        "webhook-timestamp": str(int(sent_at.timestamp())),
        "webhook-signature": signature,
    }  # fmt: skip
    extensions = {"sni_hostname": destination.host} if destination.scheme == "https" else {}
    try:
        response = await http.post(
            destination.pinned_url(address), content=body.encode("utf-8"), headers=headers,
            extensions=extensions,
        )  # fmt: skip
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:300]
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


# -- dead letters -----------------------------------------------------------------------
async def dead_letters(services: Services, tenant_id: str | None = None) -> list[DeadLetter]:
    found = await services.repos.dead_letters.list(tenant_id)
    return sorted(found, key=lambda d: (d.tenant_id, d.seq))


async def replay_dead_letters(
    services: Services, tenant_id: str, seqs: list[int] | None = None
) -> PushResult:
    """Push dead-lettered events again, once each; delivered ones leave the list."""
    result = PushResult()
    push = await services.repos.event_push.find(tenant_id, PUSH_ROW)
    if push is None:
        result.skipped = "no push URL"
        return result
    async with _client() as http:
        for dead in await dead_letters(services, tenant_id):
            if seqs and dead.seq not in seqs:
                continue
            event = await services.events.get(tenant_id, dead.seq)
            if event is None:
                result.errors.append(f"#{dead.seq}: the event is past retention")
                continue
            error = await send_event(services, http, push.value, event)
            if error is None:
                await services.repos.dead_letters.delete(tenant_id, event_row(dead.seq))
                result.delivered += 1
            else:
                result.failed = True
                result.errors.append(f"#{dead.seq}: {error}")
    return result
