"""Real Azurite for the whole test session (in memory, free ports)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from emulators.processes import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    instance = start_azurite(Path(tmp_path_factory.mktemp("azurite")))
    try:
        yield instance
    finally:
        instance.child.stop()


@pytest.fixture
def unique_name() -> str:
    """A fresh alphanumeric name (tables) so tests sharing Azurite don't collide."""
    return "t" + uuid.uuid4().hex[:20]
