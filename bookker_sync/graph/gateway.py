"""One entry point to Graph per customer tenant: clients are cached per event loop."""

from __future__ import annotations

import asyncio

from bookker_sync.graph.calendar import CalendarApi
from bookker_sync.graph.client import build_graph_client
from bookker_sync.graph.places import PlacesApi
from bookker_sync.graph.subscriptions import SubscriptionsApi
from bookker_sync.graph.transport import GraphStats, GraphTransport
from bookker_sync.settings import GraphSettings


class GraphGateway:
    def __init__(self, settings: GraphSettings) -> None:
        self._settings = settings
        self._transports: dict[tuple[int, str], GraphTransport] = {}

    def transport(self, graph_tenant_id: str) -> GraphTransport:
        key = (id(asyncio.get_running_loop()), graph_tenant_id)
        found = self._transports.get(key)
        if found is None:
            client = build_graph_client(self._settings, graph_tenant_id)
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

    def stats(self) -> GraphStats:
        total = GraphStats()
        for transport in self._transports.values():
            total.requests += transport.stats.requests
            total.throttled += transport.stats.throttled
            total.retries += transport.stats.retries
        return total
