"""Helpers shared by the benchmarks (the stack itself comes from tests/support)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient

from tests.support.functions_host import Stack, running_stack

__all__ = ["requests_for_mailbox", "running_stack", "wait_until"]


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


def timer_updated(stack: Stack, host_id: str, function: str) -> datetime | None:
    """When the host last recorded a run of timer ``function`` (its schedule status)."""
    service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
    try:
        entity = service.get_table_client("AzureWebJobsHosts").get_entity(
            host_id, f"timers|Host.Functions.{function}|status"
        )
    except ResourceNotFoundError:
        return None
    value = entity["LastUpdated"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
