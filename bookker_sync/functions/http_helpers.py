"""Shared plumbing of the HTTP functions: body parsing and error mapping."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import azure.functions as func
from pydantic import BaseModel, ValidationError

from bookker_sync.functions.http_errors import PayloadTooLargeError, status_and_code
from bookker_sync.functions.responses import error_response, json_response
from bookker_sync.settings import SettingsError
from bookker_sync.storage.errors import StorageError
from bookker_sync.sync.errors import AppError, BadRequestError

log = logging.getLogger(__name__)
B = TypeVar("B", bound=BaseModel)
MAX_BODY_BYTES = 256 * 1024
_ROUTE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")


def parse_body(req: func.HttpRequest, model: type[B]) -> B:
    raw = req.get_body() or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLargeError(f"body larger than {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8")) if raw.strip() else None
    # ValueError: bad UTF-8, bad JSON, an integer past the digit limit (all 400).
    except ValueError as exc:
        raise BadRequestError(f"body is not valid JSON: {exc}") from exc
    except RecursionError as exc:
        raise BadRequestError("body is not valid JSON: nested too deeply") from exc
    if not isinstance(data, dict):
        raise BadRequestError("body must be a JSON object")
    try:
        # Strict JSON validation: the types the OpenAPI document publishes, no lax
        # coercion (true or "5" for an integer, a number for a date-time).
        return model.model_validate_json(raw, strict=True)
    except ValidationError as exc:
        raise BadRequestError(_describe(exc), details=_details(exc)) from exc


def route_id(req: func.HttpRequest, name: str) -> str:
    value = str(req.route_params.get(name, ""))
    if not _ROUTE_ID.fullmatch(value):  # match() would let "id\n" through ($ before \n)
        raise BadRequestError(f"{name} must be 1-64 letters, digits, '.', '_' or '-'")
    return value


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        where = ".".join(str(p) for p in err["loc"]) or "body"
        parts.append(f"{where}: {_message(err['msg'])}")
    return "invalid request: " + "; ".join(parts)


# pydantic prefixes the messages our validators raise ("Value error, must be ...",
# "Assertion failed, ..."): the prefix says how it was checked, not what is wrong.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(text: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        text = text.removeprefix(prefix)
    return text


def _details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e["loc"]), "message": _message(e["msg"])}
        for e in exc.errors()
    ][:20]


async def handle(
    work: Callable[[], Awaitable[func.HttpResponse]],
) -> func.HttpResponse:
    """Run an endpoint; every failure becomes a JSON error with the right status."""
    try:
        return await work()
    except AppError as exc:
        return app_error_response(exc)
    except StorageError as exc:
        log.warning("storage unavailable: %s", exc)
        return error_response(503, "StorageUnavailable", "storage is unavailable; retry later")
    except SettingsError as exc:
        return error_response(500, "Misconfigured", str(exc))
    except Exception:
        log.exception("unhandled error")
        return error_response(500, "InternalError", "unexpected error; it has been logged")


def app_error_response(exc: AppError) -> func.HttpResponse:
    """``{"error": {code, message, ...details}}``; a 422's ``errors`` list sits beside it."""
    status, code = status_and_code(exc)
    details = {k: v for k, v in exc.extra.items() if k != "errors"}
    body: dict[str, Any] = {"error": {"code": code, "message": exc.message, **details}}
    if "errors" in exc.extra:
        body["errors"] = exc.extra["errors"]
    return json_response(body, status)
