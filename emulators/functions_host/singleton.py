"""What instances of one app share in storage: timer listener locks and schedule status.

The real host keeps both as blobs in the ``azure-webjobs-hosts`` container: a blob
lease on ``locks/{hostId}/{function}.Listener`` makes a timer's listener a singleton
across scaled-out instances, and ``timers/{hostId}/{function}/status`` holds the
schedule status (Last, Next, LastUpdated) so occurrences missed while no instance ran
are detected as past due. This host has Tables (Azurite) at hand, so each blob becomes
one entity of the ``AzureWebJobsHosts`` table (PartitionKey = host id, RowKey = the
blob path with ``|`` for ``/``) and a lease is an owner + expiry written with the
entity's ETag (optimistic concurrency: of two instances racing, one gets 412).

Leases run on real time, like storage leases; schedules run on the app's clock.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables.aio import TableClient

log = logging.getLogger("functions_host.singleton")
HOSTS_TABLE = "AzureWebJobsHosts"
_HOST_ID_CHARS = re.compile(r"[^a-z0-9-]+")


def default_host_id(app_dir: Path, app_target: str) -> str:
    """Like the real host's default: lowercase letters, digits and dashes, at most 32
    characters, the same for every instance of one app (here: its folder and target)."""
    stem = _HOST_ID_CHARS.sub("-", app_dir.name.lower()).strip("-")[:23] or "app"
    digest = hashlib.sha256(f"{app_dir.resolve()}|{app_target}".encode()).hexdigest()[:8]
    return f"{stem}-{digest}"


def host_id_from_env(app_dir: Path, app_target: str) -> str:
    # AzureFunctionsWebHost__hostid is the real host's override of its host id.
    given = os.environ.get("AzureFunctionsWebHost__hostid", "").strip()
    return given or default_host_id(app_dir, app_target)


def instance_id() -> str:
    # WEBSITE_INSTANCE_ID is what Azure sets per instance; locally the launcher sets it.
    given = os.environ.get("WEBSITE_INSTANCE_ID", "").strip()
    return given or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


async def open_hosts_table(connection_string: str) -> TableClient:
    table = TableClient.from_connection_string(connection_string, HOSTS_TABLE)
    try:
        await table.create_table()
    except ResourceExistsError:
        pass
    return table


def _now() -> datetime:
    return datetime.now(UTC)


class TableLease:
    """A renewable, expiring lock on one entity: the listener lock of one function."""

    def __init__(
        self, table: TableClient, host_id: str, name: str, owner: str, period: timedelta
    ) -> None:
        self._table = table
        self._keys = {"PartitionKey": host_id, "RowKey": f"locks|{name}"}
        self._where = {"partition_key": host_id, "row_key": f"locks|{name}"}
        self.owner = owner
        self.period = period
        self._valid_until: datetime | None = None

    @property
    def held(self) -> bool:
        """Held and not yet expired by our own count (a stale holder stops acting)."""
        return self._valid_until is not None and _now() < self._valid_until

    async def try_hold(self) -> bool:
        """Acquire, or renew if ours. False when another live instance holds it."""
        started = _now()
        entity = {**self._keys, "Owner": self.owner, "ExpiresOn": started + self.period}
        try:
            current = await self._table.get_entity(**self._where)
        except ResourceNotFoundError:
            return await self._write(self._table.create_entity(entity), started)
        expired = _as_utc(current.get("ExpiresOn")) <= started
        if current.get("Owner") != self.owner and not expired:
            self._valid_until = None
            return False
        update = self._table.update_entity(
            entity,
            mode="replace",
            etag=current.metadata["etag"],
            match_condition=MatchConditions.IfNotModified,
        )
        return await self._write(update, started)

    async def _write(self, call: Any, started: datetime) -> bool:
        try:
            await call
        except (ResourceExistsError, ResourceModifiedError):
            self._valid_until = None  # another instance won the race
            return False
        except HttpResponseError as exc:
            if exc.status_code in (409, 412):
                self._valid_until = None
                return False
            raise
        self._valid_until = started + self.period
        return True

    async def release(self) -> None:
        """Give the lock up on a clean stop so another instance takes over at once."""
        if self._valid_until is None:
            return
        self._valid_until = None
        try:
            current = await self._table.get_entity(**self._where)
            if current.get("Owner") == self.owner:
                await self._table.delete_entity(
                    **self._where,
                    etag=current.metadata["etag"],
                    match_condition=MatchConditions.IfNotModified,
                )
        except Exception as exc:  # it expires on its own anyway
            log.debug("releasing %s failed: %s", self._keys["RowKey"], exc)


@dataclass(frozen=True)
class ScheduleStatus:
    last: datetime | None
    next: datetime
    last_updated: datetime

    def as_dict(self) -> dict[str, str | None]:
        return {
            "Last": self.last.isoformat() if self.last else None,
            "Next": self.next.isoformat(),
            "LastUpdated": self.last_updated.isoformat(),
        }


class ScheduleMonitor:
    """Reads and writes one timer's schedule status (the real host's StorageScheduleMonitor)."""

    def __init__(self, table: TableClient, host_id: str, name: str) -> None:
        self._table = table
        self._keys = {"PartitionKey": host_id, "RowKey": f"timers|{name}|status"}
        self._where = {"partition_key": host_id, "row_key": f"timers|{name}|status"}

    async def get(self) -> ScheduleStatus | None:
        try:
            entity = await self._table.get_entity(**self._where)
        except ResourceNotFoundError:
            return None
        last = entity.get("Last")
        return ScheduleStatus(
            last=_as_utc(last) if last else None,
            next=_as_utc(entity["Next"]),
            last_updated=_as_utc(entity["LastUpdated"]),
        )

    async def put(self, status: ScheduleStatus) -> None:
        entity: dict[str, Any] = {
            **self._keys,
            "Next": status.next,
            "LastUpdated": status.last_updated,
        }
        if status.last is not None:
            entity["Last"] = status.last
        await self._table.upsert_entity(entity, mode="replace")


def _as_utc(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
