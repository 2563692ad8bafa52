"""The aiohttp application: Graph under /v1.0, the token endpoint, the control API."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from . import graph_api
from .batch import run_batch
from .consent import AdminConsent
from .control import ControlApi
from .control_identity import IdentityControl
from .dispatch import Context, GraphRequest, GraphResponse, dispatch
from .state import Emulator

log = logging.getLogger("emulators.graph")
PUMP_INTERVAL = 0.05  # seconds between background runs (meeting messages, notifications)
EMULATOR_KEY = web.AppKey("emulator", Emulator)


def build_app(emu: Emulator) -> web.Application:
    app = web.Application(client_max_size=8 * 1024 * 1024)
    app[EMULATOR_KEY] = emu

    async def batch(ctx: Context) -> GraphResponse:
        return await run_batch(ctx, lambda inner: dispatch(emu, inner, table, inner=True))

    table = graph_api.handlers(batch)

    async def graph(request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        body = None
        invalid = False
        if raw.strip():
            try:
                body = json.loads(raw)
            except (ValueError, UnicodeDecodeError):
                invalid = True
        headers: dict[str, str] = {}
        for k, v in request.headers.items():
            key = k.lower()
            headers[key] = f"{headers[key]}, {v}" if key in headers else v
        raw_path = request.raw_path.split("?", 1)[0]
        raw_path = raw_path[len("/v1.0") :] if raw_path.startswith("/v1.0") else raw_path
        req = GraphRequest(
            method=request.method.upper(),
            raw_path=raw_path or "/",
            query=dict(request.query),
            headers=headers,
            prefer=request.headers.getall("Prefer", []),
            body=body,
            base_url=f"https://{request.host}",
            body_invalid=invalid,
        )
        async with emu.freezer.gate():
            resp = await dispatch(emu, req, table)
        if resp.drop and request.transport is not None:
            # A lost answer: the request was applied, the client hears nothing.
            request.transport.close()
        payload = None if resp.body is None else json.dumps(resp.body).encode()
        return web.Response(status=resp.status, body=payload, headers=resp.headers)

    app.router.add_routes(ControlApi(emu).routes())
    app.router.add_routes(IdentityControl(emu).routes())
    app.router.add_routes(emu.issuer.routes())
    app.router.add_routes(AdminConsent(lambda: emu.world.directory, lambda: emu.consent).routes())
    app.router.add_route("*", "/v1.0/{tail:.*}", graph)
    app.cleanup_ctx.append(_pump_loop)
    return app


async def _pump_loop(app: web.Application) -> AsyncIterator[None]:
    emu = app[EMULATOR_KEY]

    async def loop() -> None:
        while True:
            await asyncio.sleep(PUMP_INTERVAL)
            try:
                emu.tick()
            except Exception:  # keep delivering whatever one message did
                log.exception("background delivery failed")

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await emu.notifier.close()
