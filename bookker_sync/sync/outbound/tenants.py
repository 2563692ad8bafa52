"""Tenant, space and user configuration (the API's PUT endpoints)."""

from __future__ import annotations

import logging

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Space, Tenant, TenantMode, User
from bookker_sync.graph.errors import GraphError
from bookker_sync.json_types import JsonObject
from bookker_sync.storage.repositories import TENANT_PARTITION
from bookker_sync.sync import messages
from bookker_sync.sync.errors import ForbiddenError, MailboxNotFoundError, NotFoundAppError
from bookker_sync.sync.events import push_config
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.outbound.commands import EventsChange, SpaceConfig, TenantConfig, UserConfig
from bookker_sync.sync.ownership import bind_directory, claim_room, release_room
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)


async def get_tenant(services: Services, tenant_id: str) -> Tenant:
    stored = await services.repos.tenants.find(TENANT_PARTITION, tenant_id)
    if stored is None:
        raise NotFoundAppError(f"tenant {tenant_id} not found")
    return stored.value


async def get_space(services: Services, tenant_id: str, space_id: str) -> Space:
    stored = await services.repos.spaces.find(tenant_id, space_id)
    if stored is None:
        raise NotFoundAppError(f"space {space_id} not found in tenant {tenant_id}")
    return stored.value


async def get_user(services: Services, tenant_id: str, user_id: str) -> User:
    stored = await services.repos.users.find(tenant_id, user_id)
    if stored is None:
        raise NotFoundAppError(f"user {user_id} not found in tenant {tenant_id}")
    return stored.value


async def put_tenant(
    services: Services,
    tenant_id: str,
    body: TenantConfig,
    events: EventsChange | None = None,
    *,
    may_bind: bool = True,
) -> tuple[Tenant, bool]:
    """Create or replace; returns (tenant, created). ``events`` sets or removes the
    push destination (checked before anything is written). A ``graph_tenant_id`` other
    than the bound one rebinds the tenant's directory, which only a caller that
    ``may_bind`` can do (otherwise: admin consent); left out, the binding is kept."""
    existed = await services.repos.tenants.find(TENANT_PARTITION, tenant_id)
    bound = existed.value.graph_tenant_id if existed else ""
    wanted = body.graph_tenant_id.lower() if body.graph_tenant_id else bound
    if wanted != bound and not may_bind:
        raise ForbiddenError(
            "the tenant's directory (graphTenantId) is bound by admin consent: "
            f"GET /api/tenants/{tenant_id}/consent"
        )
    if events is not None and events.given:
        if events.destination is None:
            await push_config.remove_push(services, tenant_id)
        else:
            await push_config.configure_push(services, tenant_id, push_config.PushConfig(
                events.destination.url, events.destination.secret
            ))  # fmt: skip
    if existed is not None and wanted != bound:
        bound = (await bind_directory(services, tenant_id, wanted)).graph_tenant_id
    tenant = Tenant(
        id=tenant_id, graph_tenant_id=bound, mode=body.mode, display_name=body.display_name
    )
    await services.repos.tenants.upsert(TENANT_PARTITION, tenant_id, tenant)
    if existed is None and wanted:
        tenant = await bind_directory(services, tenant_id, wanted)
    if existed is not None and existed.value.mode != tenant.mode:
        await messages.send(
            services.queues, LifecycleMessage(kind="ensureTenant", tenant_id=tenant_id)
        )
    return tenant, existed is None


async def put_space(
    services: Services, tenant_id: str, space_id: str, body: SpaceConfig
) -> tuple[Space, bool]:
    tenant = await get_tenant(services, tenant_id)
    space = Space(id=space_id, tenant_id=tenant_id, **vars(body))
    await _check_room_exists(services, tenant, space)
    existed = await services.repos.spaces.find(tenant_id, space_id)
    room = Mailbox.parse(space.resource_email)
    if room is not None:
        await claim_room(services, tenant, space_id, room)  # RoomClaimedError: 409
    await services.repos.spaces.upsert(tenant_id, space_id, space)
    previous = Mailbox.parse(existed.value.resource_email) if existed else None
    if previous is not None and previous != room:
        await release_room(services, tenant_id, tenant.graph_tenant_id, previous, space_id)
    # Subscribing calls Graph (and Graph calls our webhook back): done by the lifecycle
    # queue, with retries, not inside this request.
    await messages.send(
        services.queues, LifecycleMessage(kind="ensure", tenant_id=tenant_id, space_id=space_id)
    )
    return space, existed is None


async def _check_room_exists(services: Services, tenant: Tenant, space: Space) -> None:
    """A bidirectional tenant's space subscribes to its room's calendar: a room address
    with no mailbox would only fail later, in the background. Said now, naming it.
    If Graph can't answer (no consent yet, unavailable), the space is stored anyway
    and its subscription state on the status page tells what is wrong."""
    if tenant.mode is not TenantMode.BIDIRECTIONAL or not space.resource_email:
        return
    if not tenant.graph_tenant_id:
        return  # no directory bound yet: nothing to ask
    calendar = services.graph.calendar(tenant.graph_tenant_id)
    try:
        exists = await calendar.mailbox_exists(space.resource_email)
    except GraphError as exc:
        log.warning("could not check room %s exists: %s", space.resource_email, exc)
        return
    if not exists:
        raise MailboxNotFoundError(
            f"room mailbox {space.resource_email} not found in the directory of the "
            "tenant's Microsoft 365: create it (or fix resourceEmail) first",
            mailbox=space.resource_email,
        )


async def put_user(
    services: Services, tenant_id: str, user_id: str, body: UserConfig
) -> tuple[User, bool]:
    await get_tenant(services, tenant_id)
    user = User(id=user_id, tenant_id=tenant_id, **vars(body))
    existed = await services.repos.users.find(tenant_id, user_id)
    await services.repos.users.upsert(tenant_id, user_id, user)
    return user, existed is None


# -- reading and removing ------------------------------------------------------------------
async def list_spaces(services: Services, tenant_id: str) -> list[Space]:
    await get_tenant(services, tenant_id)
    return sorted(await services.repos.spaces.list(tenant_id), key=lambda s: s.id)


async def list_users(services: Services, tenant_id: str) -> list[User]:
    await get_tenant(services, tenant_id)
    return sorted(await services.repos.users.list(tenant_id), key=lambda u: u.id)


async def delete_user(services: Services, tenant_id: str, user_id: str) -> None:
    """The user is removed from Bookker; their bookings stay (they are history, and
    Outlook keeps the meetings). Deleting an unknown user is a 404."""
    await get_user(services, tenant_id, user_id)
    await services.repos.users.delete(tenant_id, user_id)


async def tenant_view(services: Services, tenant: Tenant) -> JsonObject:
    """The tenant as the API shows it: its push URL, never the push secret."""
    out = tenant.to_json_dict()
    events = await push_config.push_view(services, tenant.id)
    if events is not None:
        out["events"] = events
    return out
