"""Fuzz tests share the session stack; this file prints how many cases they ran."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fuzz.api_world import ApiWorld, build
from tests.fuzz.budget import CASES
from tests.support.functions_host import Stack


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    terminalreporter.section("fuzz cases")
    for name, n in sorted(CASES.items()):
        terminalreporter.write_line(f"{name}: {n}")
    terminalreporter.write_line(f"fuzz: {sum(CASES.values())} generated cases in total")


@pytest.fixture(scope="session")
def api_world(stack: Stack) -> ApiWorld:
    return build(stack)
