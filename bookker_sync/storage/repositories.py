"""Typed repositories for the app's state, one table per concern."""

from __future__ import annotations

from azure.data.tables.aio import TableServiceClient

from bookker_sync.domain.models import Tenant
from bookker_sync.storage.tables import DocumentTable

TENANTS_TABLE = "tenants"
# Every table the app uses (infra/ declares the same list).
APP_TABLES = (TENANTS_TABLE,)
TENANT_PARTITION = "tenant"


class Repositories:
    def __init__(self, service: TableServiceClient) -> None:
        self.service = service
        self.tenants = DocumentTable(service, TENANTS_TABLE, Tenant)

    async def ping(self) -> None:
        """Raise if the table service can't be reached."""
        async for _ in self.service.list_tables(results_per_page=1):
            break
