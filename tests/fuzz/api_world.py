"""Tenants the Bookker API fuzz tests work on, all unidirectional with desk spaces
(no room mailboxes), so the Graph emulator only sees writes to users' calendars.

- ``playground``: anything goes (schemathesis positive run): bookings are created,
  changed, deleted and released there;
- ``snapshot``: holds bookings in every state; only invalid input is ever sent to
  it, and its stored state must not change;
- ``config``: random spaces and users are PUT there (a user whose random email has no
  mailbox would make any booking of theirs a Graph failure: none is made there);
- ``scratch``: a tenant id that only PUT /tenants/{id} touches (a random body may give
  it a Graph tenant that doesn't exist: nothing else uses it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, timedelta
from typing import Any

from tests.fuzz.storage import config_snapshot
from tests.support.functions_host import Stack, Tenant

SPACES = ("desk-a", "desk-b")
USERS = ("ann", "bob")


@dataclass(frozen=True)
class ApiWorld:
    playground: Tenant
    pool: tuple[str, ...]  # playground bookings made before fuzzing
    snapshot: Tenant
    snapshot_bookings: tuple[str, ...]  # confirmed, cancelled, released, a series of 2
    config: Tenant
    scratch_tenant_id: str
    snapshot_state: dict[str, Any]  # what snapshot() answered once the world was built


def _slot(stack: Stack, days: int, hour: int, minutes: int = 60) -> tuple[str, str]:
    now = stack.emulator.clock_now().astimezone(UTC)  # the app's clock
    base = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start = base + timedelta(days=days, hours=hour)
    return start.isoformat(), (start + timedelta(minutes=minutes)).isoformat()


def create(stack: Stack, tenant: Tenant, days: int, hour: int, **extra: Any) -> dict[str, Any]:
    start, end = _slot(stack, days, hour)
    body = {"spaceId": SPACES[0], "userId": USERS[0], "start": start, "end": end, **extra}
    r = stack.api("POST", f"tenants/{tenant.id}/bookings", body)
    assert r.status_code == 201, r.text
    created: dict[str, Any] = r.json()
    return created


def build(stack: Stack) -> ApiWorld:
    playground, snapshot = stack.new_tenant("unidirectional"), stack.new_tenant("unidirectional")
    for tenant in (playground, snapshot):
        for space in SPACES:
            tenant.add_space(space, room=False)
        for user in USERS:
            tenant.add_user(user, groups=["staff"])
    pool = tuple(create(stack, playground, 2, hour)["id"] for hour in (8, 10, 12, 14))
    kept = create(stack, snapshot, 3, 9, subject="kept")["id"]
    deleted = create(stack, snapshot, 3, 11)["id"]
    released = create(stack, snapshot, 3, 13)["id"]
    series = create(stack, snapshot, 4, 9, recurrence={"pattern": "daily", "count": 2})
    assert stack.api("DELETE", f"tenants/{snapshot.id}/bookings/{deleted}").status_code == 204
    r = stack.api("POST", f"tenants/{snapshot.id}/bookings/{released}/release", {"reason": "r"})
    assert r.status_code == 202, r.text
    ids = (kept, deleted, released, *(b["id"] for b in series["value"]))
    config = stack.new_tenant("unidirectional")
    world = ApiWorld(playground, pool, snapshot, ids, config, "fz-" + uuid.uuid4().hex[:12], {})
    world.snapshot_state.update(snapshot_of(stack, world))
    return world


def snapshot_of(stack: Stack, world: ApiWorld) -> dict[str, Any]:
    """The snapshot tenant as stored (tenant, spaces, users, booking records) and as
    the API lists its bookings."""
    listed = stack.api("GET", f"tenants/{world.snapshot.id}/bookings")
    assert listed.status_code == 200, listed.text
    return {"storage": config_snapshot(stack, world.snapshot.id), "api": listed.json()}
