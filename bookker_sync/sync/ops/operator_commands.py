"""Operator use cases behind ``python -m bookker_sync``: list tenants, onboard rooms,
resync, work poison queues, renew subscriptions now.

Each takes an optional ``progress`` callback so a front end can draw progress bars;
nothing here prints.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Space, Tenant, TenantMode
from bookker_sync.graph.errors import GraphError
from bookker_sync.graph.places import Room
from bookker_sync.log_context import log_scope
from bookker_sync.storage.errors import ConflictError, StorageError
from bookker_sync.storage.queue_admin import QueueAdmin, QueuedMessage, encode_text
from bookker_sync.storage.queues import APP_QUEUES, poison_queue
from bookker_sync.storage.repositories import (
    TENANT_PARTITION,
    SubscriptionRecord,
    SubscriptionState,
)
from bookker_sync.sync.errors import AppError, BadRequestError, NotFoundAppError
from bookker_sync.sync.inbound.mailbox_sync import sync_mailbox
from bookker_sync.sync.ops.status import room_mailbox
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.ownership import RoomClaimedError, claim_room
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions import ensure as subscriptions
from bookker_sync.sync.subscriptions.renewal import RenewalReport, renew_due

log = logging.getLogger(__name__)
Progress = Callable[[str, str], None]  # (room, outcome) after each room
STORAGE_TIMEOUT_SECONDS = 20.0


class StorageUnreachableError(AppError):
    status, code = 503, "StorageUnavailable"


async def check_storage(services: Services) -> None:
    """Fail fast, with one clear message, when storage can't be reached."""
    try:
        await asyncio.wait_for(services.repos.ping(retries=1), STORAGE_TIMEOUT_SECONDS)
    except TimeoutError as exc:
        raise StorageUnreachableError("storage unreachable: no answer in time") from exc
    except Exception as exc:  # any failure to list tables means "unreachable" here
        detail = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise StorageUnreachableError(f"storage unreachable: {detail}") from exc


# -- tenants ---------------------------------------------------------------------------
@dataclass
class TenantSummary:
    tenant: Tenant
    spaces: int
    rooms: int
    subscriptions: dict[str, int]


async def list_tenants(services: Services) -> list[TenantSummary]:
    tenants = sorted(
        await services.repos.tenants.list(TENANT_PARTITION), key=lambda t: t.id.lower()
    )

    async def summary(tenant: Tenant) -> TenantSummary:
        spaces = await services.repos.spaces.list(tenant.id)
        records = await services.repos.subscriptions.list(tenant.id)
        counts: dict[str, int] = {}
        for record in records:
            counts[record.state.value] = counts.get(record.state.value, 0) + 1
        rooms = sum(room_mailbox(tenant, s) is not None for s in spaces)
        return TenantSummary(tenant, len(spaces), rooms, counts)

    return list(await asyncio.gather(*(summary(t) for t in tenants)))


# -- onboarding --------------------------------------------------------------------------
_ID_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass
class RoomMapping:
    room: Room
    space_id: str
    existing: bool  # a space already had this room's address
    outcome: str = "pending"
    ok: bool = True


@dataclass
class OnboardReport:
    tenant: Tenant
    rooms: list[RoomMapping] = field(default_factory=list)

    @property
    def failed(self) -> list[RoomMapping]:
        return [r for r in self.rooms if not r.ok]


def space_id_for(address: str, taken: set[str]) -> str:
    """A space id from the address' local part (ID pattern of the API), unique."""
    local = address.split("@", 1)[0]
    base = _ID_CHARS.sub("-", local).strip("-._")[:60] or "room"
    candidate, n = base, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def map_rooms(rooms: Sequence[Room], spaces: Sequence[Space]) -> list[RoomMapping]:
    """Existing space with the room's address → kept; else a new space id."""
    by_email = {Mailbox(s.resource_email): s for s in spaces if s.resource_email}
    taken = {s.id.lower() for s in spaces}
    mappings = []
    for room in rooms:
        space = by_email.get(Mailbox(room.email))
        if space is not None:
            mappings.append(RoomMapping(room, space.id, existing=True))
            continue
        space_id = space_id_for(room.email, taken)
        taken.add(space_id.lower())
        mappings.append(RoomMapping(room, space_id, existing=False))
    return mappings


async def discover_rooms(services: Services, tenant_id: str) -> tuple[Tenant, list[RoomMapping]]:
    tenant = await get_tenant(services, tenant_id)
    try:
        rooms = await services.graph.places(tenant.graph_tenant_id).rooms()
    except GraphError as exc:
        raise AppError(f"listing rooms of {tenant_id} failed: {exc}") from exc
    spaces = await services.repos.spaces.list(tenant.id)
    return tenant, map_rooms(rooms, spaces)


