"""Queue sender: JSON messages, base64-encoded as the Functions queue trigger expects."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from azure.core.exceptions import ResourceExistsError, ServiceRequestError
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.queue_names import (
    APP_QUEUES,
    EVENT_PUSH_QUEUE,
    LIFECYCLE_QUEUE,
    MAILBOX_SYNC_QUEUE,
    OUTBOUND_QUEUE,
    poison_queue,
)

__all__ = [
    "APP_QUEUES", "EVENT_PUSH_QUEUE", "LIFECYCLE_QUEUE", "MAILBOX_SYNC_QUEUE", "OUTBOUND_QUEUE",
    "QueueSender", "poison_queue",
]  # fmt: skip


class QueueSender:
    def __init__(self, service: QueueServiceClient) -> None:
        self._service = service
        self._ready: dict[str, QueueClient] = {}

    async def _queue(self, name: str) -> QueueClient:
        client = self._ready.get(name)
        if client is None:
            # Base64 text: what the Functions queue trigger expects by default
            # (host.json extensions.queues.messageEncoding = base64). The service
            # client does not pass policies down, so set them per queue client.
            client = self._service.get_queue_client(
                name,
                message_encode_policy=TextBase64EncodePolicy(),
                message_decode_policy=TextBase64DecodePolicy(),
            )
            try:
                await client.create_queue()
            except ResourceExistsError:
                pass
            except ServiceRequestError as exc:
                raise StorageError(f"storage unreachable: {exc}") from exc
            self._ready[name] = client
        return client

    async def send(
        self, queue: str, message: Mapping[str, Any], *, delay_seconds: int | None = None
    ) -> None:
        client = await self._queue(queue)
        body = json.dumps(message, separators=(",", ":"), sort_keys=True)
        try:
            await client.send_message(body, visibility_timeout=delay_seconds)
        except ServiceRequestError as exc:
            raise StorageError(f"storage unreachable: {exc}") from exc

    async def depth(self, queue: str) -> int:
        client = await self._queue(queue)
        props = await client.get_queue_properties()
        return int(props.approximate_message_count or 0)
