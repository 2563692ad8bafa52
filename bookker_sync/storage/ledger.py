"""The per-space ledger: no two confirmed bookings of one space overlap, under any race.

Each space has one partition with an entity per UTC day holding the intervals that
touch that day. Claiming intervals reads the days involved, checks overlaps and writes
them back in ONE table transaction guarded by every day's ETag: concurrent claims for
the same slot cannot both commit; the loser re-reads and sees the winner.

A claim starts as a *hold* that expires (``held_until``) unless confirmed, so a
request that crashed between the claim and the Graph write never blocks the slot.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from azure.data.tables.aio import TableServiceClient
from pydantic import BaseModel

from bookker_sync.storage.optimistic import retry_on_conflict
from bookker_sync.storage.tables import DocumentTable, TableWrite

HOLD_SECONDS = 120
MAX_ATTEMPTS = 60
MAX_DAYS = 100  # one change is one table transaction: at most 100 entities (days)


class LedgerEntry(BaseModel):
    id: str
    start: datetime
    end: datetime
    held_until: datetime | None = None  # None = confirmed

    def active(self, now: datetime) -> bool:
        return self.held_until is None or self.held_until > now


class LedgerDay(BaseModel):
    entries: list[LedgerEntry] = []


@dataclass(frozen=True)
class Claim:
    id: str
    start: datetime
    end: datetime


class LedgerSpanError(ValueError):
    """The claims touch more than MAX_DAYS UTC days of a space (a request too long)."""


class SlotTakenError(Exception):
    def __init__(self, conflicts: list[str]) -> None:
        super().__init__(f"overlaps booking(s) {', '.join(sorted(set(conflicts)))}")
        self.conflicts = sorted(set(conflicts))


def _days(start: datetime, end: datetime) -> list[date]:
    first, last = start.date(), (end - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


class Ledger:
    def __init__(self, service: TableServiceClient, table_name: str = "ledger") -> None:
        self._table = DocumentTable(service, table_name, LedgerDay)

    @staticmethod
    def _pk(tenant_id: str, space_id: str) -> str:
        return f"{tenant_id}|{space_id}"

    async def claim(
        self,
        tenant_id: str,
        space_id: str,
        claims: Iterable[Claim],
        now: datetime,
        *,
        release: Iterable[Claim] = (),
        hold: bool = True,
    ) -> None:
        """Atomically drop ``release`` (located by their old intervals) and add ``claims``.

        Raises SlotTakenError if a claim overlaps an active entry of another booking.
        """
        claims, released = list(claims), list(release)
        release_ids = {r.id for r in released}
        await self._update(
            tenant_id,
            space_id,
            claims + released,
            lambda days: self._apply(days, claims, release_ids, now, hold),
        )

    async def confirm(self, tenant_id: str, space_id: str, claims: Iterable[Claim]) -> None:
        """Turn holds into confirmed entries (idempotent)."""
        claims = list(claims)
        ids = {c.id for c in claims}

        def apply(days: dict[date, LedgerDay]) -> None:
            for day in days.values():
                for entry in day.entries:
                    if entry.id in ids:
                        entry.held_until = None

        await self._update(tenant_id, space_id, claims, apply)

    async def release(self, tenant_id: str, space_id: str, claims: Iterable[Claim]) -> None:
        """Remove entries (idempotent): a cancelled or failed booking frees its slot."""
        claims = list(claims)
        ids = {c.id for c in claims}

        def apply(days: dict[date, LedgerDay]) -> None:
            for day in days.values():
                day.entries = [e for e in day.entries if e.id not in ids]

        await self._update(tenant_id, space_id, claims, apply)

    async def holds(self, tenant_id: str, space_id: str, now: datetime) -> list[LedgerEntry]:
        """Active, unconfirmed claims: bookings being created right now."""
        return [
            e
            for e in await self.entries(tenant_id, space_id)
            if e.held_until is not None and e.held_until > now
        ]

    async def entries(self, tenant_id: str, space_id: str) -> list[LedgerEntry]:
        out: dict[str, LedgerEntry] = {}
        for day in await self._table.list(self._pk(tenant_id, space_id)):
            for entry in day.entries:
                out[entry.id] = entry
        return list(out.values())

    # -- internals -------------------------------------------------------------------
    @staticmethod
    def _apply(
        days: dict[date, LedgerDay],
        claims: list[Claim],
        release_ids: set[str],
        now: datetime,
        hold: bool,
    ) -> None:
        claim_ids = {c.id for c in claims}
        for day in days.values():
            # Drop released, expired holds, and earlier versions of what we claim again.
            day.entries = [
                e
                for e in day.entries
                if e.id not in release_ids and e.id not in claim_ids and e.active(now)
            ]
        conflicts = [
            e.id
            for c in claims
            for d in _days(c.start, c.end)
            for e in days[d].entries
            if e.start < c.end and c.start < e.end
        ]
        for index, a in enumerate(claims):  # claims must not overlap each other either
            conflicts += [a.id for b in claims[index + 1 :] if a.start < b.end and b.start < a.end]
        if conflicts:
            raise SlotTakenError(conflicts)
        held = now + timedelta(seconds=HOLD_SECONDS) if hold else None
        for c in claims:
            for d in _days(c.start, c.end):
                days[d].entries.append(
                    LedgerEntry(id=c.id, start=c.start, end=c.end, held_until=held)
                )

    async def _update(
        self,
        tenant_id: str,
        space_id: str,
        located_by: list[Claim],
        apply: Callable[[dict[date, LedgerDay]], None],
    ) -> None:
        pk = self._pk(tenant_id, space_id)
        wanted = sorted({d for c in located_by for d in _days(c.start, c.end)})
        if len(wanted) > MAX_DAYS:
            raise LedgerSpanError(f"a ledger change may touch at most {MAX_DAYS} days")

        async def attempt(_: int) -> None:
            stored = await asyncio.gather(*(self._table.find(pk, d.isoformat()) for d in wanted))
            before = dict(zip(wanted, stored, strict=True))
            days = {
                d: (s.value.model_copy(deep=True) if s else LedgerDay()) for d, s in before.items()
            }
            apply(days)
            writes: list[TableWrite[LedgerDay]] = []
            for d, s in before.items():
                if s is None:
                    if days[d].entries:
                        writes.append(TableWrite("create", d.isoformat(), days[d]))
                elif days[d] != s.value:
                    writes.append(TableWrite("update", d.isoformat(), days[d], s.etag))
            await self._table.transact(pk, writes)

        await retry_on_conflict(
            attempt, what=f"ledger {pk}", attempts=MAX_ATTEMPTS, backoff_step=0.02
        )