async def onboard(
    services: Services,
    tenant: Tenant,
    mappings: list[RoomMapping],
    progress: Progress | None = None,
) -> OnboardReport:
    """Create the missing spaces, then subscribe each room (bidirectional tenants)."""
    report = OnboardReport(tenant, mappings)
    for mapping in mappings:
        with log_scope(tenant=tenant.id, mailbox=mapping.room.email, function="onboard"):
            await _onboard_room(services, tenant, mapping)
            log.info("onboarding %s: %s", mapping.room.email, mapping.outcome)
        if progress is not None:
            progress(mapping.room.email, mapping.outcome)
    return report


async def _onboard_room(services: Services, tenant: Tenant, mapping: RoomMapping) -> None:
    room = mapping.room
    space = Space(
        id=mapping.space_id, tenant_id=tenant.id, name=room.display_name,
        resource_email=room.email, capacity=room.capacity,
    )  # fmt: skip
    try:
        await claim_room(services, tenant, mapping.space_id, room.email)
    except RoomClaimedError as exc:
        mapping.ok, mapping.outcome = False, f"not onboarded: {exc.message}"
        return
    if not mapping.existing:
        try:
            await services.repos.spaces.insert(tenant.id, space.id, space)
        except ConflictError:
            pass  # created meanwhile (a concurrent onboard): use what is stored
    stored = await services.repos.spaces.find(tenant.id, mapping.space_id)
    if stored is None:
        mapping.ok, mapping.outcome = False, "space could not be stored"
        return
    space = stored.value
    made = "existing space" if mapping.existing else "new space"
    if tenant.mode is not TenantMode.BIDIRECTIONAL:
        mapping.outcome = f"{made}; unidirectional tenant: no subscription"
        return
    try:
        await subscriptions.ensure_space(services, tenant, space)
    except GraphError as exc:
        mapping.ok, mapping.outcome = False, f"{made}; subscription failed: {exc}"
        return
    record = await _record(services, tenant.id, room.email)
    state = record.state.value if record else "none"
    mapping.outcome = f"{made}; subscription {state}"
    mapping.ok = record is not None and state == "active"


async def _record(services: Services, tenant_id: str, mailbox: str) -> SubscriptionRecord | None:
    stored = await services.repos.subscriptions.find(tenant_id, Mailbox(mailbox))
    return stored.value if stored else None


# -- resync ------------------------------------------------------------------------------
@dataclass
class ResyncOutcome:
    space_id: str
    mailbox: str
    ok: bool
    detail: str


async def rooms_of(services: Services, tenant_id: str, room: str | None = None) -> list[Space]:
    """The tenant's synced rooms, or the one named by space id or mailbox address."""
    tenant = await get_tenant(services, tenant_id)
    if tenant.mode is not TenantMode.BIDIRECTIONAL:
        raise AppError(f"tenant {tenant_id} is unidirectional: it has no room mailboxes to sync")
    spaces = [
        s
        for s in sorted(await services.repos.spaces.list(tenant.id), key=lambda s: s.id.lower())
        if room_mailbox(tenant, s) is not None
    ]
    if room is None:
        return spaces
    wanted = room.lower()
    found = [s for s in spaces if wanted in (s.id.lower(), (s.resource_email or "").lower())]
    if not found:
        raise NotFoundAppError(f"room {room} not found in tenant {tenant_id}")
    return found


async def resync(
    services: Services,
    tenant_id: str,
    spaces: Sequence[Space],
    *,
    enqueue: bool = False,
    progress: Progress | None = None,
) -> list[ResyncOutcome]:
    """Full resync of each room: inline (same lease as the workers), or queued."""
    outcomes = []
    for space in spaces:
        mailbox = Mailbox(space.resource_email or "")  # rooms_of: only spaces with one
        with log_scope(tenant=tenant_id, mailbox=mailbox, function="resync"):
            outcome = await _resync_one(services, tenant_id, space.id, mailbox, enqueue)
            log.info("resync of %s: %s", mailbox, outcome.detail)
        outcomes.append(outcome)
        if progress is not None:
            progress(mailbox, outcome.detail)
    return outcomes


async def _resync_one(
    services: Services, tenant_id: str, space_id: str, mailbox: str, enqueue: bool
) -> ResyncOutcome:
    if enqueue:
        await subscriptions.request_sync(services, tenant_id, mailbox, full=True)
        return ResyncOutcome(space_id, mailbox, True, "queued")
    try:
        result = await sync_mailbox(services, tenant_id, mailbox, full=True)
    except (GraphError, StorageError, AppError) as exc:
        return ResyncOutcome(space_id, mailbox, False, f"failed: {exc}")
    if not result.ran:
        return ResyncOutcome(
            space_id, mailbox, True, "busy: a worker is syncing it and will run again"
        )
    actions = ", ".join(f"{k}={v}" for k, v in sorted(result.actions.items())) or "no actions"
    return ResyncOutcome(space_id, mailbox, True, f"{result.items} items; {actions}")


