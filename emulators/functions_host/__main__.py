"""``python -m emulators.functions_host``: serve function_app.app like `func start`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from emulators.functions_host.config import load_local_settings
from emulators.functions_host.host import FunctionsHost, HostOptions


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m emulators.functions_host", description=__doc__)
    p.add_argument("--app", default="function_app:app", help="module:attribute of the FunctionApp")
    p.add_argument("--app-dir", default=".", help="folder with host.json and the app module")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=7071)
    p.add_argument(
        "--settings",
        default="local.settings.json",
        help="local.settings.json to load Values from (env vars win)",
    )
    p.add_argument("--function-key", default=os.environ.get("FUNCTIONS_HOST_FUNCTION_KEY"))
    p.add_argument("--master-key", default=os.environ.get("FUNCTIONS_HOST_MASTER_KEY"))
    p.add_argument(
        "--clock-url",
        default=os.environ.get("FUNCTIONS_HOST_CLOCK_URL"),
        help="follow this virtual clock (GET → {now})",
    )
    p.add_argument("--clock-ca", default=os.environ.get("FUNCTIONS_HOST_CLOCK_CA"))
    p.add_argument(
        "--clock-hook",
        default=os.environ.get("FUNCTIONS_HOST_CLOCK_HOOK"),
        help="module:function(offset_seconds) in the app",
    )
    p.add_argument(
        "--shutdown-hook",
        default=os.environ.get("FUNCTIONS_HOST_SHUTDOWN_HOOK"),
        help="module:function in the app (sync or async) run when the host stops",
    )
    p.add_argument("--disable", action="append", default=[], help="function to disable")
    p.add_argument("--verbose", action="store_true")
    return p.parse_args(argv)


async def serve(options: HostOptions) -> None:
    host = FunctionsHost(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await host.start()
    try:
        await stop.wait()
    finally:
        await host.stop()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="[%(asctime)s] %(message)s",
        stream=sys.stdout,
    )
    for noisy in ("azure", "httpx", "aiohttp.access", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    app_dir = Path(args.app_dir).resolve()
    try:
        os.environ.update(load_local_settings(app_dir / args.settings))
        options = HostOptions(
            app_target=args.app, app_dir=app_dir, host=args.host, port=args.port,
            function_key=args.function_key, master_key=args.master_key,
            clock_url=args.clock_url, clock_ca=args.clock_ca, clock_hook=args.clock_hook,
            disabled=tuple(args.disable), shutdown_hook=args.shutdown_hook,
        )  # fmt: skip
        asyncio.run(serve(options))
    except (ValueError, KeyError, TypeError, ImportError, OSError) as exc:
        print(f"functions host: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
