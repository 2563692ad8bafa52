"""A write budget shared by every instance of the app: at most ``limit`` grants per
time slot per key, counted in one table entity per key under its ETag.

Instances race on the entity with optimistic concurrency (storage/optimistic.py): of
two that read the same count, one write wins and the other reads again. The entity
holds the current slot number; an instance whose clock is a little behind never moves
it back (a slot is only ever replaced by a later one), so the count is never reset early.
"""

from __future__ import annotations

from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import BudgetSlot
from bookker_sync.storage.tables import DocumentTable, safe_key

ROW = "budget"
MAX_RACES = 100  # a few instances renewing at once: contention is short-lived


async def try_take(
    table: DocumentTable[BudgetSlot], key: str, slot: int, count: int, limit: int
) -> bool:
    """Grant ``count`` writes in ``slot`` if the slot's total stays within ``limit``."""
    granted = False

    def change(state: BudgetSlot) -> bool:
        nonlocal granted
        current = max(slot, state.slot)
        used = state.used if state.slot == current else 0
        granted = current == slot and used + count <= limit
        if not granted:
            return False
        state.slot, state.used = current, used + count
        return True

    await update_document(table, safe_key(key), ROW, change, create=BudgetSlot, attempts=MAX_RACES)
    return granted
