"""Admin consent: the link to send a customer's admin, and where Entra sends them back.

- ``GET /api/tenants/{tenantId}/consent`` (an API route: the booking role): 302 to
  Entra's adminconsent endpoint with a signed, expiring ``state`` for this tenant; the
  body carries the same URL (``consentUrl``) for callers that don't follow redirects.
  The link is a capability: hand it to that customer's admin only.
- ``GET /api/consent/callback`` (anonymous: the admin's browser lands here): checks the
  state and binds the directory Entra names (``tenant``) to the tenant the state names.
  Answers a small HTML page; nothing about other tenants.
"""

from __future__ import annotations

import logging

import azure.functions as func

from bookker_sync.functions.auth import API_LEVEL, ROLE_BOOKINGS, requires
from bookker_sync.functions.deps import services
from bookker_sync.functions.http_helpers import handle, route_id
from bookker_sync.functions.observability import observed
from bookker_sync.functions.responses import json_response
from bookker_sync.functions.status_page import HEADERS
from bookker_sync.settings import SettingsError
from bookker_sync.sync.errors import AppError, BadRequestError, ConflictAppError, NotFoundAppError

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]
MAX_PARAM_CHARS = 1024


@bp.route(route="tenants/{tenantId}/consent", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def tenant_consent(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.sync.consent import consent_link  # lazily: functions/deps.py

    async def work() -> func.HttpResponse:
        url = await consent_link(services(), route_id(req, "tenantId"))
        return json_response(
            {"consentUrl": url}, 302, headers={"Location": url, "Cache-Control": "no-store"}
        )

    return await handle(work)


@bp.route(route="consent/callback", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
async def consent_callback(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.storage.errors import StorageError
    from bookker_sync.sync.consent import ConsentNotGivenError, complete_consent

    params = {k: (req.params.get(k) or "")[:MAX_PARAM_CHARS] for k in ("state", "tenant", "error")}
    try:
        tenant = await complete_consent(
            services(), state=params["state"], directory=params["tenant"],
            error=params["error"] or None,
        )  # fmt: skip
    except ConsentNotGivenError as exc:
        return _page("Consent not given", f"{exc.message}. Ask for a new link to try again.", 400)
    except (BadRequestError, NotFoundAppError) as exc:
        return _page("Consent not recorded", exc.message, 400)
    except ConflictAppError as exc:
        return _page("Consent not recorded", exc.message, 409)
    except (AppError, StorageError, SettingsError) as exc:
        log.warning("consent callback failed: %s", type(exc).__name__)
        return _page("Consent not recorded", "Please retry in a few minutes.", 503)
    return _page(
        "Consent recorded",
        f"Directory {tenant.graph_tenant_id} is now connected to Bookker. You can close this page.",
        200,
    )


def _page(title: str, message: str, status: int) -> func.HttpResponse:
    from bookker_sync.functions.status_html import error_page

    return func.HttpResponse(
        error_page(title, message), status_code=status, mimetype="text/html",
        charset="utf-8", headers=HEADERS,
    )  # fmt: skip
