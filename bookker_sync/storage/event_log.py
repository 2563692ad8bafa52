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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from azure.data.tables.aio import TableServiceClient
from pydantic import BaseModel

from bookker_sync.storage.optimistic import retry_on_conflict
from bookker_sync.storage.repositories import EVENTS_TABLE
from bookker_sync.storage.tables import DocumentTable, TableWrite

COUNTER_ROW = "seq"
_EVENT_PREFIX = "e-"
_ID_PREFIX = "id-"
_EVENT_ROWS_END = "e."  # "." sorts right after "-": every e-... row is below it
APPEND_ATTEMPTS = 60


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

        async def step(attempt: int) -> int | None:
            if await self.table.find(tenant_id, _ID_PREFIX + event_id) is not None:
                return None
            counter = await self.table.find(tenant_id, COUNTER_ROW)
            seq = (counter.value.seq if counter else 0) + 1
            writes: list[TableWrite[EventRow]] = [
                TableWrite("create", COUNTER_ROW, EventRow(kind="counter", seq=seq))
                if counter is None
                else TableWrite("update", COUNTER_ROW, EventRow(kind="counter", seq=seq),
                                counter.etag),
                TableWrite("create", event_row(seq), EventRow(
                    kind="event", seq=seq, tenant_id=tenant_id, event_id=event_id, time=time,
                    booking_id=booking_id,
                    cloud_event=build(seq),
                )),
                TableWrite("create", _ID_PREFIX + event_id, EventRow(
                    kind="id", seq=seq, event_id=event_id, time=time,
                )),
            ]  # fmt: skip
            await self.table.transact(tenant_id, writes)
            return seq

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
