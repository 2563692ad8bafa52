"""Our storage errors, so callers never depend on azure-core exception types."""


class StorageError(RuntimeError):
    """Storage could not be reached or answered unexpectedly."""


class ConflictError(StorageError):
    """A write lost an optimistic-concurrency race (stale ETag) or the entity already exists."""


class NotFoundError(StorageError):
    """The entity does not exist."""


class EntityTooLargeError(StorageError):
    """A document does not fit in one entity even after compression and chunking."""
