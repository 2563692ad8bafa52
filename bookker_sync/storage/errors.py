"""Our storage errors, so callers never depend on azure-core exception types."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)


class StorageError(RuntimeError):
    """Storage could not be reached or answered unexpectedly."""


class ConflictError(StorageError):
    """A write lost an optimistic-concurrency race (stale ETag) or the entity already exists."""


class NotFoundError(StorageError):
    """The entity does not exist."""


class EntityTooLargeError(StorageError):
    """A document does not fit in one entity even after compression and chunking."""


# Answers the callers turn into their own errors (not found, lost race, exists).
_MEANINGFUL: tuple[type[Exception], ...] = (
    ResourceNotFoundError,
    ResourceModifiedError,
    ResourceExistsError,
)


@contextlib.asynccontextmanager
async def unavailable(
    doing: str, meaningful: tuple[type[Exception], ...] = ()
) -> AsyncIterator[None]:
    """Any other failure to talk to storage becomes StorageError: refused or dropped
    connections, timeouts (ServiceRequestError / ServiceResponseError), 5xx answers.
    The HTTP layer answers 503 for it, never 500."""
    try:
        yield
    except _MEANINGFUL + meaningful:
        raise
    except (AzureError, OSError) as exc:  # OSError: TimeoutError, ConnectionError
        raise StorageError(f"storage unavailable ({doing}): {type(exc).__name__}: {exc}") from exc
