"""``python -m emulators.graph [--host 127.0.0.1] [--port 7072] [--ca-out PATH]``.

Once listening it prints exactly one line to stdout:
``graph-emulator listening on https://localhost:PORT ca=ABSOLUTE_CA_PATH``.
SIGTERM and SIGINT stop it cleanly.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from pathlib import Path

from aiohttp import web

from .server import build_app
from .state import Emulator
from .tls import DEFAULT_CA_PATH, load_or_create_ca, server_ssl_context, write_ca


def _loopback(host: str) -> str:
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise argparse.ArgumentTypeError(
        f"{host} is not a loopback address: the emulator binds locally only"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulators.graph", description=__doc__)
    p.add_argument("--host", type=_loopback, default="127.0.0.1")
    p.add_argument("--port", type=int, default=7072, help="0 picks a free port")
    p.add_argument("--ca-out", type=Path, default=None, help="also write the CA PEM here")
    p.add_argument(
        "--token-lifetime", type=int, default=3600, help="access token lifetime (real seconds)"
    )
    p.add_argument("--log-level", default="WARNING")
    return p.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    ca = load_or_create_ca(DEFAULT_CA_PATH)
    ca_path = write_ca(ca, args.ca_out) if args.ca_out else DEFAULT_CA_PATH.resolve()
    emu = Emulator(token_lifetime=args.token_lifetime)
    runner = web.AppRunner(build_app(emu), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(
        runner, args.host, args.port, ssl_context=server_ssl_context(ca), backlog=1024
    )
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sys.stdout.write(f"graph-emulator listening on https://localhost:{port} ca={ca_path}\n")
    sys.stdout.flush()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), stream=sys.stderr)
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
