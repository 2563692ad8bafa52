"""GET /api/status: the read-only operator status page (HTML; the read-only role, or a
function key under API_AUTH=key).

Per tenant and room: in sync / lagging / failing, subscription expiry, last changes,
recent declines with reasons, and the sync lag of the last 24 h. ``?tenant=ID``
shows one tenant. The page has no script and refreshes itself every minute.
"""

from __future__ import annotations

import logging

import azure.functions as func

from bookker_sync.functions.auth import API_LEVEL, ROLE_READ, requires
from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed
from bookker_sync.settings import SettingsError
from bookker_sync.storage.errors import StorageError
from bookker_sync.sync.errors import NotFoundAppError

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]

HEADERS = {
    # Inline CSS only: no script, nothing loaded from anywhere.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _html(body: str, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(
        body, status_code=status, mimetype="text/html", charset="utf-8", headers=HEADERS
    )


@bp.route(route="status", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_READ, tenant_param="query")
async def status_page(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    # Imported here, not at start-up (functions/deps.py): the page is rarely asked for.
    from bookker_sync.functions.status_html import error_page, render
    from bookker_sync.sync.ops.status import status_report

    tenant = (req.params.get("tenant") or "").strip() or None
    try:
        report = await status_report(services(), tenant)
    except NotFoundAppError as exc:
        return _html(error_page("Not found", exc.message), 404)
    except StorageError as exc:
        log.warning("status page: storage unavailable: %s", exc)
        return _html(error_page("Storage unavailable", "Storage is unavailable; retry later."), 503)
    except SettingsError as exc:
        return _html(error_page("Misconfigured", str(exc)), 500)
    return _html(render(report))
