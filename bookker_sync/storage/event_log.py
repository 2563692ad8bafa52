"""The per-tenant event log: ordered, no gaps, no duplicates, under any race.

Table ``events``, one partition per tenant, three kinds of rows:

- ``seq``: the tenant's counter (the last sequence number given out);
- ``e-<sequence, 12 digits>``: one event (its CloudEvent JSON), in order by RowKey;
- ``id-<event id>``: the event id's sequence number (so an id is logged once).

An append reads the counter and writes the counter + 1, the event row and the id row
in ONE table transaction guarded by the counter's ETag. So a sequence number is used
only together with its row (a reader never sees a gap that fills later), two writers
never get the same number (one transaction loses and retries on the new counter), and
an id already logged makes the transaction fail (the id row exists): logged once.

Group commit: appends of one tenant that arrive while one is being written (in this
process) wait for it and then go together, up to ``MAX_BATCH`` in one transaction.
Under a storm of changes for one tenant, concurrent writers would otherwise lose the
counter race to each other over and over; now one writer per process contends, and
each of its transactions carries many events.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from azure.data.tables.aio import TableServiceClient
from pydantic import BaseModel

from bookker_sync.storage.errors import StorageError
from bookker_sync.storage.optimistic import retry_on_conflict
from bookker_sync.storage.repositories import EVENTS_TABLE
from bookker_sync.storage.tables import DocumentTable, TableWrite

COUNTER_ROW = "seq"
_EVENT_PREFIX = "e-"
_ID_PREFIX = "id-"
_EVENT_ROWS_END = "e."  # "." sorts right after "-": every e-... row is below it
APPEND_ATTEMPTS = 60
MAX_BATCH = 30  # 1 counter + 2 rows per event: within a transaction's 100 operations


def event_row(seq: int) -> str:
    return f"{_EVENT_PREFIX}{seq:012d}"


class EventRow(BaseModel):
    kind: Literal["counter", "event", "id"]
    seq: int
    tenant_id: str | None = None
    event_id: str | None = None
    time: datetime | None = None
    booking_id: str | None = None
    cloud_event: dict[str, Any] | None = None  # the CloudEvent JSON as served


@dataclass(frozen=True)
class _Append:
    tenant_id: str
    event_id: str
    time: datetime
    booking_id: str | None
    build: Callable[[int], dict[str, Any]]
    done: asyncio.Future[int | None]


@dataclass(frozen=True)
class LoggedEvent:
    seq: int
    event_id: str
    time: datetime
    booking_id: str | None
    cloud_event: dict[str, Any]


class EventLog:
    def __init__(self, service: TableServiceClient, table_name: str = EVENTS_TABLE) -> None:
        self.table = DocumentTable(
            service,
            table_name,
            EventRow,
            projection=lambda r: {"Kind": r.kind, **({"Time": r.time} if r.time else {})},
        )
        # Group commit state, per tenant (this object lives on one event loop).
        self._waiting: dict[str, list[_Append]] = {}
        self._writing: set[str] = set()

    async def append(
        self,
        tenant_id: str,
        event_id: str,
        time: datetime,
        booking_id: str | None,
        build: Callable[[int], dict[str, Any]],
    ) -> int | None:
        """Log the event ``build(seq)`` makes; its sequence number, or None when this
        id is logged already."""
        loop = asyncio.get_running_loop()
        item = _Append(tenant_id, event_id, time, booking_id, build, loop.create_future())
        waiting = self._waiting.setdefault(tenant_id, [])
        waiting.append(item)
        if tenant_id not in self._writing:  # nobody is writing this tenant's log: we do
            await self._write_waiting(tenant_id)
        return await item.done

    async def _write_waiting(self, tenant_id: str) -> None:
        self._writing.add(tenant_id)
        batch: list[_Append] = []
        try:
            while waiting := self._waiting.get(tenant_id):
                batch = waiting[:MAX_BATCH]
                del waiting[: len(batch)]
                try:
                    _settle(batch, await self._append_batch(tenant_id, batch))
                except Exception as exc:  # each caller sees the failure of its own event
                    _fail(batch, exc)
        except BaseException:  # cancelled mid-write: nobody is left to write the rest
            left = batch + self._waiting.pop(tenant_id, [])
            _fail(left, StorageError(f"event log of {tenant_id}: its writer was stopped"))
            raise
        finally:
            self._writing.discard(tenant_id)
            if not self._waiting.get(tenant_id):
                self._waiting.pop(tenant_id, None)

    async def _append_batch(self, tenant_id: str, batch: list[_Append]) -> dict[str, int]:
        """One transaction for the batch's events not logged yet: their sequence numbers
        by event id (an id already logged, or twice in the batch, gets none)."""

        async def logged(event_id: str) -> bool:
            return await self.table.find(tenant_id, _ID_PREFIX + event_id) is not None

        async def step(attempt: int) -> dict[str, int]:
            ids = list(dict.fromkeys(item.event_id for item in batch))
            known = await asyncio.gather(*(logged(i) for i in ids))
            fresh = [i for i, was in zip(ids, known, strict=True) if not was]
            if not fresh:
                return {}
            first: dict[str, _Append] = {}
            for item in batch:
                first.setdefault(item.event_id, item)
            counter = await self.table.find(tenant_id, COUNTER_ROW)
            base = counter.value.seq if counter else 0
            last = base + len(fresh)
            writes: list[TableWrite[EventRow]] = [
                TableWrite("create", COUNTER_ROW, EventRow(kind="counter", seq=last))
                if counter is None
                else TableWrite("update", COUNTER_ROW, EventRow(kind="counter", seq=last),
                                counter.etag),
            ]  # fmt: skip
            numbers = {event_id: base + n for n, event_id in enumerate(fresh, start=1)}
            for event_id, seq in numbers.items():
                item = first[event_id]
                writes += [
                    TableWrite("create", event_row(seq), EventRow(
                        kind="event", seq=seq, tenant_id=tenant_id, event_id=event_id,
                        time=item.time, booking_id=item.booking_id, cloud_event=item.build(seq),
                    )),
                    TableWrite("create", _ID_PREFIX + event_id, EventRow(
                        kind="id", seq=seq, event_id=event_id, time=item.time,
                    )),
                ]  # fmt: skip
            await self.table.transact(tenant_id, writes)
            return numbers

        return await retry_on_conflict(
            step, what=f"event log of {tenant_id}", attempts=APPEND_ATTEMPTS
        )

    async def read(self, tenant_id: str, after: int, limit: int) -> list[LoggedEvent]:
        """Up to ``limit`` events with a sequence number above ``after``, in order."""
        out: list[LoggedEvent] = []
        rows = self.table.query(
            tenant_id, "RowKey gt @lo and RowKey lt @hi", lo=event_row(after), hi=_EVENT_ROWS_END
        )
        async for stored in rows:
            row = stored.value
            if row.kind != "event" or row.event_id is None or row.cloud_event is None:
                continue
            assert row.time is not None
            out.append(LoggedEvent(row.seq, row.event_id, row.time, row.booking_id,
                                   row.cloud_event))  # fmt: skip
            if len(out) >= limit:
                break
        return out

    async def get(self, tenant_id: str, seq: int) -> LoggedEvent | None:
        found = await self.read(tenant_id, seq - 1, 1)
        return found[0] if found and found[0].seq == seq else None

    async def last_seq(self, tenant_id: str) -> int:
        counter = await self.table.find(tenant_id, COUNTER_ROW)
        return counter.value.seq if counter else 0

    async def purge_before(self, cutoff: datetime) -> int:
        """Delete every tenant's events logged before ``cutoff`` (and their id rows);
        counters stay, so sequence numbers are never reused."""
        old = [
            s.value
            async for s in self.table.query(None, "Kind eq @k and Time lt @t", k="event", t=cutoff)
        ]
        for row in old:
            assert row.tenant_id is not None and row.event_id is not None
            await self.table.delete(row.tenant_id, event_row(row.seq))
            await self.table.delete(row.tenant_id, _ID_PREFIX + row.event_id)
        return len(old)


def _settle(batch: list[_Append], numbers: dict[str, int]) -> None:
    """Each event's number; None for an id logged before, or earlier in the batch."""
    given: set[str] = set()
    for item in batch:
        seq = numbers.get(item.event_id) if item.event_id not in given else None
        given.add(item.event_id)
        if not item.done.done():
            item.done.set_result(seq)


def _fail(batch: list[_Append], exc: BaseException) -> None:
    for item in batch:
        if not item.done.done():
            item.done.set_exception(exc)
