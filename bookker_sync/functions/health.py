"""GET /api/health: is storage reachable; later also per-tenant sync summaries."""

from __future__ import annotations

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed
from bookker_sync.functions.responses import json_response

bp = func.Blueprint()  # type: ignore[no-untyped-call]


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
async def health(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.sync.ops.health import health_report  # lazily: functions/deps.py

    report = await health_report(services())
    return json_response(report, status=200 if report["status"] != "unhealthy" else 503)
