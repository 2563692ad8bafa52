"""One entry point to Graph per customer tenant: clients are cached per event loop."""

from __future__ import annotations

import asyncio

from azure.core.credentials_async import AsyncTokenCredential

from bookker_sync.graph.calendar_api import CalendarApi
from bookker_sync.graph.client import build_credential, build_graph_client
from bookker_sync.graph.consent_probe import app_has_consent
from bookker_sync.graph.errors import GraphError
from bookker_sync.graph.places import PlacesApi
from bookker_sync.graph.subscriptions import SubscriptionsApi
from bookker_sync.graph.transport import GraphStats, GraphTransport
from bookker_sync.settings import GraphSettings


class GraphGateway:
    def __init__(self, settings: GraphSettings) -> None:
        self._settings = settings
        self._transports: dict[tuple[int, str], GraphTransport] = {}
        self._credentials: dict[tuple[int, str], AsyncTokenCredential] = {}

    def transport(self, graph_tenant_id: str) -> GraphTransport:
        if not graph_tenant_id:
            # A Bookker tenant whose directory isn't bound yet: like a missing consent.
            raise GraphError(
                403, "DirectoryNotBound", "no Microsoft 365 directory bound: admin consent needed"
            )
        key = (id(asyncio.get_running_loop()), graph_tenant_id)
        found = self._transports.get(key)
        if found is None:
            credential = build_credential(self._settings, graph_tenant_id)
            self._credentials[key] = credential
            client = build_graph_client(self._settings, graph_tenant_id, credential)
            found = GraphTransport(
                client,
                max_concurrency=self._settings.max_concurrency_per_mailbox,
                max_retries=self._settings.max_retries,
            )
            self._transports[key] = found
        return found

    def calendar(self, graph_tenant_id: str) -> CalendarApi:
        return CalendarApi(self.transport(graph_tenant_id))

    def subscriptions(self, graph_tenant_id: str) -> SubscriptionsApi:
        return SubscriptionsApi(self.transport(graph_tenant_id))

    def places(self, graph_tenant_id: str) -> PlacesApi:
        return PlacesApi(self.transport(graph_tenant_id))

    async def app_has_consent(self, directory: str) -> bool:
        """Whether an admin of ``directory`` consented to the app (graph/consent_probe)."""
        return await app_has_consent(self._settings, directory)

    async def close(self) -> None:
        """Close this event loop's credentials (short-lived processes, e.g. the CLI)."""
        loop = id(asyncio.get_running_loop())
        for key in [k for k in self._credentials if k[0] == loop]:
            await self._credentials.pop(key).close()
            self._transports.pop(key, None)

    def stats(self) -> GraphStats:
        total = GraphStats()
        for transport in self._transports.values():
            total.requests += transport.stats.requests
            total.throttled += transport.stats.throttled
            total.retries += transport.stats.retries
        return total
