"""A push over https connects to the address that was checked (no DNS rebinding) and
still verifies the receiver's certificate for its host name (TLS SNI), and its
signature verifies with the standardwebhooks library."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import httpx
import trustme
from aiohttp import web
from standardwebhooks.webhooks import Webhook

from bookker_sync.storage.event_log import LoggedEvent
from bookker_sync.storage.repositories import EventPush
from bookker_sync.sync.events.push import send_event

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


async def serve(ca: trustme.CA, name: str) -> tuple[web.AppRunner, int, list[Any]]:
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(name).configure_cert(server_ctx)
    got: list[Any] = []

    async def hook(request: web.Request) -> web.Response:
        got.append((dict(request.headers), await request.read()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=server_ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, port, got


def event() -> LoggedEvent:
    cloud = {"specversion": "1.0", "id": "ev-1", "type": "com.bookker.sync.booking.created"}
    return LoggedEvent(1, "ev-1", datetime.now(UTC), None, cloud)


async def test_https_push_is_pinned_verified_and_signed() -> None:
    ca = trustme.CA()
    runner, port, got = await serve(ca, "localhost")
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    services: Any = SimpleNamespace(settings=SimpleNamespace(
        events=SimpleNamespace(allow_local_http=True)))  # fmt: skip
    push = EventPush(tenant_id="t", url=f"https://localhost:{port}/hook", secret=SECRET)
    try:
        async with httpx.AsyncClient(verify=client_ctx) as http:
            assert await send_event(services, http, push, event()) is None
        [(headers, body)] = got
        assert headers["Host"] == f"localhost:{port}"
        assert Webhook(SECRET).verify(body, headers)["id"] == "ev-1"
        # A certificate for another name is refused, pinned or not.
        other = trustme.CA()
        other_ctx = ssl.create_default_context()
        other.configure_trust(other_ctx)
        async with httpx.AsyncClient(verify=other_ctx) as http:
            error = await send_event(services, http, push, event())
        assert error is not None and "CERTIFICATE_VERIFY_FAILED" in error
    finally:
        await runner.cleanup()


async def test_without_the_local_setting_loopback_is_refused_before_any_connection() -> None:
    services: Any = SimpleNamespace(settings=SimpleNamespace(
        events=SimpleNamespace(allow_local_http=False)))  # fmt: skip
    for url in ("https://localhost:9/hook", "https://127.0.0.1:9/hook", "http://127.0.0.1:9/h"):
        push = EventPush(tenant_id="t", url=url, secret=SECRET)
        async with httpx.AsyncClient() as http:
            error = await send_event(services, http, push, event())
        assert error is not None and error.startswith("refused destination"), (url, error)
