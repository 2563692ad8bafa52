"""Offboarding a tenant: stop its sync, then erase everything stored about it.

1. every Graph subscription on its rooms is deleted (ours, and any of the app's on
   those rooms Graph still lists), so Graph stops calling;
2. the tenant row goes, so every worker still holding work for it stops (each one
   reads the tenant first and skips a tenant that is gone);
3. every row of the tenant in every table is deleted (bookings with the stored Outlook
   JSON, events, push settings and secrets, mailbox state, ledger, declines,
   subscription records and index...), twice: a worker that was mid-run during the
   first pass can't leave anything behind the second.

``DELETE /api/tenants/{id}?confirm={id}`` and ``python -m bookker_sync offboard`` both
run it; it can be re-run (each step is idempotent).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.graph.errors import GraphError
from bookker_sync.graph.subscriptions import events_resource
from bookker_sync.storage.repositories import (
    API_CLIENTS_TABLE,
    APP_TABLES,
    ROOM_CLAIMS_TABLE,
    SUBSCRIPTION_IDS_TABLE,
    TENANT_PARTITION,
)
from bookker_sync.storage.tenant_purge import purge_table
from bookker_sync.sync.errors import BadRequestError
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions import ensure as subscriptions

log = logging.getLogger(__name__)
Progress = Callable[[str, str], None]  # (step, outcome)
# Tables whose rows are not keyed by tenant: found by the tenant named in the document.
NOT_KEYED_BY_TENANT = (SUBSCRIPTION_IDS_TABLE, ROOM_CLAIMS_TABLE)
# Not the tenant's data: API clients may serve many tenants (sync/ops/api_clients.py).
NOT_PURGED = (API_CLIENTS_TABLE,)


@dataclass
class OffboardReport:
    tenant_id: str
    subscriptions_deleted: int = 0
    rows_deleted: dict[str, int] = field(default_factory=dict)


def offboard_steps(services: Services) -> int:
    """How many progress steps an offboarding reports (for a progress bar)."""
    return 2 + len(APP_TABLES) - len(NOT_PURGED)


async def offboard(
    services: Services, tenant_id: str, confirm: str | None, progress: Progress | None = None
) -> OffboardReport:
    if confirm != tenant_id:
        raise BadRequestError(f"to offboard, confirm with the tenant id (?confirm={tenant_id})")
    say = progress or (lambda step, outcome: None)
    tenant = await get_tenant(services, tenant_id)
    report = OffboardReport(tenant_id)
    report.subscriptions_deleted = await _unsubscribe(services, tenant.id, tenant.graph_tenant_id)
    say("subscriptions", f"{report.subscriptions_deleted} deleted in Graph")
    await services.repos.tenants.delete(TENANT_PARTITION, tenant_id)
    say("sync", "stopped")
    for table in (t for t in APP_TABLES if t not in NOT_PURGED):
        by_partition = table not in NOT_KEYED_BY_TENANT
        count = 0
        for _ in range(2):
            count += await purge_table(
                services.storage.tables, table, tenant_id, by_partition=by_partition
            )
        report.rows_deleted[table] = count
        say(table, f"{count} row(s) deleted")
    log.info("tenant %s offboarded: %s", tenant_id, report)
    return report


async def _unsubscribe(services: Services, tenant_id: str, graph_tenant_id: str) -> int:
    deleted = 0
    rooms: set[str] = set()
    for record in await services.repos.subscriptions.list(tenant_id):
        rooms.add(record.mailbox)
        await subscriptions.remove(services, record)
        deleted += 1 if record.subscription_id else 0
    for space in await services.repos.spaces.list(tenant_id):
        room = Mailbox.parse(space.resource_email)
        if room is not None:
            rooms.add(room)
    if not rooms:
        return deleted
    # Any subscription of the app on these rooms that we lost track of: never one that
    # belongs to another tenant (its index says so), nor on a room another tenant owns.
    owned = {
        room for room in rooms
        if await _not_someone_elses(services, tenant_id, graph_tenant_id, room)
    }  # fmt: skip
    api = services.graph.subscriptions(graph_tenant_id)
    wanted = {events_resource(room).lower().lstrip("/") for room in owned}
    try:
        for sub in await api.list_all():
            if sub.resource.lower().lstrip("/") not in wanted:
                continue
            indexed = await services.repos.subscription_ids.find(sub.id, "s")
            if indexed is None or indexed.value.tenant_id == tenant_id:
                await api.delete(sub.id)
                deleted += 1
    except GraphError as exc:  # consent gone: Graph drops the subscriptions itself
        log.warning("listing %s's subscriptions failed: %s", tenant_id, exc)
    return deleted


async def _not_someone_elses(
    services: Services, tenant_id: str, graph_tenant_id: str, room: str
) -> bool:
    if not graph_tenant_id:
        return False
    claim = await services.repos.room_claims.find(graph_tenant_id, Mailbox(room))
    return claim is None or claim.value.tenant_id == tenant_id
