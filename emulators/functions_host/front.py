"""``python -m emulators.functions_host.front``: one public URL for N host instances.

In Azure, every instance of a scaled-out app sits behind the same hostname and the
front end spreads requests across them. Locally this small reverse proxy does the
same, round-robin: a webhook URL registered with Graph reaches every instance. An
instance that refuses the connection (stopped, crashed) is skipped; a request that
reached an instance is never replayed on another.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import signal
import sys

import aiohttp
from aiohttp import web

log = logging.getLogger("functions_host.front")
# Hop-by-hop headers (RFC 9110 §7.6.1) and lengths aiohttp recomputes.
_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te",
    "trailer", "transfer-encoding", "upgrade", "content-length",
}  # fmt: skip


class Front:
    def __init__(self, backends: list[str], timeout_seconds: float = 600.0) -> None:
        if not backends:
            raise ValueError("at least one --backend is needed")
        self.backends = [b.rstrip("/") for b in backends]
        self._turn = itertools.count()
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        application = web.Application(client_max_size=100 * 1024 * 1024)
        application.router.add_route("*", "/{tail:[\\s\\S]*}", self._forward)
        application.on_cleanup.append(self._close)
        return application

    async def _close(self, _: web.Application) -> None:
        if self._session is not None:
            await self._session.close()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        if self._session is None:
            # auto_decompress off: bodies pass through byte for byte.
            self._session = aiohttp.ClientSession(timeout=self._timeout, auto_decompress=False)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        peer = request.remote or ""
        forwarded = request.headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {peer}" if forwarded else peer
        first = next(self._turn)
        for step in range(len(self.backends)):
            backend = self.backends[(first + step) % len(self.backends)]
            try:
                async with self._session.request(
                    request.method, backend + request.raw_path, headers=headers, data=body,
                    allow_redirects=False,
                ) as response:  # fmt: skip
                    payload = await response.read()
                    out = {k: v for k, v in response.headers.items() if k.lower() not in _HOP}
                    return web.Response(status=response.status, headers=out, body=payload)
            except aiohttp.ClientConnectorError:
                log.warning("instance %s refused the connection; trying the next", backend)
        return web.json_response(
            {"error": {"code": "ServiceUnavailable", "message": "no instance is running"}},
            status=503,
        )


async def serve(front: Front, host: str, port: int) -> None:
    runner = web.AppRunner(front.app(), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("Front on http://%s:%d → %s", host, port, ", ".join(front.backends))
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        log.info("Front stopped")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m emulators.functions_host.front", description=__doc__
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7071)
    p.add_argument("--backend", action="append", default=[], help="instance base URL (repeat)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", stream=sys.stdout)
    try:
        asyncio.run(serve(Front(args.backend), args.host, args.port))
    except (ValueError, OSError) as exc:
        print(f"front: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
