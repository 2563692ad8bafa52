"""The `make run` demo: every capability of Bookker Sync, step by step, against the
running local stack, in under a minute.

Two customer tenants: Fabrikam (unidirectional: Bookker → users' calendars) and
Contoso (bidirectional: room mailboxes, Outlook → Bookker too). "Outlook" actions are
plain Graph calls as the user's Outlook would make them; operator actions use the
emulator's control API (lifecycle events, the virtual clock) and the Functions host's
admin API (running a timer now). Every step waits for its outcome (never a blind sleep)
and prints what happened, with each decline's reason. Ctrl-C stops it at any point.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from emulators.event_receiver import EventReceiver, new_secret
from emulators.processes import REPO

# The stack hands the demo the app's settings, so its ports and state dir are followed.
API = os.environ.get("WEBHOOK_BASE_URL", "http://localhost:7071/api")
GRAPH = os.environ.get("GRAPH_AUTHORITY", "https://localhost:7072")
CA = os.environ.get("GRAPH_CA_BUNDLE", str(REPO / ".local" / "emulator-ca.pem"))
CLIENT_ID = os.environ.get("GRAPH_CLIENT_ID", "bookker-sync-local")
SECRET = os.environ.get("GRAPH_CLIENT_SECRET", "bookker-sync-local-secret")
WAIT_SECONDS = float(os.environ.get("DEMO_WAIT_SECONDS", "30"))
console = Console(width=max(Console().width, 110))
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


class DemoError(Exception):
    """A step did not reach its outcome: the demo stops with this message."""


def _utc(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _hhmm(value: str) -> str:
    return value[:16].replace("T", " ")


class Demo:
    def __init__(self) -> None:
        self.api = httpx.Client(base_url=API, timeout=60)
        self.admin = httpx.Client(base_url=API.removesuffix("/api"), timeout=120)
        self.graph = httpx.Client(base_url=GRAPH, verify=CA, timeout=60)
        # Stable ids: running the demo again against the same stack reuses the directory.
        self.contoso_graph = str(uuid.uuid5(uuid.NAMESPACE_DNS, "contoso.example"))
        self.fabrikam_graph = str(uuid.uuid5(uuid.NAMESPACE_DNS, "fabrikam.example"))
        self.tenant = "contoso"
        self.alice, self.bob = "alice@contoso.example", "bob@contoso.example"
        self.mar, self.sol = "sala.mar@contoso.example", "sala.sol@contoso.example"
        self.carol = "carol@fabrikam.example"
        self.northwind_graph = str(uuid.uuid5(uuid.NAMESPACE_DNS, "northwind.example"))
        self.norte = "sala.norte@northwind.example"
        # Bookker's webhook, in this process; a fresh signing secret each run.
        self.receiver = EventReceiver("/bookker/events")
        self.push_secret = new_secret()
        self.feed_mark = ""  # the feed's cursor when the push was set up
        self._tokens: dict[str, str] = {}
        self.number = 0

    # -- printing ------------------------------------------------------------------------
    def step(self, text: str) -> None:
        self.number += 1
        console.rule(f"[bold cyan]Step {self.number}. {text}")

    def ok(self, text: str) -> None:
        console.print(f"  [green]✔[/green] {text}")

    def no(self, text: str) -> None:
        console.print(f"  [red]✘[/red] {text}")

    def show_calendar(self, title: str, mailbox: str, graph_tenant: str) -> None:
        table = Table(title=title, title_justify="left")
        for col in ("subject", "start (UTC)", "end (UTC)", "location", "room response"):
            table.add_column(col)
        for e in self.calendar(mailbox, graph_tenant):
            rooms = [a for a in e.get("attendees", []) if a.get("type") == "resource"]
            table.add_row(
                e.get("subject", ""),
                _hhmm(e["start"]["dateTime"]),
                _hhmm(e["end"]["dateTime"]),
                e.get("location", {}).get("displayName", ""),
                rooms[0]["status"]["response"] if rooms else "(no room)",
            )
        console.print(table)

    def show_bookings(self, tenant: str | None = None) -> None:
        table = Table(title=f"Bookker bookings of {tenant or self.tenant}", title_justify="left")
        for col in ("space", "user", "start (UTC)", "end", "status", "source", "reason"):
            table.add_column(col)
        for b in self.bookings(tenant):
            table.add_row(
                b["spaceId"],
                b["userId"],
                _hhmm(b["start"]),
                b["end"][11:16],
                b["status"],
                b["source"],
                b.get("statusReason") or "",
            )
        console.print(table)

    # -- the outside world -----------------------------------------------------------------
    def token(self, graph_tenant: str) -> str:
        if graph_tenant not in self._tokens:
            r = self.graph.post(
                f"/{graph_tenant}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "scope": "https://graph.microsoft.com/.default",
                },
            )
            r.raise_for_status()
            self._tokens[graph_tenant] = str(r.json()["access_token"])
        return self._tokens[graph_tenant]

    def outlook(self, method: str, path: str, json: Any = None, graph: str = "") -> Any:
        """A Graph call as Outlook (or an admin tool) would make it."""
        tenant = graph or self.contoso_graph
        r = self.graph.request(
            method,
            f"/v1.0/{path}",
            json=json,
            headers={"Authorization": f"Bearer {self.token(tenant)}"},
        )
        if r.status_code >= 400:
            raise DemoError(f"Graph {method} {path} → {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}

    def control(self, method: str, path: str, body: Any = None) -> Any:
        r = self.graph.request(method, f"/_emulator/{path}", json=body)
        if r.status_code >= 400:
            raise DemoError(f"emulator {method} {path} → {r.status_code} {r.text[:300]}")
        return r.json() if r.content else {}

    def now(self) -> datetime:
        """The virtual clock the whole stack follows (the app's clock too)."""
        return datetime.fromisoformat(self.control("GET", "clock")["now"])

    def calendar(self, mailbox: str, graph_tenant: str = "") -> list[dict[str, Any]]:
        found = self.outlook("GET", f"users/{mailbox}/events?$top=50", graph=graph_tenant)
        return [e for e in found["value"] if not e.get("isCancelled")]

    def bookings(self, tenant: str | None = None, **match: str) -> list[dict[str, Any]]:
        found = self.api.get(f"/tenants/{tenant or self.tenant}/bookings").json()["value"]
        return [b for b in found if all(b.get(k) == v for k, v in match.items())]

    def put(self, path: str, body: dict[str, Any]) -> None:
        r = self.api.put(path, json=body)
        if r.status_code not in (200, 201):
            raise DemoError(f"PUT {path} → {r.status_code} {r.text}")

    def feed(self, after: str = "") -> tuple[list[dict[str, Any]], str]:
        """The tenant's events after ``after`` (all of them when empty), and the cursor
        to read on from, paging through the feed as a client would."""
        events: list[dict[str, Any]] = []
        cursor = after
        while True:
            params: dict[str, Any] = {"limit": 100, **({"after": cursor} if cursor else {})}
            r = self.api.get(f"/tenants/{self.tenant}/events", params=params)
            if r.status_code != 200:
                raise DemoError(f"GET events → {r.status_code} {r.text[:300]}")
            page = r.json()
            events.extend(page["value"])
            cursor = str(page["cursor"])
            if not page["value"]:
                return events, cursor

    def subscriptions(self, graph: str = "") -> dict[str, dict[str, Any]]:
        """The app's Graph subscriptions for a directory's rooms (Contoso's by default),
        by room."""
        found = self.outlook("GET", "subscriptions", graph=graph)["value"]
        by_room = {}
        for sub in found:  # resource: /users/{room}/events
            parts = [p for p in str(sub["resource"]).split("/") if p]
            if len(parts) == 3 and parts[0].lower() == "users" and parts[2] == "events":
                by_room[parts[1].lower()] = sub
        return by_room

    def wait(self, what: str, check: Callable[[], Any], timeout: float = WAIT_SECONDS) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = check()
            if value:
                return value
            if time.monotonic() > deadline:
                raise DemoError(f"timed out after {timeout:.0f}s waiting for {what}")
            time.sleep(0.2)

    def status(self) -> list[dict[str, Any]]:
        """Contoso's rooms as the operator CLI reports them (`status --json`)."""
        out = subprocess.run(
            [sys.executable, "-m", "bookker_sync", "status", self.tenant, "--json"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        if out.returncode != 0:
            raise DemoError(f"bookker_sync status failed: {out.stderr.strip()}")
        rooms: list[dict[str, Any]] = json.loads(out.stdout)["tenants"][0]["rooms"]
        return rooms

    def declines(self) -> list[dict[str, Any]]:
        """Contoso's recent declines and reverts."""
        return [d for room in self.status() for d in room["recentDeclines"]]

    def reason_for(self, kind: str, start: datetime) -> dict[str, Any]:
        """The recorded decline (or revert) of the meeting asked for at ``start``."""
        wanted = start.isoformat()[:16]

        def found() -> dict[str, Any] | None:
            return next(
                (
                    d
                    for d in self.declines()
                    if d["kind"] == kind and (d["start"] or "")[:16] == wanted
                ),
                None,
            )

        return dict(self.wait(f"the {kind} of the meeting at {wanted}", found))

    def day(self, weekday: int, hour: int, weeks: int = 1) -> datetime:
        """A time ``weeks`` ahead of the virtual now on ``weekday`` (0 = Monday), UTC."""
        base = self.now().replace(hour=hour, minute=0, second=0, microsecond=0)
        base += timedelta(days=7 * weeks)
        return base + timedelta(days=(weekday - base.weekday()) % 7)

    # -- the story -------------------------------------------------------------------------
    def health(self) -> None:
        self.step("The stack is up: GET /api/health")
        report = self.api.get("/health").json()
        self.ok(
            f"status {report['status']}; storage reachable; the app follows the virtual "
            f"clock ({self.now():%Y-%m-%d %H:%M} UTC)"
        )

    def seed(self) -> None:
        self.step("Two customers: Fabrikam (unidirectional) and Contoso (bidirectional)")
        for graph, address, name, kind in (
            (self.fabrikam_graph, self.carol, "Carol", "user"),
            (self.contoso_graph, self.alice, "Alice", "user"),
            (self.contoso_graph, self.bob, "Bob", "user"),
            (self.contoso_graph, self.mar, "Sala Mar", "room"),
            (self.contoso_graph, self.sol, "Sala Sol", "room"),
        ):
            if not any(graph == t["tenantId"] for t in self.control("GET", "tenants")["value"]):
                self.control(
                    "POST",
                    "tenants",
                    {"tenantId": graph, "clientId": CLIENT_ID, "clientSecret": SECRET},
                )
            self.control(
                "POST",
                "mailboxes",
                {"tenantId": graph, "address": address, "displayName": name, "kind": kind},
            )
        madrid = {
            "timeZone": "Europe/Madrid",
            "minMinutes": 15,
            "maxMinutes": 240,
            "openingHours": {d: [{"start": "08:00", "end": "20:00"}] for d in WEEKDAYS},
        }
        self.put(
            "/tenants/fabrikam",
            {
                "graphTenantId": self.fabrikam_graph,
                "mode": "unidirectional",
                "displayName": "Fabrikam",
            },
        )
        self.put("/tenants/fabrikam/spaces/desk-7", {"name": "Desk 7", "rules": madrid})
        self.put("/tenants/fabrikam/users/carol", {"email": self.carol})
        self.put(
            f"/tenants/{self.tenant}",
            {
                "graphTenantId": self.contoso_graph,
                "mode": "bidirectional",
                "displayName": "Contoso",
            },
        )
        self.put(
            f"/tenants/{self.tenant}/spaces/sala-mar",
            {"name": "Sala Mar", "resourceEmail": self.mar, "capacity": 8, "rules": madrid},
        )
        self.put(
            f"/tenants/{self.tenant}/spaces/sala-sol",
            {
                "name": "Sala Sol",
                "resourceEmail": self.sol,
                "capacity": 4,
                "rules": {**madrid, "allowedGroups": ["finance"]},
            },
        )
        self.put(
            f"/tenants/{self.tenant}/users/alice", {"email": self.alice, "groups": ["finance"]}
        )
        self.put(f"/tenants/{self.tenant}/users/bob", {"email": self.bob, "groups": ["sales"]})
        self.ok("Fabrikam: Desk 7 (no room mailbox), Carol")
        self.ok(
            "Contoso: Sala Mar, Sala Sol (finance only), both open 08:00-20:00 Madrid on "
            "weekdays, at most 4 h; Alice (finance), Bob (sales)"
        )

    def unidirectional(self) -> None:
        self.step("Unidirectional: Carol books Desk 7 in Bookker → an event in her calendar")
        start = self.day(1, 9)
        r = self.api.post(
            "/tenants/fabrikam/bookings",
            json={
                "spaceId": "desk-7",
                "userId": "carol",
                "subject": "Focus time",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            },
        )
        if r.status_code != 201:
            raise DemoError(f"booking failed {r.status_code} {r.text}")
        self.ok(
            "201 Created: written to Carol's Outlook calendar, located at Desk 7; no room "
            "mailbox, no subscription, Bookker's ledger arbitrates"
        )
        self.show_calendar("Carol's Outlook calendar", self.carol, self.fabrikam_graph)

    def bookker_booking(self) -> str:
        self.step("Bidirectional: Alice books Sala Mar in Bookker → Outlook, the room accepts")
        start = self.day(1, 8)
        r = self.api.post(
            f"/tenants/{self.tenant}/bookings",
            json={
                "spaceId": "sala-mar",
                "userId": "alice",
                "subject": "Quarterly planning",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=1)).isoformat(),
            },
        )
        if r.status_code != 201:
            raise DemoError(f"booking failed {r.status_code} {r.text}")
        self.ok("201 Created, only once Outlook had accepted the event")
        self.show_calendar("Sala Mar's room calendar", self.mar, self.contoso_graph)
        return str(r.json()["id"])

    def rule_violation(self) -> None:
        self.step("Bob asks Bookker for Sala Sol at night, for 5 hours: refused, with reasons")
        start = self.day(2, 21)
        r = self.api.post(
            f"/tenants/{self.tenant}/bookings",
            json={
                "spaceId": "sala-sol",
                "userId": "bob",
                "start": start.isoformat(),
                "end": (start + timedelta(hours=5)).isoformat(),
            },
        )
        console.print(f"  HTTP {r.status_code} {r.json()['error']['code']}")
        for e in r.json().get("errors", []):
            self.no(f"{e['rule']}: {e['message']}")

    def release(self, booking_id: str) -> None:
        self.step("Nobody checked in: Bookker releases Alice's booking (a system action)")
        reason = "Released: nobody checked in within 15 minutes"
        r = self.api.post(
            f"/tenants/{self.tenant}/bookings/{booking_id}/release", json={"reason": reason}
        )
        self.ok(f"{r.status_code}: the booking is {r.json()['status']}")
        self.wait("Sala Mar to decline its copy", lambda: self.calendar(self.mar) == [])
        self.no(f"Sala Mar declined it, telling Alice: “{reason}”")

    def wait_subscribed(self) -> None:
        self.step("Bookker subscribes to each room's calendar (Graph change notifications)")
        self.wait("both rooms' subscriptions", lambda: len(self.subscriptions()) == 2)
        for room, sub in sorted(self.subscriptions().items()):
            self.ok(
                f"{room}: subscription {sub['id'][:8]}…, expires {_hhmm(sub['expirationDateTime'])}"
            )

    def outlook_create(self) -> dict[str, Any]:
        self.step("Outlook: Bob books Sala Mar → notified, synced by delta, checked, accepted")
        start = self.day(2, 9)
        event = self.outlook(
            "POST",
            f"users/{self.bob}/events",
            {
                "subject": "Customer call",
                "start": _utc(start),
                "end": _utc(start + timedelta(hours=1)),
                "location": {"displayName": "Sala Mar"},
                "attendees": [{"emailAddress": {"address": self.mar}, "type": "resource"}],
            },
        )
        self.wait(
            "Bob's booking in Bookker",
            lambda: self.bookings(source="outlook", userId="bob", status="confirmed"),
        )
        self.ok("a Bookker booking now holds Sala Mar for Bob")
        return dict(event)

    def outlook_moves(self, event: dict[str, Any]) -> None:
        self.step("Outlook: Bob moves it to 12:00 UTC → allowed: the booking moves too")
        moved = self.day(2, 12)
        self.outlook(
            "PATCH",
            f"users/{self.bob}/events/{event['id']}",
            {"start": _utc(moved), "end": _utc(moved + timedelta(hours=1))},
        )
        self.wait(
            "the booking to move",
            lambda: [
                b
                for b in self.bookings(source="outlook", userId="bob", status="confirmed")
                if b["start"][:16] == moved.isoformat()[:16]
            ],
        )
        self.ok(f"Bookker's booking now starts {moved:%a %H:%M} UTC")
        self.step("Outlook: Bob moves it to 21:00 UTC → closed then: moved back, with the reason")
        late = self.day(2, 21)
        self.outlook(
            "PATCH",
            f"users/{self.bob}/events/{event['id']}",
            {"start": _utc(late), "end": _utc(late + timedelta(hours=1))},
        )
        revert = self.reason_for("revert", late)

        def back() -> bool:
            now = self.outlook("GET", f"users/{self.bob}/events/{event['id']}")
            return str(now["start"]["dateTime"])[:16] == moved.isoformat()[:16]

        self.wait("Bob's event to be back at 12:00", back)
        self.no(f"moved back to {moved:%H:%M} UTC: {revert['reason']}")

    def outlook_refused(self) -> None:
        self.step("Outlook: Bob books Sala Sol (finance only) → the room declines, with why")
        start = self.day(3, 10)
        self.outlook(
            "POST",
            f"users/{self.bob}/events",
            {
                "subject": "Team lunch",
                "start": _utc(start),
                "end": _utc(start + timedelta(hours=1)),
                "attendees": [{"emailAddress": {"address": self.sol}, "type": "resource"}],
            },
        )
        decline = self.reason_for("decline", start)
        self.no(f"Sala Sol declined {decline['organizer']}'s meeting: {decline['reason']}")

    def outlook_series(self) -> None:
        self.step("Outlook: Alice books Sala Mar daily, Friday to Monday → judged per occurrence")
        friday = self.day(4, 9)
        self.outlook(
            "POST",
            f"users/{self.alice}/events",
            {
                "subject": "Stand-up",
                "start": _utc(friday),
                "end": _utc(friday + timedelta(hours=1)),
                "attendees": [{"emailAddress": {"address": self.mar}, "type": "resource"}],
                "recurrence": {
                    "pattern": {"type": "daily", "interval": 1},
                    "range": {
                        "type": "numbered",
                        "startDate": f"{friday:%Y-%m-%d}",
                        "numberOfOccurrences": 4,
                    },
                },
            },
        )
        accepted = self.wait(
            "the weekday occurrences in Bookker",
            lambda: (
                found
                if len(found := self.bookings(source="outlook", userId="alice", status="confirmed"))
                == 2
                else None
            ),
        )
        for b in sorted(accepted, key=lambda b: b["start"]):
            self.ok(
                f"{datetime.fromisoformat(b['start']):%a %d %b}: accepted (seriesId "
                f"{(b.get('seriesId') or '-')[:8]}…)"
            )
        for weekend in (friday + timedelta(days=1), friday + timedelta(days=2)):
            decline = self.reason_for("decline", weekend)
            self.no(f"{weekend:%a %d %b}: declined: {decline['reason']}")

    def outlook_cancel(self) -> None:
        self.step("Outlook: Bob cancels his meeting → cancelled in Bookker")
        [event] = [e for e in self.calendar(self.bob) if e["subject"] == "Customer call"]
        self.outlook("POST", f"users/{self.bob}/events/{event['id']}/cancel", {"comment": "sorry"})
        self.wait(
            "the cancellation",
            lambda: self.bookings(source="outlook", userId="bob", status="cancelled"),
        )
        self.ok("Bob's booking is cancelled; Sala Mar is free again")
        self.show_bookings()

    def lifecycle_events(self) -> None:
        self.step("Graph lifecycle: notifications missed → Graph says `missed` → resync")
        self.control("PUT", "faults", {"notificationDropRate": 1.0})
        start = self.day(3, 15)
        self.outlook(
            "POST",
            f"users/{self.alice}/events",
            {
                "subject": "Budget review",
                "start": _utc(start),
                "end": _utc(start + timedelta(hours=1)),
                "attendees": [{"emailAddress": {"address": self.mar}, "type": "resource"}],
            },
        )
        self.control("PUT", "faults", {})
        before = len(self.bookings(source="outlook", userId="alice"))
        self.ok(
            "Alice booked Sala Mar in Outlook; the notification was lost: Bookker doesn't know yet"
        )
        sub = self.subscriptions()[self.mar]
        self.control("POST", f"subscriptions/{sub['id']}/lifecycle", {"lifecycleEvent": "missed"})
        self.wait(
            "the resync to find it",
            lambda: len(self.bookings(source="outlook", userId="alice")) > before,
        )
        self.ok("`missed` → a delta resync of Sala Mar found the booking")
        self.step("Graph lifecycle: `subscriptionRemoved` → the subscription is recreated")
        old = self.subscriptions()[self.sol]["id"]
        self.control(
            "POST", f"subscriptions/{old}/lifecycle", {"lifecycleEvent": "subscriptionRemoved"}
        )
        new = self.wait(
            "a new subscription for Sala Sol",
            lambda: (
                s["id"] if (s := self.subscriptions().get(self.sol)) and s["id"] != old else None
            ),
        )
        self.ok(
            f"Sala Sol: subscription {old[:8]}… removed by Graph, {new[:8]}… created, "
            "then a full resync"
        )

    def renewal(self) -> None:
        self.step(
            "Six days later (virtual clock): the renewal timer renews every subscription, "
            "the reconcile timer syncs every room"
        )
        before = {room: s["expirationDateTime"] for room, s in self.subscriptions().items()}
        now = datetime.fromisoformat(
            self.control("POST", "clock", {"advanceSeconds": 6 * 86400})["now"]
        )
        self.ok(f"clock moved to {now:%Y-%m-%d %H:%M} UTC; subscriptions expire within a day")
        self.run_timer("renew_subscriptions")

        def renewed() -> dict[str, str] | None:
            after = {room: s["expirationDateTime"] for room, s in self.subscriptions().items()}
            late = now + timedelta(days=5)
            fresh = all(
                datetime.fromisoformat(v.replace("Z", "+00:00")) > late for v in after.values()
            )
            return after if fresh and len(after) == 2 else None

        after = self.wait("every subscription renewed", renewed)
        for room in sorted(after):
            self.ok(f"{room}: expiry {_hhmm(before.get(room, '?'))} → {_hhmm(after[room])}")
        # Nothing changed for six days: the reconcile timer syncs each room anyway
        # (each was last synced more than an interval ago; no "force" needed).
        self.run_timer("reconcile_all")
        self.wait("every room back in sync", self.all_in_sync, timeout=WAIT_SECONDS)
        self.ok("the reconcile timer synced every room: all in sync")

    def events_push(self) -> None:
        self.step("Contoso's events go to Bookker: a signed push (Standard Webhooks) and a feed")
        _, self.feed_mark = self.feed()
        self.put(
            f"/tenants/{self.tenant}",
            {
                "graphTenantId": self.contoso_graph,
                "mode": "bidirectional",
                "displayName": "Contoso",
                "events": {"url": self.receiver.url, "secret": self.push_secret},
            },
        )
        self.ok(
            f"push: POST {self.receiver.url} (Bookker's webhook, played by this demo), "
            "signed with a whsec_ secret the app stores and never shows back"
        )
        self.ok(f"pull: GET {API}/tenants/{self.tenant}/events?after=<cursor> (CloudEvents)")

    def events_received(self) -> None:
        self.step("Bookker got every event above: pulled from the feed, pushed and verified")
        pulled, _ = self.feed(self.feed_mark)
        wanted = {e["id"] for e in pulled}

        def all_pushed() -> list[dict[str, Any]] | None:
            got = self.receiver.verified(self.push_secret)  # raises on a bad signature
            return got if wanted <= {e["id"] for e in got} else None

        pushed = self.wait(f"{len(wanted)} events pushed", all_pushed)
        counts: dict[str, int] = {}
        for event in pulled:
            kind = str(event["type"]).removeprefix("com.bookker.sync.")
            counts[kind] = counts.get(kind, 0) + 1
        table = Table(title="Contoso's events since the push was set up", title_justify="left")
        table.add_column("type")
        table.add_column("count", justify="right")
        for kind, n in sorted(counts.items()):
            table.add_row(kind, str(n))
        console.print(table)
        self.ok(
            f"{len(pulled)} in the feed, the same {len(wanted)} pushed in order; every "
            f"signature checked with the standardwebhooks library ({len(pushed)} posts)"
        )
        self.put(
            f"/tenants/{self.tenant}",
            {"graphTenantId": self.contoso_graph, "mode": "bidirectional", "events": None},
        )
        self.ok("push switched off again (events: null); the feed keeps the history")

    def consent_onboarding(self) -> None:
        self.step("A new customer, Northwind, joins by admin consent: no directory id typed in")
        if not any(
            self.northwind_graph == t["tenantId"] for t in self.control("GET", "tenants")["value"]
        ):
            # Northwind's directory exists; our app is not in it until its admin consents.
            self.control(
                "POST",
                "tenants",
                {
                    "tenantId": self.northwind_graph,
                    "clientId": "northwind-own-app",
                    "clientSecret": "x",
                },
            )
        self.control(
            "POST",
            "mailboxes",
            {
                "tenantId": self.northwind_graph,
                "address": self.norte,
                "displayName": "Sala Norte",
                "kind": "room",
            },
        )
        self.put("/tenants/northwind", {"mode": "bidirectional", "displayName": "Northwind"})
        self.put(
            "/tenants/northwind/spaces/sala-norte",
            {"name": "Sala Norte", "resourceEmail": self.norte},
        )
        r = self.api.get("/tenants/northwind/consent")
        if r.status_code != 302:
            raise DemoError(f"consent link: {r.status_code} {r.text[:300]}")
        link = r.headers["location"]
        self.ok(f"the link for Northwind's admin: {link[:90]}…")
        self.control(
            "POST",
            "consent",
            {"tenantId": self.northwind_graph, "decision": "accept", "default": True},
        )
        answer = self.graph.get(link)  # the admin signs in and approves
        if answer.status_code != 302:
            raise DemoError(f"adminconsent: {answer.status_code} {answer.text[:300]}")
        page = self.api.get(answer.headers["location"])  # Entra sends the browser back
        if page.status_code != 200:
            raise DemoError(f"consent callback: {page.status_code} {page.text[:300]}")
        bound = self.api.get("/tenants/northwind").json()["graphTenantId"]
        self.ok(f"approved → the callback checked our signed state: Northwind is directory {bound}")
        sub = self.wait(
            "Sala Norte's subscription",
            lambda: self.subscriptions(self.northwind_graph).get(self.norte),
        )
        self.ok(f"Sala Norte subscribed ({sub['id'][:8]}…), in Northwind's directory only")

    def room_claims(self) -> None:
        self.step("Tenancy is a boundary: another Bookker tenant can't take Contoso's room")
        self.put(
            "/tenants/contoso-lab",
            {"graphTenantId": self.contoso_graph, "mode": "bidirectional", "displayName": "Lab"},
        )
        r = self.api.put(
            "/tenants/contoso-lab/spaces/mine",
            json={"name": "Mine", "resourceEmail": self.mar.upper()},
        )
        if r.status_code != 409:
            raise DemoError(f"claiming Sala Mar: expected 409, got {r.status_code} {r.text}")
        self.no(f"409 Conflict: {r.json()['error']['message']}")
        self.ok("the answer names the conflict, never the tenant holding the room")

    def offboarding(self) -> None:
        self.step("Northwind leaves: offboarding deletes its subscriptions and every row")
        r = self.api.delete("/tenants/northwind", params={"confirm": "northwind"})
        if r.status_code != 200:
            raise DemoError(f"offboarding: {r.status_code} {r.text[:300]}")
        report = r.json()
        rows = ", ".join(f"{table} {n}" for table, n in report["rowsDeleted"].items() if n)
        self.ok(
            f"Graph subscriptions deleted: {report['subscriptionsDeleted']}; rows erased: {rows}"
        )
        left = self.subscriptions(self.northwind_graph)
        gone = self.api.get("/tenants/northwind").status_code
        if left or gone != 404:
            raise DemoError(f"after offboarding: subscriptions {list(left)}, GET → {gone}")
        self.ok("Graph lists no subscription for Sala Norte; GET /api/tenants/northwind → 404")
        r = self.api.delete("/tenants/contoso-lab", params={"confirm": "contoso-lab"})
        if r.status_code != 200:
            raise DemoError(f"offboarding contoso-lab: {r.status_code} {r.text[:300]}")
        kept = sorted(self.subscriptions())
        if kept != sorted((self.mar, self.sol)):
            raise DemoError(f"offboarding contoso-lab touched Contoso's rooms: {kept}")
        self.ok("contoso-lab offboarded too: Contoso's own subscriptions untouched")

    def run_timer(self, name: str) -> None:
        """Run a timer function now, through the Functions host's admin API (which, like
        the real host's, passes a timer no input)."""
        r = self.admin.post(f"/admin/functions/{name}", params={"wait": "true"}, json={})
        if r.status_code != 200 or r.json().get("status") != "Succeeded":
            raise DemoError(f"{name}: {r.status_code} {r.text[:300]}")

    def all_in_sync(self) -> bool:
        return all(room["state"] == "in sync" for room in self.status())

    def operators(self) -> None:
        self.step("For operators: `python -m bookker_sync status contoso` (and /api/status)")
        code = subprocess.call(
            [sys.executable, "-m", "bookker_sync", "status", self.tenant], cwd=REPO
        )
        if code != 0:
            raise DemoError(f"bookker_sync status exited {code}")
        self.ok(f"the same on the status page: {API}/status (times by the app's clock)")


def main() -> int:
    demo = Demo()
    started = time.monotonic()
    try:
        demo.health()
        demo.seed()
        demo.events_push()
        demo.unidirectional()
        booking = demo.bookker_booking()
        demo.rule_violation()
        demo.release(booking)
        demo.wait_subscribed()
        event = demo.outlook_create()
        demo.outlook_moves(event)
        demo.outlook_refused()
        demo.outlook_series()
        demo.outlook_cancel()
        demo.lifecycle_events()
        demo.renewal()
        demo.events_received()
        demo.consent_onboarding()
        demo.room_claims()
        demo.offboarding()
        demo.operators()
    except (DemoError, httpx.HTTPError) as exc:
        console.print(f"[red]demo: {exc}[/red]")
        return 1
    except KeyboardInterrupt:  # Ctrl-C reaches the whole foreground group: the stack stops
        console.print("\ndemo: interrupted")
        return 130
    finally:
        demo.receiver.stop()
    console.rule(
        f"[bold green]Demo done in {time.monotonic() - started:.0f} s: the stack "
        "keeps running (Ctrl-C to stop)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
