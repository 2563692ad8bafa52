"""Which Bookker tenants an API client (an Entra client app, the token's ``azp``) may
act for (API_AUTH=entra). Managed by operators: ``python -m bookker_sync clients``.

A client that isn't listed may act for no tenant, whatever roles its token carries:
each credential is given its tenants explicitly (Bookker's own backend: all of them).
"""

from __future__ import annotations

import time

from bookker_sync.storage.repositories import API_CLIENT_PARTITION, ApiClient
from bookker_sync.sync.errors import BadRequestError, NotFoundAppError
from bookker_sync.sync.services import Services

CACHE_SECONDS = 30.0
_cache: dict[str, tuple[ApiClient | None, float]] = {}


async def grant(
    services: Services,
    client_id: str,
    tenants: list[str],
    *,
    all_tenants: bool = False,
    note: str = "",
) -> ApiClient:
    """Add tenants to the client's list (or make it an all-tenants client)."""
    if not client_id.strip():
        raise BadRequestError("a client id is required")
    if not tenants and not all_tenants:
        raise BadRequestError("name at least one tenant, or all tenants")
    stored = await services.repos.api_clients.find(API_CLIENT_PARTITION, client_id)
    current = stored.value if stored else None
    known = current.tenants if current else []
    client = ApiClient(
        client_id=client_id,
        tenants=sorted({*known, *tenants}),
        all_tenants=all_tenants or bool(current and current.all_tenants),
        note=note or (current.note if current else ""),
        updated_at=services.clock.now(),
    )
    await services.repos.api_clients.upsert(API_CLIENT_PARTITION, client_id, client)
    _cache.pop(client_id, None)
    return client


async def revoke(services: Services, client_id: str, tenants: list[str]) -> ApiClient | None:
    """Remove tenants from the client's list; no tenants named: remove the client."""
    stored = await services.repos.api_clients.find(API_CLIENT_PARTITION, client_id)
    if stored is None:
        raise NotFoundAppError(f"API client {client_id} is not registered")
    _cache.pop(client_id, None)
    if not tenants:
        await services.repos.api_clients.delete(API_CLIENT_PARTITION, client_id)
        return None
    client = stored.value.model_copy(update={
        "tenants": [t for t in stored.value.tenants if t not in tenants],
        "updated_at": services.clock.now(),
    })  # fmt: skip
    await services.repos.api_clients.upsert(API_CLIENT_PARTITION, client_id, client)
    return client


async def list_clients(services: Services) -> list[ApiClient]:
    return await services.repos.api_clients.list(API_CLIENT_PARTITION)


async def registration(services: Services, client_id: str) -> ApiClient | None:
    """The client's entry, cached for ``CACHE_SECONDS`` (one read per client and window)."""
    hit = _cache.get(client_id)
    if hit is not None and time.monotonic() - hit[1] < CACHE_SECONDS:
        return hit[0]
    stored = await services.repos.api_clients.find(API_CLIENT_PARTITION, client_id)
    found = stored.value if stored else None
    _cache[client_id] = (found, time.monotonic())
    return found
