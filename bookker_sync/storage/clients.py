"""Builds the async Table and Queue service clients from settings.

Connection string (Azurite / account key) or account endpoint + DefaultAzureCredential
(managed identity in Azure). Clients are cached per event loop: the aio transports
are bound to the loop that created them.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from azure.data.tables.aio import TableServiceClient
from azure.storage.queue.aio import QueueServiceClient

from bookker_sync.settings import StorageSettings

if TYPE_CHECKING:
    from azure.identity.aio import DefaultAzureCredential


@dataclass
class StorageClients:
    tables: TableServiceClient
    queues: QueueServiceClient
    credential: DefaultAzureCredential | None = None

    async def close(self) -> None:
        await self.tables.close()
        await self.queues.close()
        if self.credential is not None:
            await self.credential.close()


def build_clients(settings: StorageSettings) -> StorageClients:
    if settings.connection_string:
        conn = _expand_dev_storage(settings.connection_string)
        return StorageClients(
            tables=TableServiceClient.from_connection_string(conn),
            queues=QueueServiceClient.from_connection_string(conn),
        )
    # Imported here: azure-identity is heavy, and a connection string never needs it.
    from azure.identity.aio import DefaultAzureCredential

    credential = DefaultAzureCredential(
        managed_identity_client_id=settings.managed_identity_client_id
    )
    return StorageClients(
        tables=TableServiceClient(endpoint=settings.table_endpoint(), credential=credential),
        queues=QueueServiceClient(account_url=settings.queue_endpoint(), credential=credential),
        credential=credential,
    )


_DEV_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def _expand_dev_storage(conn: str) -> str:
    """``UseDevelopmentStorage=true`` → Azurite's well-known local endpoints and public key."""
    if conn.strip().rstrip(";").lower() != "usedevelopmentstorage=true":
        return conn
    return (
        "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
        f"AccountKey={_DEV_KEY};"
        "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
        "QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"
        "TableEndpoint=http://127.0.0.1:10002/devstoreaccount1;"
    )


_cache: dict[tuple[int, StorageSettings], StorageClients] = {}


def clients_for(settings: StorageSettings) -> StorageClients:
    """One set of clients per (running loop, settings)."""
    key = (id(asyncio.get_running_loop()), settings)
    found = _cache.get(key)
    if found is None:
        found = _cache[key] = build_clients(settings)
    return found
