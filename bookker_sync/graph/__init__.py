"""The only code that talks to Microsoft Graph (through msgraph-sdk / kiota)."""

from bookker_sync.graph.errors import (
    GraphError,
    GraphNotFoundError,
    GraphThrottledError,
    GraphUnavailableError,
    SyncStateNotFoundError,
)

__all__ = [
    "GraphError",
    "GraphNotFoundError",
    "GraphThrottledError",
    "GraphUnavailableError",
    "SyncStateNotFoundError",
]
