"""Group commit of webhook pokes: concurrent webhook requests share queue writes.

Graph wants a 2xx within 3 s and we may only answer after the pokes are persisted
(else Graph must retry). Under a burst, many requests arrive at once; each waits for
the next write, which persists every poke pending at that moment in one queue message
(``{"pokes": [...]}``, deduplicated per mailbox). So one storage round trip serves
many requests: ack latency stays near one enqueue while throughput is no longer
bounded by one enqueue per request. A few writes may be in flight at once, so a
request's write starts right away unless storage is already busy with several.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime

from bookker_sync.storage.queues import QueueSender
from bookker_sync.sync import messages
from bookker_sync.sync.messages import (
    LifecycleMessage,
    MailboxSyncBatch,
    MailboxSyncMessage,
    QueueMessage,
)

POKES_PER_MESSAGE = 100  # keeps a message well under the 64 KB queue limit
# Writes in flight at once. One would make every request wait for the write in flight
# and then its own (1.5 storage round trips on average, 2 when storage is slow); a few
# let a request's write start at once while a burst still shares writes.
WRITES_IN_FLIGHT = 4


@dataclass
class _Pending:
    pokes: dict[tuple[str, str], datetime] = field(default_factory=dict)  # → notifiedAt
    lifecycle: list[LifecycleMessage] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class PokeWriter:
    def __init__(self, queues: QueueSender) -> None:
        self._queues = queues
        self._pending = _Pending()
        self._writing = 0

    async def persist(
        self, pokes: dict[tuple[str, str], datetime], lifecycle: list[LifecycleMessage]
    ) -> None:
        """Return once these pokes are in the queue; raise if writing them failed."""
        if not pokes and not lifecycle:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = self._pending
        for key, notified in pokes.items():
            pending.pokes.setdefault(key, notified)
        pending.lifecycle.extend(lifecycle)
        pending.waiters.append(done)
        if self._writing < WRITES_IN_FLIGHT:
            self._writing += 1
            asyncio.get_running_loop().create_task(self._write_all())
        await done

    async def _write_all(self) -> None:
        try:
            while self._pending.waiters:
                batch, self._pending = self._pending, _Pending()
                try:
                    await self._write(batch)
                except Exception as exc:  # every request in the batch answers 5xx
                    for waiter in batch.waiters:
                        if not waiter.done():
                            waiter.set_exception(exc)
                    continue
                for waiter in batch.waiters:
                    if not waiter.done():
                        waiter.set_result(None)
        finally:
            self._writing -= 1

    async def _write(self, batch: _Pending) -> None:
        pokes = [
            MailboxSyncMessage(tenant_id=tenant, mailbox=mailbox, notified_at=notified)
            for (tenant, mailbox), notified in batch.pokes.items()
        ]
        writes: list[QueueMessage] = (
            list(pokes)
            if len(pokes) == 1
            else [
                MailboxSyncBatch(pokes=pokes[i : i + POKES_PER_MESSAGE])
                for i in range(0, len(pokes), POKES_PER_MESSAGE)
            ]
        )
        await asyncio.gather(
            *(messages.send(self._queues, m) for m in writes),
            *(messages.send(self._queues, m) for m in batch.lifecycle),
        )


_writers: dict[int, PokeWriter] = {}


def writer_for(queues: QueueSender) -> PokeWriter:
    found = _writers.get(id(queues))
    if found is None:
        found = _writers[id(queues)] = PokeWriter(queues)
    return found
