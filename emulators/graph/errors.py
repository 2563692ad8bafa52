"""Graph- and AAD-shaped errors.

Graph errors look like ``{"error": {"code", "message", "innerError": {"date",
"request-id", "client-request-id"}}}`` (learn.microsoft.com/graph/errors); the
msgraph-sdk parses them into ``ODataError.error`` (code, message, inner_error).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any


class GraphError(Exception):
    """An error answer of the Graph API."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})


def graph_error_body(
    code: str, message: str, request_id: str, client_request_id: str, now: datetime
) -> dict[str, Any]:
    inner: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id,
    }
    return {"error": {"code": code, "message": message, "innerError": inner}}


def not_found(message: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", message)


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def access_denied(
    message: str = "Access is denied. Check credentials and try again.",
) -> GraphError:
    return GraphError(403, "ErrorAccessDenied", message)
