"""Direct storage access for the fuzz tests (Azurite of the session stack)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import TENANT_PARTITION, Repositories, SubscriptionIndex
from tests.support.functions_host import Stack
from tests.support.secrets import local_client_state_hash

T = TypeVar("T")


def with_repos(stack: Stack, work: Callable[[Repositories], Awaitable[T]]) -> T:
    async def run() -> T:
        settings = StorageSettings(connection_string=stack.azurite.connection_string)
        clients = build_clients(settings)
        try:
            return await work(Repositories(clients.tables))
        finally:
            await clients.close()

    return asyncio.run(run())


def register_subscription(
    stack: Stack, tenant_id: str, mailbox: str, graph_tenant: str
) -> tuple[str, str]:
    """A subscription index entry, as subscriptions.create stores it: (id, clientState)."""
    sub_id, secret = str(uuid.uuid4()), "state-" + uuid.uuid4().hex

    async def put(repos: Repositories) -> None:
        await repos.subscription_ids.upsert(sub_id, "s", SubscriptionIndex(
            tenant_id=tenant_id, mailbox=mailbox, graph_tenant_id=graph_tenant,
            client_state_hash=local_client_state_hash(secret),
        ))  # fmt: skip

    with_repos(stack, put)
    return sub_id, secret


def last_notification(stack: Stack, tenant_id: str, mailbox: str) -> datetime | None:
    async def read(repos: Repositories) -> datetime | None:
        found = await repos.mailboxes.find(tenant_id, mailbox)
        return found.value.last_notification_at if found else None

    return with_repos(stack, read)


def config_snapshot(stack: Stack, tenant_id: str) -> dict[str, Any]:
    """The tenant, its spaces and users and every stored booking record, as JSON."""

    async def read(repos: Repositories) -> dict[str, Any]:
        tenant = await repos.tenants.find(TENANT_PARTITION, tenant_id)
        return {
            "tenant": tenant.value.model_dump(mode="json") if tenant else None,
            "spaces": sorted(
                (s.model_dump(mode="json") for s in await repos.spaces.list(tenant_id)),
                key=lambda s: str(s["id"]),
            ),
            "users": sorted(
                (u.model_dump(mode="json") for u in await repos.users.list(tenant_id)),
                key=lambda u: str(u["id"]),
            ),
            "bookings": sorted(
                (b.model_dump(mode="json") for b in await repos.bookings.list(tenant_id)),
                key=lambda b: str(b["booking"]["id"]),
            ),
        }

    return with_repos(stack, read)