# -- poison queues -----------------------------------------------------------------------
@dataclass(frozen=True)
class PoisonMessage:
    id: str
    message: QueuedMessage
    body: str  # the original body the function received
    reason: str | None  # set when our to_poison wrapper moved it (with its reason)
    original_id: str | None


def resolve_queue(name: str) -> str:
    """``mailbox-sync`` or ``mailbox-sync-poison`` → ``mailbox-sync``; else 400."""
    base = name.strip().lower().removesuffix("-poison")
    if base not in APP_QUEUES:
        known = ", ".join(APP_QUEUES)
        raise BadRequestError(f"unknown queue {name!r} (known: {known})")
    return base


def unwrap(message: QueuedMessage) -> PoisonMessage:
    """Host-moved messages keep their content; ``to_poison`` wrote
    ``{"reason", "body", "id"}`` around the original body."""
    text = message.text
    if text is not None:
        try:
            data = json.loads(text)
        except ValueError:
            data = None
        if isinstance(data, dict) and set(data) == {"reason", "body", "id"}:
            return PoisonMessage(
                id=message.id, message=message, body=str(data["body"]),
                reason=str(data["reason"]), original_id=str(data["id"]),
            )  # fmt: skip
    body = text if text is not None else message.content
    return PoisonMessage(message.id, message, body, None, None)


async def poison_list(
    services: Services, queue: str, limit: int = 32
) -> tuple[int, list[PoisonMessage]]:
    """(approximate depth, up to 32 messages from the front)."""
    admin = QueueAdmin(services.storage.queues)
    name = poison_queue(resolve_queue(queue))
    depth = await admin.depth(name)
    return depth, [unwrap(m) for m in await admin.peek(name, limit)]


@dataclass
class PoisonResult:
    queue: str
    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


async def poison_replay(
    services: Services, queue: str, ids: Sequence[str] = (), progress: Progress | None = None
) -> PoisonResult:
    """Put messages (all, or those with ``ids``) back on the main queue with their
    original body, then delete them from the poison queue."""
    base = resolve_queue(queue)
    admin = QueueAdmin(services.storage.queues)

    async def replay(message: PoisonMessage) -> None:
        raw = message.message
        content = encode_text(message.body) if message.reason is not None else raw.content
        await admin.send_raw(base, content)

    return await _each_poison(admin, base, ids, replay, progress)


async def poison_drop(
    services: Services, queue: str, ids: Sequence[str] = (), progress: Progress | None = None
) -> PoisonResult:
    admin = QueueAdmin(services.storage.queues)

    async def nothing(message: PoisonMessage) -> None:
        return None

    return await _each_poison(admin, resolve_queue(queue), ids, nothing, progress)


async def _each_poison(
    admin: QueueAdmin,
    base: str,
    ids: Sequence[str],
    action: Callable[[PoisonMessage], Awaitable[None]],
    progress: Progress | None,
) -> PoisonResult:
    name = poison_queue(base)
    result = PoisonResult(queue=name)
    wanted = set(ids)
    taken = await admin.take(name)
    try:
        for raw in taken:
            if wanted and raw.id not in wanted:
                continue
            message = unwrap(raw)
            await action(message)
            await admin.delete(name, raw)
            result.done.append(raw.id)
            if progress is not None:
                progress(raw.id, "done")
    finally:
        done = set(result.done)
        for raw in taken:
            if raw.id not in done:
                await admin.release(name, raw)
    result.missing = sorted(wanted - set(result.done))
    return result


# -- subscriptions ------------------------------------------------------------------------
async def renew_now(services: Services) -> RenewalReport:
    """What the renew_subscriptions timer does, now, ignoring back-off."""
    return await renew_due(services, force=True)


async def due_subscriptions(services: Services) -> list[SubscriptionRecord]:
    """Subscriptions ``renew --now`` would renew (expiring within the renewal margin)
    or recreate (not active), soonest first."""
    now = services.clock.now()
    margin = timedelta(hours=services.settings.sync.renewal_margin_hours)
    due = [
        r
        for r in await services.repos.subscriptions.list()
        if r.state is not SubscriptionState.ACTIVE
        or not r.subscription_id
        or r.expires_at is None
        or r.expires_at <= now + margin
    ]
    return sorted(due, key=lambda r: (r.expires_at is not None, r.expires_at or now))
