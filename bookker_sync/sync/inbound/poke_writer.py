"""Group commit of webhook pokes: concurrent webhook requests share queue writes.

Graph wants a 2xx within 3 s and we may only answer after the pokes are persisted
(else Graph must retry). Under a burst, many requests arrive at once; each waits for
the next write, which persists every poke pending at that moment in one queue message
(``{"pokes": [...]}``, deduplicated per mailbox). So one storage round trip serves
many requests: ack latency stays near one enqueue while throughput is no longer
bounded by one enqueue per request.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bookker_sync.json_types import JsonObject
from bookker_sync.storage.queues import LIFECYCLE_QUEUE, MAILBOX_SYNC_QUEUE, QueueSender

POKES_PER_MESSAGE = 100  # keeps a message well under the 64 KB queue limit


@dataclass
class _Pending:
    pokes: dict[tuple[str, str], str] = field(default_factory=dict)  # → notifiedAt
    lifecycle: list[JsonObject] = field(default_factory=list)
    waiters: list[asyncio.Future[None]] = field(default_factory=list)


class PokeWriter:
    def __init__(self, queues: QueueSender) -> None:
        self._queues = queues
        self._pending = _Pending()
        self._writing = False

    async def persist(self, pokes: dict[tuple[str, str], str], lifecycle: list[JsonObject]) -> None:
        """Return once these pokes are in the queue; raise if writing them failed."""
        if not pokes and not lifecycle:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending = self._pending
        for key, notified in pokes.items():
            pending.pokes.setdefault(key, notified)
        pending.lifecycle.extend(lifecycle)
        pending.waiters.append(done)
        if not self._writing:
            self._writing = True
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
            self._writing = False

    async def _write(self, batch: _Pending) -> None:
        pokes = [
            {"tenantId": tenant, "mailbox": mailbox, "notifiedAt": notified}
            for (tenant, mailbox), notified in batch.pokes.items()
        ]
        messages: list[JsonObject] = (
            pokes
            if len(pokes) == 1
            else [
                {"pokes": pokes[i : i + POKES_PER_MESSAGE]}
                for i in range(0, len(pokes), POKES_PER_MESSAGE)
            ]
        )
        await asyncio.gather(
            *(self._queues.send(MAILBOX_SYNC_QUEUE, m) for m in messages),
            *(self._queues.send(LIFECYCLE_QUEUE, body) for body in batch.lifecycle),
        )


_writers: dict[int, PokeWriter] = {}


def writer_for(queues: QueueSender) -> PokeWriter:
    found = _writers.get(id(queues))
    if found is None:
        found = _writers[id(queues)] = PokeWriter(queues)
    return found
