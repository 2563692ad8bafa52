"""Graph webhooks: validation handshake, then authenticate, enqueue, 202 — fast."""

from __future__ import annotations

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


def _handshake(req: func.HttpRequest) -> func.HttpResponse | None:
    """Graph POSTs ?validationToken=...: answer 200 text/plain with the URL-decoded token,
    as an opaque string (text/plain keeps a hostile token inert)."""
    if "validationToken" not in req.params:
        return None
    token = req.params["validationToken"]  # already URL-decoded by the runtime
    return func.HttpResponse(
        token, status_code=200, mimetype="text/plain", charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )  # fmt: skip


def _items(req: func.HttpRequest) -> list[object] | func.HttpResponse:
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
        result = await ingress.accept(services(), items)
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
