"""The only code that talks to Azure Table Storage and Storage Queues."""

from bookker_sync.storage.errors import ConflictError, NotFoundError, StorageError

__all__ = ["ConflictError", "NotFoundError", "StorageError"]
