"""The local stack for benchmarks: Azurite + Graph emulator + the real app in the local
Functions host, on free 127.0.0.1 ports, stopped at the end."""

from __future__ import annotations

import contextlib
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from emulators.processes import free_port, start_azurite, start_functions_host
from tests.support.functions_host import Stack, app_env
from tests.support.graph_emulator import start_graph_emulator


@contextlib.contextmanager
def running_stack(extra_env: dict[str, str] | None = None) -> Iterator[Stack]:
    workdir = Path(tempfile.mkdtemp(prefix="bookker-bench-"))
    azurite = start_azurite(workdir / "azurite")
    emulator = start_graph_emulator(workdir / "emulator")
    port = free_port()
    host = None
    try:
        env = {**app_env(azurite, emulator, port), **(extra_env or {})}
        host = start_functions_host(workdir / "host.log", env, port=port)
        stack = Stack(azurite, emulator, host)
        yield stack
        stack.http.close()
    finally:
        if host is not None:
            host.child.stop()
        emulator.stop()
        azurite.child.stop()


def wait_until(check: Callable[[], Any], timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.1)


def requests_for_mailbox(stats: dict[str, Any], mailbox: str) -> dict[str, int]:
    """Graph requests the emulator counted for one mailbox, by method."""
    out: dict[str, int] = {}
    for row in stats.get("requests", []):
        if str(row.get("mailbox") or "").lower() == mailbox.lower():
            out[row["method"]] = out.get(row["method"], 0) + int(row["count"])
    return out


def diff(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {k: after.get(k, 0) - before.get(k, 0) for k in set(after) | set(before)}
