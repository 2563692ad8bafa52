"""Operator access to queues (poison queues above all): peek, take, delete, put back.

Message content is handled raw: what the Functions queue trigger reads is base64 text
(host.json messageEncoding), and a message the host moved to ``<queue>-poison`` keeps
its content byte for byte, so putting it back unchanged is an exact replay.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
)
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from bookker_sync.storage.errors import StorageError

T = TypeVar("T")
MAX_PEEK = 32  # the service's limit for one peek / receive


@dataclass(frozen=True)
class QueuedMessage:
    id: str
    inserted_at: datetime | None
    dequeue_count: int
    content: str  # as stored (base64 text, normally)
    pop_receipt: str | None = None

    @property
    def text(self) -> str | None:
        """The decoded body, or None when the content is not base64 UTF-8 text."""
        try:
            return base64.b64decode(self.content, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            return None


def encode_text(text: str) -> str:
    """Base64, as the queue trigger expects (host.json messageEncoding = base64)."""
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@asynccontextmanager
async def _storage_errors() -> AsyncIterator[None]:
    try:
        yield
    except ServiceRequestError as exc:
        raise StorageError(f"storage unreachable: {exc}") from exc
    except HttpResponseError as exc:
        if isinstance(exc, ResourceNotFoundError | ResourceExistsError):
            raise
        raise StorageError(f"queue service error: {exc.message}") from exc


class QueueAdmin:
    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service

    def _client(self, name: str) -> QueueClient:
        return self._service.get_queue_client(name)

    async def _call(self, call: Callable[[], Awaitable[T]]) -> T:
        async with _storage_errors():
            return await call()

    async def depth(self, name: str) -> int:
        """Approximate number of messages (0 for a queue that does not exist yet)."""
        try:
            props = await self._call(self._client(name).get_queue_properties)
        except ResourceNotFoundError:
            return 0
        return int(props.approximate_message_count or 0)

    async def peek(self, name: str, limit: int = MAX_PEEK) -> list[QueuedMessage]:
        """Up to 32 messages from the front, without hiding or counting them."""
        client = self._client(name)
        try:
            found = await self._call(
                lambda: client.peek_messages(max_messages=max(1, min(limit, MAX_PEEK)))
            )
        except ResourceNotFoundError:
            return []
        return [
            QueuedMessage(
                id=str(m.id), inserted_at=m.inserted_on, dequeue_count=int(m.dequeue_count or 0),
                content=str(m.content or ""),
            )
            for m in found
        ]  # fmt: skip

    async def take(
        self, name: str, *, visibility_seconds: int = 300, limit: int = 10_000
    ) -> list[QueuedMessage]:
        """Receive (hide) up to ``limit`` messages for ``visibility_seconds``: the caller
        deletes or releases each one."""
        client = self._client(name)
        taken: list[QueuedMessage] = []
        try:
            async with _storage_errors():
                while len(taken) < limit:
                    batch = [
                        m
                        async for m in client.receive_messages(
                            messages_per_page=MAX_PEEK,
                            max_messages=min(MAX_PEEK, limit - len(taken)),
                            visibility_timeout=visibility_seconds,
                        )
                    ]
                    if not batch:
                        break
                    taken.extend(
                        QueuedMessage(
                            id=str(m.id), inserted_at=m.inserted_on,
                            dequeue_count=int(m.dequeue_count or 0),
                            content=str(m.content or ""), pop_receipt=m.pop_receipt,
                        )
                        for m in batch
                    )  # fmt: skip
        except ResourceNotFoundError:
            return []
        return taken

    async def delete(self, name: str, message: QueuedMessage) -> None:
        client = self._client(name)
        try:
            await self._call(lambda: client.delete_message(message.id, message.pop_receipt))
        except ResourceNotFoundError:
            return  # already gone

    async def release(self, name: str, message: QueuedMessage) -> None:
        """Make a taken message visible again, untouched."""
        client = self._client(name)
        try:
            await self._call(
                lambda: client.update_message(
                    message.id, pop_receipt=message.pop_receipt, visibility_timeout=0
                )
            )
        except ResourceNotFoundError:
            return

    async def send_raw(self, name: str, content: str) -> None:
        """Enqueue ``content`` exactly as given (already base64 when it should be)."""
        client = self._client(name)
        try:
            await self._call(client.create_queue)
        except ResourceExistsError:
            pass
        await self._call(lambda: client.send_message(content))
