"""The composition root: what one app instance uses, built once per event loop."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from bookker_sync.clock import CLOCK, Clock
from bookker_sync.graph.gateway import GraphGateway
from bookker_sync.settings import Settings
from bookker_sync.storage.clients import StorageClients, clients_for
from bookker_sync.storage.event_log import EventLog
from bookker_sync.storage.ledger import Ledger
from bookker_sync.storage.queues import QueueSender
from bookker_sync.storage.repositories import Repositories


@dataclass
class Services:
    settings: Settings
    clock: Clock
    storage: StorageClients
    repos: Repositories
    queues: QueueSender
    ledger: Ledger
    graph: GraphGateway
    events: EventLog


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
            graph=_gateway(settings),
            events=EventLog(storage.tables),
        )
        _by_loop[key] = found
    return found


_gateways: dict[int, GraphGateway] = {}


def _gateway(settings: Settings) -> GraphGateway:
    # One gateway per settings object: its token caches outlive event loops.
    key = id(settings.graph)
    if key not in _gateways:
        _gateways[key] = GraphGateway(settings.graph)
    return _gateways[key]


async def close_services(services: Services) -> None:
    """Close this loop's storage and Graph clients (tools and tests that end their loop)."""
    await services.storage.close()
    await services.graph.close()
    _by_loop.pop(id(asyncio.get_running_loop()), None)


async def close_loop_services() -> None:
    """Close the running loop's clients if it made any: the local Functions host's
    shutdown hook (FUNCTIONS_HOST_SHUTDOWN_HOOK), so no SDK session is left open."""
    found = _by_loop.get(id(asyncio.get_running_loop()))
    if found is not None:
        await close_services(found)
