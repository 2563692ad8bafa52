"""Graph webhooks: validation handshake, then authenticate, enqueue, 202 — fast."""

from __future__ import annotations

import asyncio
import json
import logging

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.functions.observability import observed
from bookker_sync.functions.responses import error_response, json_response

log = logging.getLogger(__name__)
bp = func.Blueprint()  # type: ignore[no-untyped-call]
MAX_BODY_BYTES = 1024 * 1024
MAX_ITEMS = 1000
ACK_BUDGET_SECONDS = 2.0  # for authentication + enqueue; Graph's limit is 3 s
# Graph's tokens are about 130 characters ("Validation: Testing client application
# reachability for subscription Request-Id: <guid>"); a longer one is no handshake.
MAX_VALIDATION_TOKEN_CHARS = 1024


def _handshake(req: func.HttpRequest) -> func.HttpResponse | None:
    """Graph POSTs ?validationToken=...: answer 200 text/plain with the URL-decoded token,
    as an opaque string (text/plain keeps a hostile token inert)."""
    if "validationToken" not in req.params:
        return None
    token = req.params["validationToken"]  # already URL-decoded by the runtime
    if len(token) > MAX_VALIDATION_TOKEN_CHARS:
        return error_response(400, "BadRequest", "validationToken too long")
    return func.HttpResponse(
        token, status_code=200, mimetype="text/plain", charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


def _declared_too_large(req: func.HttpRequest) -> bool:
    """Content-Length past the limit: refused before the body is touched. (The host has
    read it already, up to its own limit: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, see
    docs/deploy.md.)"""
    declared = req.headers.get("content-length") or ""
    return declared.isdigit() and int(declared) > MAX_BODY_BYTES


def _items(req: func.HttpRequest) -> list[object] | func.HttpResponse:
    if _declared_too_large(req):
        return error_response(413, "PayloadTooLarge", "notification batch too large")
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        return error_response(413, "PayloadTooLarge", "notification batch too large")
    try:
        body = json.loads(raw.decode("utf-8"))
    # ValueError covers bad UTF-8, bad JSON and integers past the digit limit;
    # RecursionError is deep nesting ([[[...]]]): all malformed input, never a 5xx.
    except (ValueError, RecursionError):
        return error_response(400, "BadRequest", 'body must be JSON: {"value": [...]}')
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return error_response(400, "BadRequest", "body must be an object with a 'value' array")
    items: list[object] = body["value"]
    if len(items) > MAX_ITEMS:
        return error_response(413, "PayloadTooLarge", f"more than {MAX_ITEMS} notifications")
    return items


async def _receive(req: func.HttpRequest) -> func.HttpResponse:
    handshake = _handshake(req)
    if handshake is not None:
        return handshake
    items = _items(req)
    if isinstance(items, func.HttpResponse):
        return items
    # Imported on the first notification, not at start-up: the validation handshake
    # must not wait for the storage SDKs (bench/cold_start.py).
    from bookker_sync.sync.inbound import ingress

    try:
        # Graph wants an answer within 3 s, else it throttles and then drops the
        # endpoint's notifications: storage down or hung must not hold the answer.
        result = await asyncio.wait_for(ingress.accept(services(), items), ACK_BUDGET_SECONDS)
    except TimeoutError:
        log.warning("notifications not persisted within %.1f s: answering 503 so Graph "
                    "retries", ACK_BUDGET_SECONDS)  # fmt: skip
        return error_response(503, "Unavailable", "could not persist notifications; retry")
    except Exception:
        log.exception("could not enqueue notifications: answering 503 so Graph retries")
        return error_response(503, "Unavailable", "could not persist notifications; retry")
    return json_response({"accepted": result.accepted, "rejected": result.rejected}, status=202)


@bp.route(route="graph/notifications", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
async def graph_notifications(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return await _receive(req)


@bp.route(route="graph/lifecycle", methods=["POST"], auth_level=func.AuthLevel.ANONYMOUS)
@observed
async def graph_lifecycle(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return await _receive(req)
