"""A seeded chaos scenario: operations from both sides against a faulty Graph.

Bookker API (create / update / delete / release) and Outlook (create, recurring
create, move, cancel; valid, rule-breaking and conflicting; some 300+ days ahead)
interleave while the emulator drops, duplicates, delays and reorders notifications,
throttles and fails (sometimes after applying a write), and lifecycle events are
injected. The timers run on their schedules while the virtual clock moves over days
(subscriptions expire and are renewed, delta windows roll). The Functions host is
SIGKILLed between operations, while an API request is in flight and while a sync
page is in flight; storage is stopped and hung. The oracle (oracle.py) then checks
the end state.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from bookker_sync.domain.creation_intent import INTENT_SECONDS
from bookker_sync.sync.outbound.bookings import booking_id_for
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
    "appliedThenFailRate": 0.03,
    "retryAfterSeconds": 0,
}
# The app under chaos: timers on their schedules (on the virtual clock), short leases.
ENV = {
    "FUNCTIONS_HOST_QUEUE_LEASE_SECONDS": "5",
    "SYNC_LEASE_SECONDS": "15",
    "AzureWebJobs.renew_subscriptions.Disabled": "false",
    "AzureWebJobs.reconcile_all.Disabled": "false",
}
ROOM_POLICY = {"bookingWindowInDays": 400}  # rooms take bookings 300+ days ahead


@dataclass
class ChaosConfig:
    seed: int
    operations: int = 200
    rooms: int = 5
    users: int = 4
    kill_at: float = 0.5  # fraction of operations after which the host is killed
    days: float = 8.0  # virtual time the run spans: past a subscription's lifetime
    # kills while an API request or a sync page is in flight, storage stopped and hung
    # (needs a stack with persistent storage and one host)
    crash_faults: bool = True
    far_ahead: float = 0.05  # share of slots 300-360 days ahead


@dataclass
class Log:
    counts: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # where the run's time went

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1

    def timed(self, what: str, began: float) -> None:
        self.seconds[what] = self.seconds.get(what, 0.0) + time.monotonic() - began


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
        self.now = stack.emulator.clock_now()
        # Bookker creations: acknowledged (201/200) and failed (5xx, never acknowledged)
        self.acked: set[str] = set()
        self.failed: dict[str, tuple[str, datetime, datetime]] = {}  # → organizer, times

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
            room = t.add_space(f"r{i}", rules=rules, policy=ROOM_POLICY)
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
        n_ops = self.config.operations
        specials = {int(n_ops * self.config.kill_at): self.kill_between_operations}
        if self.config.crash_faults:
            specials |= {
                int(n_ops * 0.2): self.kill_during_api_request,
                int(n_ops * 0.3): self.kill_during_sync_page,
                int(n_ops * 0.4): self.storage_stopped,
                int(n_ops * 0.6): self.storage_hung,
                int(n_ops * 0.7): self.kill_during_api_request,
                int(n_ops * 0.8): self.kill_during_sync_page,
            }
        steps = 40  # the virtual days are crossed in this many jumps
        every = max(1, n_ops // steps)
        jump = self.config.days * 86400 / steps
        for n in range(n_ops):
            if n in specials:
                began = time.monotonic()
                specials[n]()
                self.log.timed(specials[n].__name__, began)
            self.one_operation()
            began = time.monotonic()
            if n % 10 == 9:
                self.advance(self.rng.uniform(0, 15))
                self._flush()
            if n % 40 == 20:
                self.lifecycle_event()
            if jump and n % every == every - 1:
                self.advance(jump)  # the timers fire: renewals, reconcile passes
            self.log.timed("clock, delivery, lifecycle", began)
        self.stack.emulator.set_faults(seed=self.config.seed)  # faults off
        # every delayed notification is due; every unfinished creation past its deadline
        self.advance(INTENT_SECONDS + 60 if self.config.crash_faults else 30)

    def advance(self, seconds: float) -> None:
        self.now = self.stack.emulator.clock_advance(seconds)

    # -- process and storage faults -------------------------------------------------------
    def kill_between_operations(self) -> None:
        self.stack.kill_host()
        self.log.add("host killed")
        self.stack.restart_host()

    def kill_during_api_request(self) -> None:
        """The host dies while a booking's Outlook write is in flight (Graph applied it);
        the client sees the connection drop and retries with the same key."""
        self.stack.emulator.control("POST", "faults/next", {
            "route": "POST /users/{id}/events", "answer": "timeout", "timeoutSeconds": 3,
        })  # fmt: skip
        key, body = self._create_body()
        client = threading.Thread(target=self._try_api_create, args=(key, body))
        client.start()
        time.sleep(1.0)
        self.stack.kill_host()
        self.log.add("host killed during an API request")
        self.stack.restart_host()
        client.join()
        self.stack.emulator.control("DELETE", "faults/next")
        self._create(key, body)

    def kill_during_sync_page(self) -> None:
        """The host dies while a room's delta page is in flight."""
        self.stack.emulator.control("POST", "faults/next", {
            "route": "GET /users/{id}/calendarView/delta", "answer": "timeout",
            "timeoutSeconds": 3,
        })  # fmt: skip
        self.outlook_create()
        self._flush()  # the webhook pokes the room; its sync asks for a delta page
        time.sleep(1.5)
        self.stack.kill_host()
        self.log.add("host killed during a sync")
        self.stack.restart_host()
        self.stack.emulator.control("DELETE", "faults/next")

    def storage_stopped(self) -> None:
        self.stack.stop_storage()
        try:
            self.api_create()  # 503: nothing may be left behind
            self.outlook_create()  # its notification is refused (503): Graph retries
            self._flush()
        finally:
            self.stack.start_storage()
        self.log.add("storage stopped")

    def storage_hung(self) -> None:
        key, body = self._create_body()
        self.stack.hang_storage()
        try:
            client = threading.Thread(target=self._create, args=(key, body))
            client.start()
            self.outlook_create()
            self._flush()  # the webhook must answer 503 within 3 s
            time.sleep(2.0)
        finally:
            self.stack.resume_storage()
        client.join()
        self.log.add("storage hung")

    def one_operation(self) -> None:
        ops = (
            (self.api_create, 30), (self.api_update, 10), (self.api_delete, 8),
            (self.api_release, 5), (self.outlook_create, 25), (self.outlook_series, 4),
            (self.outlook_move, 11), (self.outlook_cancel, 7),
        )  # fmt: skip
        op = self.rng.choices([o for o, _ in ops], weights=[w for _, w in ops])[0]
        began = time.monotonic()
        op()
        self.log.timed(op.__name__, began)

    def slot(self) -> tuple[datetime, datetime]:
        today = self.now.replace(hour=0, minute=0, second=0, microsecond=0)
        ahead = (self.rng.randrange(300, 360) if self.rng.random() < self.config.far_ahead
                 else self.rng.randrange(1, 15))  # fmt: skip
        day = today + timedelta(days=ahead)
        start = day + timedelta(hours=self.rng.randrange(7, 19), minutes=self.rng.choice((0, 30)))
        minutes = self.rng.choice((30, 60, 60, 90, 180))
        return start, start + timedelta(minutes=minutes)

    # -- Bookker side -------------------------------------------------------------------
    def api_create(self) -> None:
        key, body = self._create_body()
        self._create(key, body)

    def _create_body(self) -> tuple[str, dict[str, Any]]:
        start, end = self.slot()
        body = {"spaceId": self.rng.choice(list(self.rooms)), "userId": self.rng.choice(list(self.users)),
                "start": start.isoformat(), "end": end.isoformat(), "subject": "api"}  # fmt: skip
        return uuid.uuid4().hex, body

    def _create(self, key: str, body: dict[str, Any]) -> None:
        booking_id = booking_id_for(self.tenant.id, key)
        for _ in range(3):  # a client retrying with the same idempotency key
            r = self._api(
                "POST", f"tenants/{self.tenant.id}/bookings", body, {"Idempotency-Key": key}
            )
            self.log.add(f"api create {r.status_code}")
            if r.status_code not in (502, 503, 500):
                break
        if r.status_code in (200, 201):
            self.acked.add(booking_id)
            self.failed.pop(booking_id, None)
        elif r.status_code >= 500 and booking_id not in self.acked:
            start, end = (datetime.fromisoformat(body[k]) for k in ("start", "end"))
            self.failed[booking_id] = (self.users[body["userId"]], start, end)

    def _try_api_create(self, key: str, body: dict[str, Any]) -> None:
        try:
            self.stack.api("POST", f"tenants/{self.tenant.id}/bookings", body,
                           headers={"Idempotency-Key": key})  # fmt: skip
        except httpx.HTTPError:
            pass  # the host died under it

    def _bookings(self, **params: str) -> list[dict[str, Any]]:
        """Bookings still ahead (what a user would pick from)."""
        params = {"from": self.now.isoformat(), **params}
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
