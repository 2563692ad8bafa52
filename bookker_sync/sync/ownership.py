"""Who owns what: a (directory, room mailbox) pair belongs to one Bookker tenant.

Tenancy is more than a path prefix: two Bookker tenants may share a Microsoft 365
directory (two offices of one customer), but a room mailbox of that directory is
synced by one of them only. The claim is a row of table ``roomclaims`` keyed by
(directory GUID, lower-cased mailbox), written insert-if-absent, so two tenants racing
for the same room can't both win. Everything that acts on a room (the space PUT, the
subscription upkeep, the mailbox sync, operator onboarding) holds the claim first.

A tenant's directory (``graphTenantId``) is bound by admin consent or, where the
settings allow it, by the tenant PUT; rebinding moves the tenant's claims to the new
directory, all or nothing.
"""

from __future__ import annotations

import logging

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Tenant
from bookker_sync.storage.errors import ConflictError
from bookker_sync.storage.repositories import TENANT_PARTITION, RoomClaim
from bookker_sync.sync import messages
from bookker_sync.sync.errors import ConflictAppError, NotFoundAppError
from bookker_sync.sync.messages import LifecycleMessage
from bookker_sync.sync.services import Services

log = logging.getLogger(__name__)
_ATTEMPTS = 3


class RoomClaimedError(ConflictAppError):
    """The room mailbox is claimed by another tenant, or by another space."""


def _taken_by_other_tenant(mailbox: str, directory: str) -> RoomClaimedError:
    # Names the conflict, not the other tenant: one customer never learns of another.
    return RoomClaimedError(
        f"room mailbox {mailbox} of directory {directory} belongs to another Bookker "
        "tenant; a room mailbox can be synced by one tenant only",
        resourceEmail=mailbox,
        graphTenantId=directory,
    )


async def claim_room(services: Services, tenant: Tenant, space_id: str, mailbox: str) -> None:
    """Make (tenant's directory, mailbox) this tenant's room for ``space_id``, or raise
    RoomClaimedError. A tenant without a directory yet claims nothing (its rooms are
    claimed when the directory is bound)."""
    directory, room = tenant.graph_tenant_id, Mailbox(mailbox)
    if not directory:
        return
    claim = RoomClaim(tenant_id=tenant.id, space_id=space_id, claimed_at=services.clock.now())
    table = services.repos.room_claims
    for _ in range(_ATTEMPTS):
        stored = await table.find(directory, room)  # the usual case: held already
        if stored is None:
            try:
                await table.insert(directory, room, claim)
                return
            except ConflictError:
                continue  # claimed meanwhile: look again
        holder = stored.value
        if holder.tenant_id != tenant.id:
            raise _taken_by_other_tenant(room, directory)
        if holder.space_id == space_id:
            return
        if await _space_uses(services, tenant.id, holder.space_id, room):
            raise RoomClaimedError(
                f"room mailbox {room} is already the room of space {holder.space_id}",
                resourceEmail=room,
                spaceId=holder.space_id,
            )
        try:  # the other space of this tenant moved on: take the claim over
            await table.replace(directory, room, claim, stored.etag)
            return
        except ConflictError:
            continue
    raise ConflictAppError(f"room mailbox {room} is being claimed concurrently; retry")


async def holds_room(services: Services, tenant: Tenant, space_id: str, mailbox: str) -> bool:
    """Claim the room if nobody has; False when someone else holds it (logged)."""
    try:
        await claim_room(services, tenant, space_id, mailbox)
    except RoomClaimedError as exc:
        log.warning("room %s not synced for tenant %s: %s", mailbox, tenant.id, exc.message)
        return False
    return bool(tenant.graph_tenant_id)


async def release_room(
    services: Services, tenant_id: str, directory: str, mailbox: str, space_id: str
) -> None:
    """Give the claim up if this tenant's space holds it (never another tenant's)."""
    if not directory:
        return
    table = services.repos.room_claims
    stored = await table.find(directory, Mailbox(mailbox))
    if stored is None:
        return
    if stored.value.tenant_id != tenant_id or stored.value.space_id != space_id:
        return
    try:
        await table.delete(directory, Mailbox(mailbox), etag=stored.etag)
    except ConflictError:
        pass  # claimed again meanwhile: leave it


async def _space_uses(services: Services, tenant_id: str, space_id: str, room: Mailbox) -> bool:
    stored = await services.repos.spaces.find(tenant_id, space_id)
    return stored is not None and Mailbox.parse(stored.value.resource_email) == room


async def bind_directory(services: Services, tenant_id: str, directory: str) -> Tenant:
    """Bind ``directory`` (a GUID) to the tenant: its rooms are claimed in the new
    directory (all, or none and RoomClaimedError), then released in the old one, and
    the subscriptions follow (ensureTenant)."""
    directory = directory.lower()
    stored = await services.repos.tenants.find(TENANT_PARTITION, tenant_id)
    if stored is None:
        raise NotFoundAppError(f"tenant {tenant_id} not found")
    tenant = stored.value
    if tenant.graph_tenant_id == directory:
        return tenant
    bound = tenant.model_copy(update={"graph_tenant_id": directory})
    rooms = [
        (s.id, room)
        for s in await services.repos.spaces.list(tenant_id)
        if (room := Mailbox.parse(s.resource_email)) is not None
    ]
    claimed: list[tuple[str, Mailbox]] = []
    try:
        for space_id, room in rooms:
            await claim_room(services, bound, space_id, room)
            claimed.append((space_id, room))
    except ConflictAppError:
        for space_id, room in claimed:
            await release_room(services, tenant_id, directory, room, space_id)
        raise
    await services.repos.tenants.upsert(TENANT_PARTITION, tenant_id, bound)
    for space_id, room in rooms:
        await release_room(services, tenant_id, tenant.graph_tenant_id, room, space_id)
    log.info("tenant %s bound to directory %s", tenant_id, directory)
    if rooms:  # their subscriptions move to the new directory
        await messages.send(
            services.queues, LifecycleMessage(kind="ensureTenant", tenant_id=tenant_id)
        )
    return bound
