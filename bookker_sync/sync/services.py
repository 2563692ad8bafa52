"""The composition root: what one app instance uses, built once per event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bookker_sync.clock import CLOCK, Clock
from bookker_sync.settings import Settings
from bookker_sync.storage.clients import StorageClients, clients_for
from bookker_sync.storage.event_log import EventLog
from bookker_sync.storage.ledger import Ledger
from bookker_sync.storage.queues import QueueSender
from bookker_sync.storage.repositories import Repositories

if TYPE_CHECKING:
    from bookker_sync.graph.gateway import GraphGateway


@dataclass
class Services:
    settings: Settings
    clock: Clock
    storage: StorageClients
    repos: Repositories
    queues: QueueSender
    ledger: Ledger
    events: EventLog

    @property
    def graph(self) -> GraphGateway:
        """Built on first use: the webhook path never calls Graph, and loading the Graph
        SDK would cost every cold instance a few hundred ms (bench/cold_start.py)."""
        return _gateway(self.settings)


_by_loop: dict[int, Services] = {}


def services_for(settings: Settings, clock: Clock = CLOCK) -> Services:
    key = id(asyncio.get_running_loop())
    found = _by_loop.get(key)
    if found is None or found.settings is not settings:
        storage = clients_for(settings.storage)
        found = Services(
            settings=settings,
            clock=clock,
            storage=storage,
            repos=Repositories(storage.tables),
            queues=QueueSender(storage.queues),
            ledger=Ledger(storage.tables),
            events=EventLog(storage.tables),
        )
        _by_loop[key] = found
    return found


_gateways: dict[int, GraphGateway] = {}


def _gateway(settings: Settings) -> GraphGateway:
    # One gateway per settings object: its token caches outlive event loops.
    key = id(settings.graph)
    if key not in _gateways:
        from bookker_sync.graph.gateway import GraphGateway  # lazily: see Services.graph

        _gateways[key] = GraphGateway(settings.graph)
    return _gateways[key]


async def close_services(services: Services) -> None:
    """Close this loop's storage and Graph clients (tools and tests that end their loop)."""
    await services.storage.close()
    gateway = _gateways.get(id(services.settings.graph))
    if gateway is not None:  # never built on this instance: nothing to close
        await gateway.close()
    _by_loop.pop(id(asyncio.get_running_loop()), None)


async def close_loop_services() -> None:
    """Close the running loop's clients if it made any: the local Functions host's
    shutdown hook (FUNCTIONS_HOST_SHUTDOWN_HOOK), so no SDK session is left open."""
    found = _by_loop.get(id(asyncio.get_running_loop()))
    if found is not None:
        await close_services(found)
