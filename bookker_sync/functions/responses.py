"""JSON responses and errors in the shape every Bookker endpoint uses."""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> func.HttpResponse:
    return func.HttpResponse(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status_code=status,
        mimetype="application/json",
        charset="utf-8",
        headers=headers,
    )


def error_response(status: int, code: str, message: str, **extra: Any) -> func.HttpResponse:
    """``{"error": {"code", "message"}}`` plus optional siblings (e.g. ``errors`` on 422)."""
    return json_response({"error": {"code": code, "message": message}, **extra}, status)
