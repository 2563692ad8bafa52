"""Optimistic concurrency: read, change, write under the ETag read; on a lost race, again.

Every read-modify-write of the app goes through here, so they all share one policy:
a bounded number of attempts, a short jittered back-off between them (contending
writers spread out instead of colliding again in lockstep), and ConflictError when the
attempts run out.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pydantic import BaseModel

from bookker_sync.storage.errors import ConflictError, NotFoundError
from bookker_sync.storage.tables import DocumentTable, Stored

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

DEFAULT_ATTEMPTS = 30
BACKOFF_STEP_SECONDS = 0.01  # attempt n waits uniform(0, n * step)


async def retry_on_conflict(
    step: Callable[[int], Awaitable[T]],
    *,
    what: str,
    attempts: int = DEFAULT_ATTEMPTS,
    backoff_step: float = BACKOFF_STEP_SECONDS,
) -> T:
    """Run ``step(attempt)`` until it does not raise ConflictError.

    ``step`` must re-read what it changes on every attempt (it gets the attempt number,
    0 first, so it may reuse a value read before the loop on attempt 0)."""
    for attempt in range(attempts):
        try:
            return await step(attempt)
        except ConflictError:
            if attempt + 1 < attempts:
                await asyncio.sleep(random.uniform(0, backoff_step * (attempt + 1)))
    raise ConflictError(f"{what}: too much contention, gave up after {attempts} attempts")


async def update_document(
    table: DocumentTable[M],
    pk: str,
    rk: str,
    change: Callable[[M], bool],
    *,
    first: Stored[M] | None = None,
    create: Callable[[], M] | None = None,
    attempts: int = DEFAULT_ATTEMPTS,
) -> M:
    """Apply ``change`` to a deep copy of the stored document and write it back under
    the ETag it was read with. ``change`` returns False when there is nothing to write
    (then the stored value is returned). ``first`` saves the first read; ``create``
    makes the document when it is missing (else NotFoundError)."""

    async def step(attempt: int) -> M:
        stored = first if attempt == 0 and first is not None else await table.find(pk, rk)
        if stored is not None:
            value = stored.value.model_copy(deep=True)
        elif create is not None:
            value = create()
        else:
            raise NotFoundError(f"{table.table_name}: {pk}/{rk} not found")
        if not change(value):
            return stored.value if stored else value
        if stored is None:
            await table.insert(pk, rk, value)
        else:
            await table.replace(pk, rk, value, stored.etag)
        return value

    return await retry_on_conflict(step, what=f"{table.table_name} {pk}/{rk}", attempts=attempts)
