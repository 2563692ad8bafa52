"""Queue triggers over Azurite with the real host's semantics.

- messages are base64 text (host.json messageEncoding), decoded before the call;
- up to batchSize are fetched; a new batch when in-flight drops to newBatchThreshold;
- idle polling backs off exponentially up to maxPollingInterval;
- a failed run makes the message visible again after visibilityTimeout;
- after maxDequeueCount failed attempts the message moves to ``<queue>-poison``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
from datetime import UTC, datetime

from azure.core.exceptions import ResourceExistsError, ResourceNotFoundError
from azure.functions.queue import QueueMessage as FunctionQueueMessage
from azure.storage.queue import QueueMessage as StorageMessage
from azure.storage.queue.aio import QueueClient

from emulators.functions_host.config import QueueOptions
from emulators.functions_host.invoker import Invoker
from emulators.functions_host.registry import FunctionSpec

log = logging.getLogger("functions_host.queues")
MIN_POLL_SECONDS = 0.1


class QueueListener:
    def __init__(
        self,
        spec: FunctionSpec,
        connection_string: str,
        queue_name: str,
        options: QueueOptions,
        invoker: Invoker,
        lock_seconds: int,
    ) -> None:
        self.spec = spec
        self.queue_name = queue_name
        self._options = options
        self._invoker = invoker
        self._lock_seconds = lock_seconds
        self._queue = QueueClient.from_connection_string(connection_string, queue_name)
        self._poison = QueueClient.from_connection_string(connection_string, f"{queue_name}-poison")
        self._in_flight: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    async def run(self) -> None:
        await _ensure_queue(self._queue)
        delay = MIN_POLL_SECONDS
        max_delay = max(self._options.max_polling_interval.total_seconds(), MIN_POLL_SECONDS)
        while not self._stopping.is_set():
            if len(self._in_flight) > self._options.threshold:
                await asyncio.wait(self._in_flight, return_when=asyncio.FIRST_COMPLETED)
                continue
            try:
                batch = await self._receive()
            except Exception as exc:  # storage hiccup: keep polling
                log.warning("queue %s: receive failed: %s", self.queue_name, exc)
                batch = []
            if batch:
                delay = MIN_POLL_SECONDS
                for message in batch:
                    task = asyncio.create_task(self._process_safely(message))
                    self._in_flight.add(task)
                    task.add_done_callback(self._in_flight.discard)
                continue
            try:
                await asyncio.wait_for(self._stopping.wait(), delay)
            except TimeoutError:
                pass
            delay = min(delay * 2, max_delay)

    async def _receive(self) -> list[StorageMessage]:
        pages = self._queue.receive_messages(
            messages_per_page=self._options.batch_size,
            visibility_timeout=self._lock_seconds,
            max_messages=self._options.batch_size,
        )
        return [m async for m in pages]

    async def _process_safely(self, message: StorageMessage) -> None:
        try:
            await self._process(message)
        except Exception:  # storage errors while settling: the message reappears later
            log.exception("queue %s: settling message %s failed", self.queue_name, message.id)

    async def _process(self, message: StorageMessage) -> None:
        count = int(message.dequeue_count or 1)
        if count > self._options.max_dequeue_count:
            await self._to_poison(message, "dequeue count exceeded before processing")
            return
        try:
            body = self._decode(message.content)
        except ValueError as exc:
            log.error(
                "queue %s: message %s is not valid base64: %s", self.queue_name, message.id, exc
            )
            await self._fail(message, count)
            return
        # Like the real host's "Trigger Details" line: a redelivered message shows here
        # with the same MessageId and a higher DequeueCount.
        log.info(
            "Trigger Details: queue %s, MessageId: %s, DequeueCount: %d",
            self.queue_name, message.id, count,
        )  # fmt: skip
        keeper = asyncio.create_task(self._keep_invisible(message))
        try:
            outcome = await self._invoker.invoke(
                self.spec,
                _function_message(message, body, count),
                retry_count=count - 1,
                max_retry=self._options.max_dequeue_count - 1,
            )
        finally:
            keeper.cancel()
        if outcome.ok:
            await self._delete(message)
        else:
            await self._fail(message, count)

    async def _keep_invisible(self, message: StorageMessage) -> None:
        """Like the real host, extend the message's invisibility while the function
        runs, so a short lease only matters when the host dies (then the message
        reappears after one lease, not after the whole function timeout)."""
        while True:
            await asyncio.sleep(max(self._lock_seconds / 2, 0.5))
            try:
                updated = await self._queue.update_message(
                    message, pop_receipt=message.pop_receipt, visibility_timeout=self._lock_seconds
                )
            except Exception:  # lost the message: settling will find out
                return
            message.pop_receipt = updated.pop_receipt
            message.next_visible_on = updated.next_visible_on

    def _decode(self, content: str | bytes) -> bytes:
        raw = content.encode() if isinstance(content, str) else content
        if self._options.message_encoding == "none":
            return raw
        try:
            return base64.b64decode(raw, validate=True)
        except binascii.Error as exc:
            raise ValueError(str(exc)) from exc

    async def _fail(self, message: StorageMessage, count: int) -> None:
        if count >= self._options.max_dequeue_count:
            await self._to_poison(message, f"failed {count} times")
            return
        try:
            await self._queue.update_message(
                message,
                pop_receipt=message.pop_receipt,
                visibility_timeout=int(self._options.visibility_timeout.total_seconds()),
            )
        except ResourceNotFoundError:
            pass  # lease lost: the message is already visible again

    async def _to_poison(self, message: StorageMessage, why: str) -> None:
        await _ensure_queue(self._poison)
        await self._poison.send_message(message.content)
        await self._delete(message)
        log.warning(
            "Message %s has reached MaxDequeueCount of %d (%s). "
            "Moving message to queue '%s-poison'.",
            message.id, self._options.max_dequeue_count, why, self.queue_name,
        )  # fmt: skip

    async def _delete(self, message: StorageMessage) -> None:
        try:
            await self._queue.delete_message(message.id, message.pop_receipt)
        except ResourceNotFoundError:
            pass

    async def stop(self, grace_seconds: float) -> None:
        self._stopping.set()
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=grace_seconds)
        await self._queue.close()
        await self._poison.close()


def _function_message(message: StorageMessage, body: bytes, count: int) -> FunctionQueueMessage:
    return FunctionQueueMessage(  # type: ignore[no-untyped-call]
        id=message.id,
        body=body,
        dequeue_count=count,
        expiration_time=message.expires_on,
        insertion_time=message.inserted_on,
        time_next_visible=message.next_visible_on,
        pop_receipt=message.pop_receipt,
    )


def admin_queue_message(body: str) -> FunctionQueueMessage:
    now = datetime.now(UTC)
    return FunctionQueueMessage(  # type: ignore[no-untyped-call]
        id="admin-" + now.strftime("%Y%m%d%H%M%S%f"),
        body=body.encode(),
        dequeue_count=1,
        insertion_time=now,
    )


async def _ensure_queue(client: QueueClient) -> None:
    try:
        await client.create_queue()
    except ResourceExistsError:
        pass
