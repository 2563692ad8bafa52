"""Emulator tests: a fresh world per test, SDK helpers.

``async def`` tests run under pytest-asyncio (``asyncio_mode = "auto"`` in pyproject.toml),
each in its own event loop, like async fixtures (function loop scope).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from tests.support.graph_emulator import GraphEmulator, graph_client

TENANT = "11111111-1111-1111-1111-111111111111"
OTHER_TENANT = "22222222-2222-2222-2222-222222222222"
CLIENT_ID = "bookker-sync-test"
SECRET = "s3cret-value"
OTHER_CLIENT = "other-app"
OTHER_SECRET = "other-secret"


@dataclass
class World:
    """The standard test world: tenant Contoso with two users and three rooms, and a
    second tenant Fabrikam with one user."""

    emu: GraphEmulator
    alice: str = "alice@contoso.com"
    bob: str = "bob@contoso.com"
    room1: str = "room1@contoso.com"
    room2: str = "room2@contoso.com"
    small_room: str = "small@contoso.com"
    fabrikam_user: str = "carol@fabrikam.com"

    def client(self, retry: bool = True) -> Any:
        return graph_client(self.emu, TENANT, CLIENT_ID, SECRET, retry=retry)

    def other_client(self) -> Any:
        return graph_client(self.emu, OTHER_TENANT, OTHER_CLIENT, OTHER_SECRET)


@pytest.fixture
def world(graph_emulator: GraphEmulator) -> World:
    emu = graph_emulator
    emu.reset()
    emu.add_tenant(TENANT, CLIENT_ID, SECRET)
    emu.add_tenant(OTHER_TENANT, OTHER_CLIENT, OTHER_SECRET)
    w = World(emu)
    emu.add_mailbox(TENANT, w.alice, "Alice Smith")
    emu.add_mailbox(TENANT, w.bob, "Bob Jones")
    emu.add_mailbox(TENANT, w.room1, "Room 1", "room", capacity=8)
    emu.add_mailbox(TENANT, w.room2, "Room 2", "room", {"deleteSubject": False}, capacity=4)
    emu.add_mailbox(TENANT, w.small_room, "Small Room", "room", {"bookingWindowInDays": 7})
    emu.add_mailbox(OTHER_TENANT, w.fabrikam_user, "Carol Fabrikam")
    return w


def pytest_configure(config: pytest.Config) -> None:
    # msgraph-sdk and kiota warn about their own deprecated request-configuration
    # classes when their modules are imported; nothing here can act on that.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:msgraph.*")
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:kiota_abstractions.*")
