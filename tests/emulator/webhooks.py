"""A real local webhook receiver (aiohttp on 127.0.0.1) with controllable answers.

Per path (the part of the URL before ``?``):

- ``handshake[path]``: how it answers ``?validationToken=``: ``echo`` (200 text/plain with
  the decoded token, the default), ``wrong`` (another text), ``html`` (the token as
  text/html), ``500``, or ``slow`` (waits ``slow_seconds`` before echoing);
- ``answers[path]``: statuses for the next notification POSTs, in order (then 202);
- ``delay[path]``: seconds to wait before answering a notification POST; ``slow[path]``:
  such waits for the next POSTs only, in order.

Everything received is recorded (``handshakes``, ``posts``). It must run in the test's
event loop; stop() ends pending slow answers at once.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Received:
    path: str
    raw_query: str  # as sent, still percent-encoded
    query: dict[str, str]  # decoded
    content_type: str
    body: bytes
    at: float  # time.monotonic()

    @property
    def value(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = json.loads(self.body)["value"]
        return items


@dataclass
class Receiver:
    handshake: dict[str, str] = field(default_factory=dict)
    answers: dict[str, deque[int]] = field(default_factory=dict)
    delay: dict[str, float] = field(default_factory=dict)
    slow: dict[str, deque[float]] = field(default_factory=dict)
    slow_seconds: float = 12.0
    handshakes: list[Received] = field(default_factory=list)
    posts: list[Received] = field(default_factory=list)
    base: str = ""
    _runner: web.AppRunner | None = None
    _stopping: asyncio.Event = field(default_factory=asyncio.Event)

    def url(self, path: str = "/notify", query: str = "") -> str:
        return f"{self.base}{path}" + (f"?{query}" if query else "")

    def answer(self, path: str, *statuses: int) -> None:
        self.answers.setdefault(path, deque()).extend(statuses)

    def items(self, path: str | None = None) -> list[dict[str, Any]]:
        return [i for p in self.posts if path in (None, p.path) for i in p.value]

    def posts_to(self, path: str) -> list[Received]:
        return [p for p in self.posts if p.path == path]

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)
        except TimeoutError:
            pass

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        got = Received(
            request.path,
            request.raw_path.partition("?")[2],
            dict(request.query),
            request.headers.get("Content-Type", ""),
            body,
            time.monotonic(),
        )
        path = request.path
        if "validationToken" in request.query:
            self.handshakes.append(got)
            token = request.query["validationToken"]
            mode = self.handshake.get(path, "echo")
            if mode == "slow":
                await self._wait(self.slow_seconds)
            if mode == "wrong":
                return web.Response(text=token + "x", content_type="text/plain")
            if mode == "html":
                return web.Response(text=token, content_type="text/html")
            if mode == "500":
                return web.Response(status=500, text="nope")
            return web.Response(text=token, content_type="text/plain")
        self.posts.append(got)
        waits = self.slow.get(path)
        wait = waits.popleft() if waits else self.delay.get(path, 0.0)
        if wait:
            await self._wait(wait)
        queue = self.answers.get(path)
        status = queue.popleft() if queue else 202
        return web.Response(status=status)

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind(("127.0.0.1", 0))
        site = web.SockSite(self._runner, sock)
        await site.start()
        self.base = f"http://127.0.0.1:{sock.getsockname()[1]}"
        return self

    async def stop(self) -> None:
        self._stopping.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
