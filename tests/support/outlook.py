"""Acting as people in Outlook: plain Graph API calls against the emulator with an app
token, the way Outlook changes a user's calendar."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET, Stack, Tenant


class Outlook:
    def __init__(self, stack: Stack, tenant: Tenant) -> None:
        self.stack = stack
        self.tenant = tenant
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            r = self.stack.emulator.http.post(
                f"/{self.tenant.graph_tenant_id}/oauth2/v2.0/token",
                data={"grant_type": "client_credentials", "client_id": APP_CLIENT_ID,
                      "client_secret": APP_SECRET,
                      "scope": "https://graph.microsoft.com/.default"},
            )  # fmt: skip
            r.raise_for_status()
            self._token = str(r.json()["access_token"])
        return self._token

    def call(self, method: str, path: str, json: Any = None, ok: bool = True) -> Any:
        r = self.stack.emulator.http.request(
            method, f"/v1.0/{path.lstrip('/')}", json=json,
            headers={"Authorization": f"Bearer {self.token()}",
                     "Prefer": 'outlook.timezone="UTC"'},
        )  # fmt: skip
        if ok:
            assert r.status_code < 300, (method, path, r.status_code, r.text)
        return r.json() if r.content else None

    def book_room(
        self,
        organizer: str,
        room: str,
        start: datetime,
        end: datetime,
        subject: str = "Meeting",
        recurrence: dict[str, Any] | None = None,
    ) -> dict:
        body: dict[str, Any] = {
            "subject": subject,
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "location": {"displayName": room, "locationEmailAddress": room},
            "attendees": [{"emailAddress": {"address": room}, "type": "resource"}],
        }
        if recurrence:
            body["recurrence"] = recurrence
        return dict(self.call("POST", f"users/{organizer}/events", body))

    def move(self, mailbox: str, event_id: str, start: datetime, end: datetime) -> dict:
        return dict(self.call("PATCH", f"users/{mailbox}/events/{event_id}", {
            "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
            "end": {"dateTime": end.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        }))  # fmt: skip

    def cancel(self, mailbox: str, event_id: str) -> None:
        self.call("POST", f"users/{mailbox}/events/{event_id}/cancel", {"comment": "cancelled"})

    def events(self, mailbox: str) -> list[dict]:
        value = self.call("GET", f"users/{mailbox}/events?$top=100")["value"]
        return [e for e in value if not e.get("isCancelled")]

    def get(self, mailbox: str, event_id: str) -> dict:
        return dict(self.call("GET", f"users/{mailbox}/events/{event_id}"))

    def view(self, mailbox: str, start: datetime, end: datetime) -> list[dict]:
        value = self.call(
            "GET",
            f"users/{mailbox}/calendarView?startDateTime={start.isoformat().replace('+00:00', 'Z')}"
            f"&endDateTime={end.isoformat().replace('+00:00', 'Z')}&$top=200",
        )["value"]
        return [e for e in value if not e.get("isCancelled")]
