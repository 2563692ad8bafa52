"""GET /api/health: liveness for anyone; the per-tenant report for operators.

Anonymous callers (the availability test, load balancers, the curious) get
``{"status": "ok"|"degraded"}`` from a cached storage ping: no tenant ids, no table
scans. The full report (storage, poison queues, per-tenant subscriptions and syncs)
needs the read-only role for every tenant: ``GET /api/health`` with a bearer token
(API_AUTH=entra) or under API_AUTH=none, and ``GET /api/health/details`` in every mode
(under API_AUTH=key it takes a function key: the anonymous route can't check one).
Use cases are imported when first run (functions/deps.py).
"""

from __future__ import annotations

import azure.functions as func

from bookker_sync.functions.auth import API_LEVEL, ROLE_READ, Denied, authorize, requires
from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed
from bookker_sync.functions.responses import json_response
from bookker_sync.settings import SettingsError

bp = func.Blueprint()  # type: ignore[no-untyped-call]


async def _report() -> func.HttpResponse:
    from bookker_sync.sync.ops.health import health_report  # lazily: functions/deps.py

    report = await health_report(services())
    return json_response(report, status=200 if report["status"] != "unhealthy" else 503)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
async def health(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.storage.errors import StorageError
    from bookker_sync.sync.ops.health import liveness

    try:
        await authorize(req, ROLE_READ, None, host_checked_key=False)
    except (Denied, StorageError, SettingsError):  # not an operator (or can't tell)
        alive = await liveness(services())
        return json_response(alive, status=200 if alive["status"] == "ok" else 503)
    return await _report()


@bp.route(route="health/details", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_READ, tenant_param=None)
async def health_details(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return await _report()
