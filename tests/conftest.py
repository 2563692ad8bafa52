"""Shared fixtures: real Azurite, the Graph emulator, the local Functions host and
headless chromium.

Each service is started once per test session on free 127.0.0.1 ports and stopped at
the end; tests reset state instead of restarting processes.
"""

import os

from hypothesis import settings

pytest_plugins = [
    "tests.support.azurite",
    "tests.support.graph_emulator",
    "tests.support.functions_host",
    "tests.support.browser",
]

# Hypothesis: deterministic in CI, no example database written into the repo.
settings.register_profile("ci", derandomize=True, database=None, deadline=None)
settings.register_profile("dev", database=None, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
