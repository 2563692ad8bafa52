"""``make up`` / ``make run``: Azurite + Graph emulator + Functions host, wired, in the
foreground. Ctrl-C stops all three. ``--demo`` also seeds a demo tenant and shows sync.

Local defaults (DESIGN.md §7): the app's Graph credentials are client id
``bookker-sync-local`` / secret ``bookker-sync-local-secret``; webhooks go to
http://localhost:7071/api/graph/...; no function keys locally unless configured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from types import FrameType

from emulators.processes import (
    REPO,
    Child,
    port_open,
    python,
    spawn,
    start_azurite,
    start_functions_host,
    wait_until,
)

LOCAL = REPO / ".local"
AZURITE_PORTS = (10000, 10001, 10002)
GRAPH_PORT = 7072
HOST_PORT = 7071


def _check_ports() -> None:
    busy = [p for p in (*AZURITE_PORTS, GRAPH_PORT, HOST_PORT) if port_open(p)]
    if busy:
        raise SystemExit(
            f"stack: port(s) {', '.join(map(str, busy))} already in use "
            "(is another `make up` running?)"
        )


def start_graph_emulator() -> Child:
    ca = LOCAL / "emulator-ca.pem"
    argv = [python(), "-m", "emulators.graph", "--host", "127.0.0.1", "--port", str(GRAPH_PORT),
            "--ca-out", str(ca)]  # fmt: skip
    child = spawn("graph-emulator", argv, LOCAL / "logs" / "graph-emulator.log")
    wait_until(lambda: port_open(GRAPH_PORT) and ca.exists(), child, what="listening")
    return child


def host_env(connection_string: str) -> dict[str, str]:
    ca = str(LOCAL / "emulator-ca.pem")
    return {
        "AzureWebJobsStorage": connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "GRAPH_CLIENT_ID": "bookker-sync-local",
        "GRAPH_CLIENT_SECRET": "bookker-sync-local-secret",
        "GRAPH_BASE_URL": f"https://localhost:{GRAPH_PORT}/v1.0",
        "GRAPH_AUTHORITY": f"https://localhost:{GRAPH_PORT}",
        "GRAPH_CA_BUNDLE": ca,
        "WEBHOOK_BASE_URL": f"http://localhost:{HOST_PORT}/api",
        "RECONCILE_SCHEDULE": os.environ.get("RECONCILE_SCHEDULE", "0 */15 * * * *"),
        "RENEW_SCHEDULE": os.environ.get("RENEW_SCHEDULE", "0 */10 * * * *"),
        "FUNCTIONS_HOST_CLOCK_URL": f"https://localhost:{GRAPH_PORT}/_emulator/clock",
        "FUNCTIONS_HOST_CLOCK_CA": ca,
        "FUNCTIONS_HOST_CLOCK_HOOK": "bookker_sync.clock:set_offset_seconds",
        "FUNCTIONS_HOST_SHUTDOWN_HOOK": "bookker_sync.sync.services:close_loop_services",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m emulators.stack", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed a demo tenant and show sync")
    parser.add_argument(
        "--exit-after-demo",
        action="store_true",
        help="stop the stack when the demo is done (CI / smoke checks)",
    )
    args = parser.parse_args(argv)
    _check_ports()
    LOCAL.mkdir(exist_ok=True)
    azurite_dir = LOCAL / "azurite"
    shutil.rmtree(azurite_dir, ignore_errors=True)  # `make up` starts empty
    children: list[Child] = []

    def stop_all(*_: object) -> None:
        for child in reversed(children):
            child.stop()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    try:
        print("stack: starting Azurite (blob 10000, queue 10001, table 10002)...", flush=True)
        azurite = start_azurite(azurite_dir, AZURITE_PORTS, in_memory=True)
        children.append(azurite.child)
        print(f"stack: starting Graph emulator on https://localhost:{GRAPH_PORT} ...", flush=True)
        children.append(start_graph_emulator())
        print(f"stack: starting Functions host on http://localhost:{HOST_PORT} ...", flush=True)
        env = host_env(azurite.connection_string)
        host = start_functions_host(LOCAL / "logs" / "functions-host.log", env, port=HOST_PORT)
        children.append(host.child)
        print(
            "stack: up. Health: curl -s localhost:7071/api/health\n"
            f"       logs in {LOCAL / 'logs'}; Ctrl-C stops everything.",
            flush=True,
        )
        if args.demo:
            # The demo also runs the operator CLI, which needs the app's settings.
            code = subprocess.call(
                [python(), "-m", "emulators.demo"], cwd=REPO, env={**os.environ, **env}
            )
            if code != 0 or args.exit_after_demo:
                return code
        while all(c.alive() for c in children):
            time.sleep(0.5)
        dead = [c for c in children if not c.alive()]
        for child in dead:
            print(f"stack: {child.name} exited:\n{child.log_tail()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstack: stopping...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()


if __name__ == "__main__":
    sys.exit(main())
