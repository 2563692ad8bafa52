"""Erasing every row of one tenant, in every table of the app.

Most tables are partitioned by tenant (PartitionKey = tenant id, or ``tenant|...`` for
the ledger; the ``tenants`` table holds the tenant as a RowKey): those rows are found
by key. Any other table (e.g. ``subscriptionids``, keyed by subscription id) is
scanned and a row goes when its document names the tenant (``tenant_id`` /
``tenantId``), so a table added later is covered without a change here.
"""

from __future__ import annotations

from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables.aio import TableClient, TableServiceClient

from bookker_sync.storage.chunking import decode_document
from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.repositories import TENANT_PARTITION, TENANTS_TABLE
from bookker_sync.storage.tables import safe_key

TENANT_FIELDS = ("tenant_id", "tenantId")


async def purge_table(
    service: TableServiceClient, table: str, tenant_id: str, *, by_partition: bool
) -> int:
    """Delete the tenant's rows of one table; how many were deleted."""
    client = service.get_table_client(table)
    key = safe_key(tenant_id)
    if by_partition:
        # tenant | ... (ledger): "|" + 1 is "}", so the range is exactly the prefix.
        filters = [
            ("PartitionKey eq @k", {"k": key}),
            ("PartitionKey gt @lo and PartitionKey lt @hi", {"lo": f"{key}|", "hi": f"{key}}}"}),
        ]
        if table == TENANTS_TABLE:
            filters = [("PartitionKey eq @p and RowKey eq @k", {"p": TENANT_PARTITION, "k": key})]
        doomed = [e for f, p in filters for e in await _query(client, f, p)]
    else:
        doomed = [e for e in await _query(client, None, {}) if _names(e, tenant_id)]
    for entity in doomed:
        try:
            await client.delete_entity(entity["PartitionKey"], entity["RowKey"])
        except ResourceNotFoundError:
            pass
    return len(doomed)


async def _query(client: TableClient, where: str | None, params: dict[str, Any]) -> list[Any]:
    try:
        pages = client.query_entities(where, parameters=params) if where else client.list_entities()
        return [e async for e in pages]
    except ResourceNotFoundError:
        return []  # the table was never created: nothing of the tenant in it


def _names(entity: Any, tenant_id: str) -> bool:
    try:
        document = decode_document(entity)
    except (StorageError, ValueError):
        return False
    return isinstance(document, dict) and any(document.get(f) == tenant_id for f in TENANT_FIELDS)
