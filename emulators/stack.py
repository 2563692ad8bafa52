"""``make up`` / ``make run``: Azurite + Graph emulator + Functions host, wired, in the
foreground. Ctrl-C (or SIGTERM) stops everything. ``--demo`` also seeds a demo tenant
and shows sync. ``--instances N`` runs N host instances behind one URL (scale-out).

Local defaults: the app's Graph credentials are client id
``bookker-sync-local`` / secret ``bookker-sync-local-secret``; webhooks go to
http://localhost:7071/api/graph/...; no function keys locally unless configured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from emulators.processes import (
    REPO,
    Child,
    install_stop_signals,
    port_open,
    python,
    spawn,
    start_azurite,
    start_functions_hosts,
    stop_all,
    wait_until,
)

LOCAL = REPO / ".local"
AZURITE_PORTS = (10000, 10001, 10002)
GRAPH_PORT = 7072
HOST_PORT = 7071


@dataclass(frozen=True)
class Layout:
    """Where the stack listens and keeps its state (the local defaults)."""

    state: Path = LOCAL
    azurite_ports: tuple[int, int, int] = AZURITE_PORTS
    graph_port: int = GRAPH_PORT
    host_port: int = HOST_PORT

    @property
    def ca(self) -> Path:
        return self.state / "emulator-ca.pem"

    @property
    def logs(self) -> Path:
        return self.state / "logs"


def _check_ports(layout: Layout) -> None:
    ports = (*layout.azurite_ports, layout.graph_port, layout.host_port)
    busy = [p for p in ports if port_open(p)]
    if busy:
        raise SystemExit(
            f"stack: port(s) {', '.join(map(str, busy))} already in use "
            "(is another `make up` running?)"
        )


def start_graph_emulator(layout: Layout) -> Child:
    argv = [python(), "-m", "emulators.graph", "--host", "127.0.0.1",
            "--port", str(layout.graph_port), "--ca-out", str(layout.ca)]  # fmt: skip
    layout.ca.unlink(missing_ok=True)  # wait for this run's CA, not a stale one
    child = spawn("graph-emulator", argv, layout.logs / "graph-emulator.log")
    wait_until(lambda: port_open(layout.graph_port) and layout.ca.exists(), child, what="listening")
    return child


def host_env(connection_string: str, layout: Layout = Layout()) -> dict[str, str]:
    ca, graph = str(layout.ca), f"https://localhost:{layout.graph_port}"
    return {
        "AzureWebJobsStorage": connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "GRAPH_CLIENT_ID": "bookker-sync-local",
        "GRAPH_CLIENT_SECRET": "bookker-sync-local-secret",
        "GRAPH_BASE_URL": f"{graph}/v1.0",
        "GRAPH_AUTHORITY": graph,
        "GRAPH_CA_BUNDLE": ca,
        "WEBHOOK_BASE_URL": f"http://localhost:{layout.host_port}/api",
        "RECONCILE_SCHEDULE": os.environ.get("RECONCILE_SCHEDULE", "0 */15 * * * *"),
        "RENEW_SCHEDULE": os.environ.get("RENEW_SCHEDULE", "0 */10 * * * *"),
        # As in Azure (infra/main.bicep): the host refuses bodies past 4 MB unread.
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "4194304",
        # Event pushes to http://127.0.0.1:* / http://localhost:* (local stacks only).
        "EVENTS_ALLOW_LOCAL_HTTP": "true",
        "FUNCTIONS_HOST_CLOCK_URL": f"{graph}/_emulator/clock",
        "FUNCTIONS_HOST_CLOCK_CA": ca,
        "FUNCTIONS_HOST_CLOCK_HOOK": "bookker_sync.clock:set_offset_seconds",
        "FUNCTIONS_HOST_SHUTDOWN_HOOK": "bookker_sync.sync.services:close_loop_services",
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m emulators.stack", description=__doc__)
    parser.add_argument("--demo", action="store_true", help="seed a demo tenant and show sync")
    parser.add_argument(
        "--exit-after-demo",
        action="store_true",
        help="stop the stack when the demo is done (CI / smoke checks)",
    )
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="Functions host instances (like a scaled-out app): N > 1 puts a round-robin "
        "front on the host port; timers run on one instance at a time",
    )
    parser.add_argument("--port", type=int, default=HOST_PORT, help="public Functions port")
    parser.add_argument("--graph-port", type=int, default=GRAPH_PORT)
    parser.add_argument(
        "--azurite-ports",
        default=",".join(map(str, AZURITE_PORTS)),
        help="blob,queue,table",
    )
    parser.add_argument("--state-dir", type=Path, default=LOCAL, help="logs, CA, Azurite data")
    args = parser.parse_args(argv)
    if args.instances < 1:
        parser.error("--instances must be at least 1")
    return args


def _layout(args: argparse.Namespace) -> Layout:
    try:
        blob, queue, table = (int(p) for p in str(args.azurite_ports).split(","))
    except ValueError:
        raise SystemExit("stack: --azurite-ports takes three ports: blob,queue,table") from None
    return Layout(args.state_dir.resolve(), (blob, queue, table), args.graph_port, args.port)


def say(text: str) -> None:
    print(f"stack: {text}", flush=True)


def run(args: argparse.Namespace) -> int:
    layout = _layout(args)
    _check_ports(layout)
    layout.state.mkdir(parents=True, exist_ok=True)
    azurite_dir = layout.state / "azurite"
    shutil.rmtree(azurite_dir, ignore_errors=True)  # `make up` starts empty
    blob, queue, table = layout.azurite_ports
    say(f"starting Azurite (blob {blob}, queue {queue}, table {table})...")
    azurite = start_azurite(azurite_dir, layout.azurite_ports, in_memory=True)
    print(
        f"stack: starting Graph emulator on https://localhost:{layout.graph_port} ...", flush=True
    )
    emulator = start_graph_emulator(layout)
    many = f" ({args.instances} instances behind a round-robin front)" if args.instances > 1 else ""
    print(
        f"stack: starting Functions host on http://localhost:{layout.host_port}{many} ...",
        flush=True,
    )
    env = host_env(azurite.connection_string, layout)
    hosts = start_functions_hosts(args.instances, layout.logs, env, port=layout.host_port)
    children = [azurite.child, emulator, *hosts.children]
    print(
        f"stack: up. Health: curl -s localhost:{layout.host_port}/api/health\n"
        f"       logs in {layout.logs}; Ctrl-C stops everything.",
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
    for child in children:
        if not child.alive():
            print(f"stack: {child.name} exited:\n{child.log_tail()}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    # Ctrl-C / SIGTERM: one KeyboardInterrupt, then every later signal is ignored, so
    # clean-up always finishes (make forwards SIGTERM on top of the group's own).
    install_stop_signals()
    try:
        return run(parse_args(argv))
    except KeyboardInterrupt:
        print("\nstack: stopping...", flush=True)
        return 0
    except RuntimeError as exc:
        print(f"stack: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_all()
        print("stack: stopped.", flush=True)


if __name__ == "__main__":
    sys.exit(main())
