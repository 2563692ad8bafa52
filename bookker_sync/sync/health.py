"""The health report: storage reachability (and later per-tenant sync state)."""

from __future__ import annotations

import asyncio
from typing import Any

from bookker_sync.sync.services import Services


async def health_report(services: Services) -> dict[str, Any]:
    storage: dict[str, Any] = {"reachable": True}
    try:
        await asyncio.wait_for(services.repos.ping(), timeout=5)
    except Exception as exc:  # any failure means "not reachable" for the report
        storage = {"reachable": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {
        "status": "ok" if storage["reachable"] else "unhealthy",
        "time": services.clock.now().isoformat(),
        "storage": storage,
    }
