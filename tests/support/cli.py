"""Running ``python -m bookker_sync`` as an operator would: a subprocess with the app's
settings in its environment (nothing else of ours), from a folder without a
local.settings.json."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.support.functions_host import Stack, app_env

REPO = Path(__file__).resolve().parents[2]


@dataclass
class CliResult:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


def cli_env(stack: Stack) -> dict[str, str]:
    env = app_env(stack.azurite, stack.emulator, stack.host.port)
    return {k: v for k, v in env.items() if not k.startswith(("AzureWebJobs.", "FUNCTIONS_HOST"))}


def run_cli(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    timeout: float = 60,
) -> CliResult:
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "PYTHONPATH": str(REPO),
        "COLUMNS": "250",
        "PYTHONWARNINGS": "ignore::DeprecationWarning",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "bookker_sync", *args],
        cwd=cwd, env={**base, **env}, capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
