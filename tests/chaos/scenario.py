"""A seeded chaos scenario: operations from both sides against a faulty Graph.

Bookker API (create / update / delete / release) and Outlook (create, recurring
create, move, cancel; valid, rule-breaking and conflicting) interleave while the
emulator drops, duplicates, delays and reorders notifications, throttles and fails,
and lifecycle events are injected; the Functions host is killed and restarted in the
middle. The oracle (oracle.py) then checks the end state.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.functions_host import Stack, Tenant
from tests.support.outlook import Outlook

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")
FAULTS: dict[str, Any] = {
    "notificationDropRate": 0.25,
    "notificationDuplicateRate": 0.25,
    "notificationDelaySeconds": [0, 20],
    "reorder": True,
    "throttleRate": 0.04,
    "serverErrorRate": 0.03,
    "retryAfterSeconds": 0,
}


@dataclass
class ChaosConfig:
    seed: int
    operations: int = 200
    rooms: int = 5
    users: int = 4
    kill_at: float = 0.5  # fraction of operations after which the host is killed


@dataclass
class Log:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1


class Scenario:
    def __init__(self, stack: Stack, config: ChaosConfig) -> None:
        self.stack = stack
        self.config = config
        self.rng = random.Random(config.seed)
        self.log = Log()
        self.tenant: Tenant = stack.new_tenant("bidirectional")
        self.outlook = Outlook(stack, self.tenant)
        self.users: dict[str, str] = {}
        self.rooms: dict[str, str] = {}
        self.outsider = self.tenant.address("outsider")
        self.base = _next_monday()

    # -- setup ---------------------------------------------------------------------------
    def setup(self) -> None:
        t = self.tenant
        for i in range(self.config.users):
            self.users[f"u{i}"] = t.add_user(f"u{i}", groups=["team-a" if i % 2 else "team-b"])
        self.stack.emulator.add_mailbox(t.graph_tenant_id, self.outsider, "Outsider", "user")
        for i in range(self.config.rooms):
            rules: dict[str, Any] = {"timeZone": "UTC", "maxMinutes": 120}
            if i % 2 == 0:
                rules["openingHours"] = {d: [{"start": "08:00", "end": "18:00"}] for d in WEEKDAYS}
            if i == 1:
                rules["allowedGroups"] = ["team-a"]
            room = t.add_space(f"r{i}", rules=rules)
            assert room is not None
            self.rooms[f"r{i}"] = room
        self.settle(lambda: self._subscribed())

    def _subscribed(self) -> bool:
        health = self.stack.api("GET", "health").json()
        mine = [x for x in health.get("tenants", []) if x["tenantId"] == self.tenant.id]
        return bool(mine) and mine[0]["subscriptions"]["active"] == self.config.rooms

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> None:
        self.stack.emulator.set_faults(seed=self.config.seed, **FAULTS)
        kill_at = int(self.config.operations * self.config.kill_at)
        for n in range(self.config.operations):
            if n == kill_at:
                self.stack.kill_host()
                self.log.add("host killed")
                self.stack.restart_host()
            self.one_operation()
            if n % 10 == 9:
                self.stack.emulator.clock_advance(self.rng.uniform(0, 15))
                self._flush()
            if n % 40 == 20:
                self.lifecycle_event()
        self.stack.emulator.set_faults(seed=self.config.seed)  # faults off
        self.stack.emulator.clock_advance(30)  # every delayed notification is due

    def one_operation(self) -> None:
        ops = (
            (self.api_create, 30), (self.api_update, 10), (self.api_delete, 8),
            (self.api_release, 5), (self.outlook_create, 25), (self.outlook_series, 4),
            (self.outlook_move, 11), (self.outlook_cancel, 7),
        )  # fmt: skip
        op = self.rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
        op()

    def slot(self) -> tuple[datetime, datetime]:
        day = self.base + timedelta(days=self.rng.randrange(0, 14))
        start = day + timedelta(hours=self.rng.randrange(7, 19), minutes=self.rng.choice((0, 30)))
        minutes = self.rng.choice((30, 60, 60, 90, 180))
        return start, start + timedelta(minutes=minutes)

    # -- Bookker side -------------------------------------------------------------------
    def api_create(self) -> None:
        start, end = self.slot()
        body = {"spaceId": self.rng.choice(list(self.rooms)), "userId": self.rng.choice(list(self.users)),
                "start": start.isoformat(), "end": end.isoformat(), "subject": "api"}  # fmt: skip
        key = uuid.uuid4().hex
        for _ in range(3):  # a client retrying with the same idempotency key
            r = self._api(
                "POST", f"tenants/{self.tenant.id}/bookings", body, {"Idempotency-Key": key}
            )
            self.log.add(f"api create {r.status_code}")
            if r.status_code not in (502, 503, 500):
                return

    def _bookings(self, **params: str) -> list[dict[str, Any]]:
        r = self._api("GET", f"tenants/{self.tenant.id}/bookings", params=params)
        return list(r.json()["value"]) if r.status_code == 200 else []

    def api_update(self) -> None:
        mine = [b for b in self._bookings(status="confirmed") if b["source"] == "bookker"]
        if not mine:
            return
        b = self.rng.choice(mine)
        start, end = self.slot()
        r = self._api(
            "PATCH",
            f"tenants/{self.tenant.id}/bookings/{b['id']}",
            {"start": start.isoformat(), "end": end.isoformat()},
        )
        self.log.add(f"api update {r.status_code}")

    def api_delete(self) -> None:
        confirmed = self._bookings(status="confirmed")
        if confirmed:
            b = self.rng.choice(confirmed)
            r = self._api("DELETE", f"tenants/{self.tenant.id}/bookings/{b['id']}")
            self.log.add(f"api delete {r.status_code}")

    def api_release(self) -> None:
        confirmed = self._bookings(status="confirmed")
        if confirmed:
            b = self.rng.choice(confirmed)
            r = self._api(
                "POST",
                f"tenants/{self.tenant.id}/bookings/{b['id']}/release",
                {"reason": "Released by chaos"},
            )
            self.log.add(f"api release {r.status_code}")

    def _api(
        self, method: str, path: str, json: Any = None, headers: Any = None, params: Any = None
    ) -> httpx.Response:
        for _ in range(20):  # the host may be restarting
            try:
                return self.stack.api(method, path, json, headers=headers, params=params)
            except httpx.TransportError:
                time.sleep(0.25)
        raise RuntimeError("the Functions host did not come back")

    # -- Outlook side -------------------------------------------------------------------
    def organizer(self) -> str:
        if self.rng.random() < 0.08:
            return self.outsider  # not a Bookker user: must be declined
        return self.users[self.rng.choice(list(self.users))]

    def outlook_create(self) -> None:
        start, end = self.slot()
        room = self.rooms[self.rng.choice(list(self.rooms))]
        self._graph(lambda: self.outlook.book_room(self.organizer(), room, start, end, "outlook"))
        self.log.add("outlook create")

    def outlook_series(self) -> None:
        start, end = self.slot()
        room = self.rooms[self.rng.choice(list(self.rooms))]
        recurrence = {
            "pattern": {"type": "weekly", "interval": 1,
                        "daysOfWeek": [start.strftime("%A").lower()]},
            "range": {"type": "numbered", "startDate": start.date().isoformat(),
                      "numberOfOccurrences": 3},
        }  # fmt: skip
        self._graph(lambda: self.outlook.book_room(
            self.organizer(), room, start, end, "series", recurrence=recurrence))  # fmt: skip
        self.log.add("outlook series")

    def _organizer_events(self) -> list[tuple[str, dict[str, Any]]]:
        mailbox = self.users[self.rng.choice(list(self.users))]
        events = self._graph(lambda: self.outlook.events(mailbox)) or []
        return [(mailbox, e) for e in events if e.get("type") in ("singleInstance", None)
                and e.get("attendees")]  # fmt: skip

    def outlook_move(self) -> None:
        events = self._organizer_events()
        if events:
            mailbox, event = self.rng.choice(events)
            start, end = self.slot()
            self._graph(lambda: self.outlook.move(mailbox, event["id"], start, end))
            self.log.add("outlook move")

    def outlook_cancel(self) -> None:
        events = self._organizer_events()
        if events:
            mailbox, event = self.rng.choice(events)
            self._graph(lambda: self.outlook.cancel(mailbox, event["id"]))
            self.log.add("outlook cancel")

    def _graph(self, call: Any) -> Any:
        """Outlook retries throttled / failed calls too."""
        for _ in range(30):
            try:
                return call()
            except AssertionError as exc:
                if " 429," in str(exc) or " 503," in str(exc) or " 500," in str(exc):
                    time.sleep(0.05)
                    continue
                if " 404," in str(exc) or " 400," in str(exc):
                    return None  # e.g. moved/cancelled concurrently
                raise
        return None

    # -- lifecycle and delivery --------------------------------------------------------
    def lifecycle_event(self) -> None:
        records = self._subscription_ids()
        if not records:
            return
        sub_id = self.rng.choice(records)
        event = self.rng.choice(("missed", "subscriptionRemoved", "reauthorizationRequired"))
        r = self.stack.emulator.http.post(
            f"/_emulator/subscriptions/{sub_id}/lifecycle", json={"lifecycleEvent": event}
        )
        self.log.add(f"lifecycle {event} {r.status_code}")

    def _subscription_ids(self) -> list[str]:
        r = self.outlook.call("GET", "subscriptions", ok=False)
        return [s["id"] for s in (r or {}).get("value", [])]

    def _flush(self) -> None:
        try:
            self.stack.emulator.control("POST", "notifications/flush")
        except httpx.HTTPError:
            pass

    def settle(self, done: Any = None, timeout: float = 120.0) -> None:
        """Deliver notifications until the app's Graph traffic is quiet (and ``done``)."""
        deadline = time.monotonic() + timeout
        last, quiet_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            self._flush()
            try:  # Graph's count, not one instance's: several may be working
                requests = int(self.stack.emulator.stats()["graphRequests"])
            except (httpx.HTTPError, KeyError, ValueError):
                requests = -2
            if requests != last:
                last, quiet_since = requests, time.monotonic()
            elif time.monotonic() - quiet_since > 3.0 and (done is None or done()):
                return
            time.sleep(0.3)
        raise TimeoutError("the stack did not settle")

    def reconcile_pass(self) -> None:
        # An operator's forced reconcile: the run-now message on queue lifecycle.
        out = self.stack.run_function("process_lifecycle", {"kind": "reconcileAll", "force": True})
        assert out["status"] == "Succeeded", out


def _next_monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7)
