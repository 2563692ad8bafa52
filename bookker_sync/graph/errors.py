"""Our Graph errors: callers never depend on kiota / ODataError types."""

from __future__ import annotations


class GraphError(RuntimeError):
    """Graph answered with an error (or could not be reached)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"Graph {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @property
    def transient(self) -> bool:
        return self.status in (0, 429, 500, 502, 503, 504)

    @property
    def permission(self) -> bool:
        return self.status in (401, 403)


class GraphNotFoundError(GraphError):
    """404: the event / subscription / mailbox does not exist (any more)."""


class GraphChangedError(GraphError):
    """412 (If-Match on a changeKey that is no longer current) or 409
    ErrorIrresolvableConflict: the item changed since it was read. Re-read and judge
    again; never write over it."""


class SyncStateNotFoundError(GraphError):
    """410 SyncStateNotFound: the delta token was evicted; a full resync is needed."""


class GraphThrottledError(GraphError):
    """429 after all retries (or Retry-After longer than we are willing to wait)."""

    def __init__(self, status: int, code: str, message: str, retry_after: float) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class GraphUnavailableError(GraphError):
    """5xx or network failure after all retries."""
