"""Per-mailbox sync state under ETag: the lease with its dirty flag.

One worker syncs a mailbox at a time. A poke that finds the lease taken only marks the
mailbox dirty; the holder runs once more before it lets go, so bursts of N
notifications cost one delta round and no poke is ever lost.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import MailboxState
from bookker_sync.sync.services import Services

MAX_RACES = 50
# One line per lease transition (owner = one sync run): who synced which mailbox when,
# so overlapping holders would show in the logs (tests/chaos checks there are none).
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Acquired:
    won: bool
    follow_up_seconds: float | None = None  # set: schedule a poke after this long


def new_owner() -> str:
    return uuid.uuid4().hex


async def mutate_state(
    services: Services,
    tenant_id: str,
    mailbox: str,
    change: Callable[[MailboxState], bool],
) -> MailboxState:
    """Read-modify-write of the mailbox's state; ``change`` returns False for no write."""
    key = Mailbox(mailbox)
    return await update_document(
        services.repos.mailboxes, tenant_id, key, change,
        create=lambda: MailboxState(tenant_id=tenant_id, mailbox=key), attempts=MAX_RACES,
    )  # fmt: skip


async def acquire(
    services: Services,
    tenant_id: str,
    mailbox: str,
    owner: str,
    now: datetime,
    *,
    follow_up: bool = False,
) -> Acquired:
    """Take the lease, or mark the mailbox dirty for the current holder.

    The holder may have died (a killed host): whoever first marks the mailbox dirty is
    told to schedule a follow-up poke for when the lease runs out, so the poke is
    never lost. Later pokes find it dirty already and cost nothing more. A follow-up
    poke (``follow_up``) that still finds the lease held is told to schedule itself
    again for the lease's new end: the lease may have passed to another worker that
    can die too, and this follow-up is the one poke guaranteed to be waiting.
    """
    won = False
    again: float | None = None
    seconds = services.settings.sync.lease_seconds

    def change(state: MailboxState) -> bool:
        nonlocal won, again
        held = state.lease_owner not in (None, owner) and (
            state.lease_until is not None and state.lease_until > now
        )
        if held:
            assert state.lease_until is not None
            won = False
            first = not state.dirty
            again = (state.lease_until - now).total_seconds() + 1 if first or follow_up else None
            state.dirty = True
            return first
        won, again = True, None
        state.lease_owner, state.lease_until, state.dirty = (
            owner,
            now + timedelta(seconds=seconds),
            False,
        )
        state.last_sync_started_at = now
        return True

    await mutate_state(services, tenant_id, mailbox, change)
    if won:
        log.info("lease taken: mailbox=%s owner=%s", mailbox.lower(), owner)
    return Acquired(won, again)


async def renew(services: Services, tenant_id: str, mailbox: str, owner: str) -> None:
    """Extend the lease while a long sync makes progress."""
    until = services.clock.now() + timedelta(seconds=services.settings.sync.lease_seconds)

    def change(state: MailboxState) -> bool:
        if state.lease_owner != owner:
            return False
        state.lease_until = until
        return True

    await mutate_state(services, tenant_id, mailbox, change)


async def release_or_rerun(
    services: Services, tenant_id: str, mailbox: str, owner: str, now: datetime
) -> bool:
    """Let go of the lease; True if the mailbox was poked meanwhile and must run again
    (the lease is then kept and extended)."""
    again = False
    seconds = services.settings.sync.lease_seconds

    def change(state: MailboxState) -> bool:
        nonlocal again
        if state.lease_owner != owner:
            again = False  # lease expired and was taken over: the new holder runs
            return False
        if state.dirty:
            again = True
            state.dirty = False
            state.lease_until = now + timedelta(seconds=seconds)
            return True
        again = False
        state.lease_owner, state.lease_until = None, None
        return True

    await mutate_state(services, tenant_id, mailbox, change)
    if not again:
        log.info("lease released: mailbox=%s owner=%s", mailbox.lower(), owner)
    return again


async def abandon(
    services: Services, tenant_id: str, mailbox: str, owner: str, error: str
) -> MailboxState:
    """After a failed run: free the lease (the queue retries the message) and record why."""
    now = services.clock.now()

    def change(state: MailboxState) -> bool:
        if state.lease_owner == owner:
            state.lease_owner, state.lease_until = None, None
        state.last_error = error[:500]
        state.consecutive_failures += 1
        state.failing_since = state.failing_since or now
        return True

    state = await mutate_state(services, tenant_id, mailbox, change)
    log.info("lease released: mailbox=%s owner=%s (run failed)", mailbox.lower(), owner)
    return state
