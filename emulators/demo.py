"""The `make run` demo: seeds a demo tenant in a running local stack and shows sync
working end to end, step by step. Talks only to localhost (the Functions host and the
Graph emulator); "Outlook" actions are plain Graph API calls made as the user would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from emulators.processes import REPO

# The stack hands the demo the app's settings, so its ports and state dir are followed.
API = os.environ.get("WEBHOOK_BASE_URL", "http://localhost:7071/api")
GRAPH = os.environ.get("GRAPH_AUTHORITY", "https://localhost:7072")
CA = os.environ.get("GRAPH_CA_BUNDLE", str(REPO / ".local" / "emulator-ca.pem"))
CLIENT_ID, SECRET = "bookker-sync-local", "bookker-sync-local-secret"
console = Console(width=max(Console().width, 110))


class Demo:
    def __init__(self) -> None:
        self.api = httpx.Client(base_url=API, timeout=60)
        self.graph = httpx.Client(base_url=GRAPH, verify=CA, timeout=60)
        self.graph_tenant = str(uuid.uuid4())
        self.tenant = "contoso"
        self.alice = "alice@contoso.example"
        self.bob = "bob@contoso.example"
        self.mar = "sala.mar@contoso.example"
        self.sol = "sala.sol@contoso.example"
        self._token: str | None = None

    # -- helpers ---------------------------------------------------------------------
    def step(self, text: str) -> None:
        console.rule(f"[bold cyan]{text}")

    def ok(self, text: str) -> None:
        console.print(f"  [green]✔[/green] {text}")

    def token(self) -> str:
        if self._token is None:
            r = self.graph.post(f"/{self.graph_tenant}/oauth2/v2.0/token", data={
                "grant_type": "client_credentials", "client_id": CLIENT_ID,
                "client_secret": SECRET, "scope": "https://graph.microsoft.com/.default",
            })  # fmt: skip
            r.raise_for_status()
            self._token = str(r.json()["access_token"])
        return self._token

    def outlook(self, method: str, path: str, json: Any = None) -> httpx.Response:
        """A Graph call as Outlook would make it for the user."""
        return self.graph.request(
            method, f"/v1.0/{path}", json=json, headers={"Authorization": f"Bearer {self.token()}"}
        )

    def calendar(self, mailbox: str) -> list[dict[str, Any]]:
        r = self.outlook("GET", f"users/{mailbox}/events?$top=50")
        r.raise_for_status()
        return [e for e in r.json()["value"] if not e.get("isCancelled")]

    def show_calendar(self, title: str, mailbox: str) -> None:
        table = Table(title=title, title_justify="left")
        for col in ("subject", "start (UTC)", "end (UTC)", "organizer", "room response"):
            table.add_column(col)
        for e in self.calendar(mailbox):
            table.add_row(
                e.get("subject", ""), e["start"]["dateTime"][:16], e["end"]["dateTime"][:16],
                e.get("organizer", {}).get("emailAddress", {}).get("address", ""),
                e.get("responseStatus", {}).get("response", ""),
            )  # fmt: skip
        console.print(table)

    def show_bookings(self) -> None:
        table = Table(title="Bookker bookings", title_justify="left")
        for col in ("space", "user", "start", "end", "status", "source", "reason"):
            table.add_column(col)
        for b in self.api.get(f"/tenants/{self.tenant}/bookings").json()["value"]:
            table.add_row(b["spaceId"], b["userId"], b["start"][:16], b["end"][:16],
                          b["status"], b["source"], b.get("statusReason") or "")  # fmt: skip
        console.print(table)

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise SystemExit(f"demo: timed out waiting for {what}")
            time.sleep(0.3)

    # -- the story -------------------------------------------------------------------
    def health(self) -> None:
        self.step("0. The stack is up: GET /api/health")
        console.print_json(self.api.get("/health").text)

    def seed(self) -> None:
        self.step("1. A customer tenant: Contoso, bidirectional, two rooms, two people")
        self.graph.post("/_emulator/tenants", json={
            "tenantId": self.graph_tenant, "clientId": CLIENT_ID, "clientSecret": SECRET,
        }).raise_for_status()  # fmt: skip
        for address, name, kind in (
            (self.alice, "Alice", "user"),
            (self.bob, "Bob", "user"),
            (self.mar, "Sala Mar", "room"),
            (self.sol, "Sala Sol", "room"),
        ):
            self.graph.post("/_emulator/mailboxes", json={
                "tenantId": self.graph_tenant, "address": address, "displayName": name,
                "kind": kind,
            }).raise_for_status()  # fmt: skip
        self.put(f"/tenants/{self.tenant}", {
            "graphTenantId": self.graph_tenant, "mode": "bidirectional", "displayName": "Contoso",
        })  # fmt: skip
        madrid = {
            "timeZone": "Europe/Madrid",
            "minMinutes": 15,
            "maxMinutes": 240,
            "openingHours": {
                d: [{"start": "08:00", "end": "20:00"}]
                for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
            },
        }
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
        self.ok("tenant, 2 spaces with opening hours 08:00-20:00 Madrid, 2 users")

    def put(self, path: str, body: dict[str, Any]) -> None:
        r = self.api.put(path, json=body)
        if r.status_code not in (200, 201):
            raise SystemExit(f"demo: PUT {path} → {r.status_code} {r.text}")

    def next_weekday(self, hour_utc: int) -> datetime:
        day = datetime.now(UTC).replace(hour=hour_utc, minute=0, second=0, microsecond=0)
        day += timedelta(days=1)
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day

    def bookker_booking(self) -> str:
        self.step("2. Alice books Sala Mar in Bookker → it appears in Outlook")
        start = self.next_weekday(9)
        r = self.api.post(f"/tenants/{self.tenant}/bookings", json={
            "spaceId": "sala-mar", "userId": "alice", "subject": "Quarterly planning",
            "start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat(),
        })  # fmt: skip
        if r.status_code != 201:
            raise SystemExit(f"demo: booking failed {r.status_code} {r.text}")
        booking = r.json()
        self.ok(f"201 Created, booking {booking['id'][:8]}… (Outlook accepted it first)")
        self.show_calendar("Alice's Outlook calendar", self.alice)
        self.show_calendar("Sala Mar's room calendar (copy accepted by the room)", self.mar)
        return str(booking["id"])

    def rule_violation(self) -> None:
        self.step("3. Bob tries Sala Sol at night: refused, with the reasons")
        start = self.next_weekday(21)
        r = self.api.post(f"/tenants/{self.tenant}/bookings", json={
            "spaceId": "sala-sol", "userId": "bob",
            "start": start.isoformat(), "end": (start + timedelta(hours=5)).isoformat(),
        })  # fmt: skip
        console.print(f"  HTTP {r.status_code} {r.json()['error']['code']}")
        for e in r.json().get("errors", []):
            console.print(f"  [red]✘[/red] {e['rule']}: {e['message']}")

    def release(self, booking_id: str) -> None:
        self.step("4. Nobody checked in: Bookker releases the room (system action)")
        r = self.api.post(
            f"/tenants/{self.tenant}/bookings/{booking_id}/release",
            json={"reason": "Released: nobody checked in within 15 minutes"},
        )
        self.ok(f"{r.status_code} Accepted; booking is {r.json()['status']}")
        self.wait("the room to decline", lambda: self.calendar(self.mar) == [])
        self.ok("Sala Mar declined its copy with the reason; the room is free again")
        self.show_bookings()

    # -- Outlook → Bookker -------------------------------------------------------------
    def wait_subscribed(self) -> None:
        self.step("5. Bookker subscribes to every room's calendar (Graph change notifications)")

        def subscribed() -> bool:
            tenants = self.api.get("/health").json().get("tenants", [])
            mine = [t for t in tenants if t["tenantId"] == self.tenant]
            return bool(mine) and mine[0]["subscriptions"]["active"] == 2

        self.wait("both rooms to be subscribed", subscribed)
        self.ok("2 subscriptions active; each room had its initial delta sync")

    def bookings_where(self, **match: str) -> list[dict[str, Any]]:
        found = self.api.get(f"/tenants/{self.tenant}/bookings").json()["value"]
        return [b for b in found if all(b.get(k) == v for k, v in match.items())]

    def outlook_booking(self) -> dict[str, Any]:
        self.step("6. Bob books Sala Mar in Outlook → it reaches Bookker, checked by its rules")
        start = self.next_weekday(11)
        event = self.outlook("POST", f"users/{self.bob}/events", {
            "subject": "Customer call",
            "start": _utc(start), "end": _utc(start + timedelta(hours=1)),
            "location": {"displayName": "Sala Mar"},
            "attendees": [{"emailAddress": {"address": self.mar}, "type": "resource"}],
        }).json()  # fmt: skip
        self.wait(
            "the Outlook booking in Bookker",
            lambda: bool(self.bookings_where(source="outlook", status="confirmed")),
        )
        self.ok("notification → delta sync → rules passed → stored as an Outlook booking")
        self.show_bookings()
        return dict(event)

    def outlook_violation(self) -> None:
        self.step("7. Bob books Sala Sol (finance only) in Outlook → declined with the reason")
        start = self.next_weekday(12)
        event = self.outlook("POST", f"users/{self.bob}/events", {
            "subject": "Team lunch", "start": _utc(start), "end": _utc(start + timedelta(hours=1)),
            "attendees": [{"emailAddress": {"address": self.sol}, "type": "resource"}],
        }).json()  # fmt: skip

        def declined() -> bool:
            organizer = self.outlook("GET", f"users/{self.bob}/events/{event['id']}").json()
            room = [a for a in organizer.get("attendees", [])
                    if a["emailAddress"]["address"].lower() == self.sol]  # fmt: skip
            return bool(room) and room[0]["status"]["response"] == "declined"

        self.wait("Sala Sol to decline", declined)
        self.ok("Sala Sol declined it; Bob's Outlook shows the room as declined, and the")
        self.ok("decline comment gives Bookker's reason (see the status page's recent declines)")

    def outlook_revert_and_cancel(self, event: dict[str, Any]) -> None:
        self.step("8. Bob moves his meeting to 22:00 → not allowed there: moved back")
        late = self.next_weekday(21)
        self.outlook(
            "PATCH",
            f"users/{self.bob}/events/{event['id']}",
            {"start": _utc(late), "end": _utc(late + timedelta(hours=1))},
        )

        def reverted() -> bool:
            now = self.outlook("GET", f"users/{self.bob}/events/{event['id']}").json()
            return str(now["start"]["dateTime"]).startswith(event["start"]["dateTime"][:16])

        self.wait("the revert", reverted)
        self.ok(
            "the organizer's event is back at its booked time (re-read first, never clobbering)"
        )
        self.step("9. Bob cancels the meeting in Outlook → cancelled in Bookker")
        self.outlook("POST", f"users/{self.bob}/events/{event['id']}/cancel", {"comment": "no"})
        self.wait(
            "the cancellation",
            lambda: bool(self.bookings_where(source="outlook", status="cancelled")),
        )
        self.show_bookings()

    def operators(self) -> None:
        self.step("10. For operators: `python -m bookker_sync status contoso` and /api/status")
        subprocess.call([sys.executable, "-m", "bookker_sync", "status", self.tenant])
        self.ok(f"status page: {API}/status (HTML, no build step)")


def _utc(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def main() -> int:
    demo = Demo()
    try:
        demo.health()
        demo.seed()
        booking = demo.bookker_booking()
        demo.rule_violation()
        demo.release(booking)
        demo.wait_subscribed()
        event = demo.outlook_booking()
        demo.outlook_violation()
        demo.outlook_revert_and_cancel(event)
        demo.operators()
    except httpx.HTTPError as exc:
        console.print(f"[red]demo: {exc}[/red]")
        return 1
    except KeyboardInterrupt:  # Ctrl-C reaches the whole foreground group: the stack stops
        return 130
    console.rule("[bold green]Demo done: the stack keeps running (Ctrl-C to stop)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
