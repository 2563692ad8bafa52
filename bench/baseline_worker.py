"""The per-notification design, run for comparison by bench/graph_cost.py (bench only,
never deployed).

The design Bookker Sync replaced: every change notification is handled on its own.
For each notification it GETs the room's event named in the notification, looks the
event up by iCalUId in the organizer's mailbox, then acts on what it found with the
same decision Bookker Sync makes (domain/reconcile.py over an in-memory store): accept
(no Graph write), or have the room decline its copy (one write).

It is a separate app registration (its own client id) with its own subscription and
its own webhook served by this process, so the Graph emulator delivers it the
notifications of the same burst, and counts its requests apart (stats ``app``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from aiohttp import web

from bookker_sync.domain.models import Booking, BookingStatus, Space, User
from bookker_sync.domain.reconcile import (
    AcceptOutlookBooking,
    CancelBooking,
    DeclineRoomEvent,
    RoomContext,
    reconcile,
)
from bookker_sync.graph.event_json import parse_event

CLIENT_ID = "baseline-per-notification"
SECRET = "baseline-secret"


@dataclass
class Counts:
    notifications: int = 0
    handled: int = 0
    errors: list[str] = field(default_factory=list)


class BaselineWorker:
    def __init__(
        self, graph_url: str, authority: str, ca_path: str, graph_tenant: str, space: Space,
        users: list[User],
    ) -> None:  # fmt: skip
        self.graph_url, self.authority, self.ca_path = graph_url, authority, ca_path
        self.tenant = graph_tenant
        self.space = space
        self.room = (space.resource_email or "").lower()
        self.users = {u.email.lower(): u for u in users}
        self.store: dict[str, Booking] = {}  # by room event id
        self.counts = Counts()
        self.client_state = uuid.uuid4().hex
        self.port = 0
        self._queue: asyncio.Queue[dict[str, Any]] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._idle = threading.Event()

    # -- lifecycle (the bench is synchronous: the worker runs on its own loop) ----------
    def start(self) -> None:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("baseline worker did not start")

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(15)

    def idle(self) -> bool:
        """Nothing queued and nothing being handled."""
        return self._idle.is_set() and self._queue is not None and self._queue.empty()

    def subscribe(self, expires: datetime) -> None:
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(self._subscribe(expires), self._loop)
        future.result(60)

    # -- the worker ----------------------------------------------------------------------
    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue, self._stop = asyncio.Queue(), asyncio.Event()
        app = web.Application()
        app.router.add_post("/notify", self._webhook)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._http = httpx.AsyncClient(verify=self.ca_path, timeout=30)
        self._token = await self._get_token()
        worker = asyncio.create_task(self._work())
        self._idle.set()
        self._ready.set()
        await self._stop.wait()
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker
        await self._http.aclose()
        await runner.cleanup()

    async def _get_token(self) -> str:
        r = await self._http.post(
            f"{self.authority}/{self.tenant}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": CLIENT_ID,
                  "client_secret": SECRET, "scope": "https://graph.microsoft.com/.default"},
        )  # fmt: skip
        r.raise_for_status()
        return str(r.json()["access_token"])

    async def _graph(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return await self._http.request(
            method, f"{self.graph_url}/{path.lstrip('/')}", json=body,
            headers={"Authorization": f"Bearer {self._token}",
                     "Prefer": 'outlook.timezone="UTC"'},
        )  # fmt: skip

    async def _subscribe(self, expires: datetime) -> None:
        r = await self._graph("POST", "subscriptions", {
            "changeType": "created,updated,deleted",
            "notificationUrl": f"http://localhost:{self.port}/notify",
            "resource": f"/users/{self.room}/events",
            "expirationDateTime": expires.strftime("%Y-%m-%dT%H:%M:%S.0000000Z"),
            "clientState": self.client_state,
        })  # fmt: skip
        r.raise_for_status()

    async def _webhook(self, request: web.Request) -> web.Response:
        token = request.query.get("validationToken")
        if token is not None:
            return web.Response(text=token, content_type="text/plain")
        body = await request.json()
        assert self._queue is not None
        for item in body.get("value", []):
            if item.get("clientState") != self.client_state:
                continue
            self.counts.notifications += 1
            self._idle.clear()
            self._queue.put_nowait(item)
        return web.Response(status=202)

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = await self._queue.get()
            self._idle.clear()
            try:
                await self._handle(item)
            except Exception as exc:  # a bench error is reported, not fatal
                self.counts.errors.append(f"{type(exc).__name__}: {exc}")
            self.counts.handled += 1
            if self._queue.empty():
                self._idle.set()

    async def _handle(self, item: dict[str, Any]) -> None:
        resource = str(item.get("resource") or "")
        event_id = str((item.get("resourceData") or {}).get("id") or resource.rsplit("/", 1)[-1])
        # 1. GET the room's event the notification names
        r = await self._graph("GET", resource)
        if r.status_code == 404:
            gone = self.store.get(event_id)
            if gone is not None and gone.status is BookingStatus.CONFIRMED:
                self._apply(CancelBooking(gone.id, "Cancelled in Outlook"), gone)
            return
        r.raise_for_status()
        event = r.json()
        remote = parse_event(event)
        # 2. look the event up by iCalUId in the organizer's mailbox
        organizer = (remote.organizer_email or "").lower()
        if remote.i_cal_uid and organizer and organizer != self.room:
            uid = remote.i_cal_uid.replace("'", "''")
            query = quote(f"iCalUId eq '{uid}'")
            await self._graph("GET", f"users/{organizer}/events?$filter={query}")
        # 3. act, with the same decision Bookker Sync makes
        stored = self.store.get(remote.id)
        now = datetime.now(UTC)
        confirmed = [b for b in self.store.values() if b.status is BookingStatus.CONFIRMED]
        user = self.users.get(organizer)
        ctx = RoomContext(
            tenant_id=self.space.tenant_id, space=self.space, room_mailbox=self.room,
            organizer=user, space_bookings=confirmed, now=now,
            organizer_bookings=[b for b in confirmed if user and b.user_id == user.id],
        )  # fmt: skip
        for action in reconcile(stored, remote, ctx):
            if isinstance(action, DeclineRoomEvent):
                path = f"users/{self.room}/events/{quote(action.room_event_id, safe='')}/decline"
                await self._graph("POST", path, {"comment": action.reason, "sendResponse": True})
            elif isinstance(action, AcceptOutlookBooking):
                self.store[remote.id] = action.booking
            elif isinstance(action, CancelBooking) and stored is not None:
                self._apply(action, stored)

    def _apply(self, action: CancelBooking, booking: Booking) -> None:
        ref = booking.outlook.resource_event_id or ""
        self.store[ref] = booking.model_copy(
            update={"status": BookingStatus.CANCELLED, "status_reason": action.reason}
        )
