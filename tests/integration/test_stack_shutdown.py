"""`make up` stops cleanly: SIGTERM to make's process group (make forwards a second
one to the launcher) leaves no process running, no port bound and no traceback."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from emulators.processes import REPO, free_port, port_open, python, spawn


def descendants(root: int) -> set[int]:
    """Every process below ``root`` (children start their own sessions, so the
    process group alone would miss them)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    todo = [root]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_for(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.2)


def exercise_app(base: str, graph: str, ca: Path) -> None:
    """Make the app open its storage and Graph clients, whose sessions must be closed
    on stop (else: 'Unclosed client session' tracebacks at interpreter exit)."""
    graph_tenant = str(uuid.uuid4())
    with httpx.Client(
        base_url=graph, verify=ssl.create_default_context(cafile=ca), timeout=30
    ) as emulator:
        r = emulator.post("/_emulator/tenants", json={
            "tenantId": graph_tenant, "clientId": "bookker-sync-local",
            "clientSecret": "bookker-sync-local-secret",
        })  # fmt: skip
        r.raise_for_status()
        room = f"room-{uuid.uuid4().hex[:6]}@contoso.test"
        emulator.post("/_emulator/mailboxes", json={
            "tenantId": graph_tenant, "address": room, "displayName": "Room", "kind": "room",
        }).raise_for_status()  # fmt: skip
    with httpx.Client(base_url=base, timeout=30) as app:
        tenant = "t-" + uuid.uuid4().hex[:8]
        for _ in range(2):  # both instances, round-robin
            r = app.put(f"/api/tenants/{tenant}", json={
                "graphTenantId": graph_tenant, "mode": "bidirectional", "displayName": "Contoso",
            })  # fmt: skip
            assert r.status_code in (200, 201), r.text
        r = app.put(f"/api/tenants/{tenant}/spaces/s1", json={
            "name": "S", "rules": {}, "resourceEmail": room,
        })  # fmt: skip
        assert r.status_code in (200, 201), r.text
    time.sleep(2)  # the room's subscription is made in the background (Graph calls)


@pytest.mark.parametrize("via", ["python", "make"])
def test_sigterm_twice_to_the_group_leaves_nothing_behind(tmp_path, via):
    ports = {name: free_port() for name in ("blob", "queue", "table", "graph", "host")}
    state = tmp_path / "state"
    args = [
        "--state-dir", str(state), "--port", str(ports["host"]),
        "--graph-port", str(ports["graph"]),
        "--azurite-ports", f"{ports['blob']},{ports['queue']},{ports['table']}",
    ]  # fmt: skip
    if via == "make":
        # `-o deps`: the venv and node_modules are there; don't reinstall anything.
        argv = ["make", "-s", "-o", "deps", "up", "INSTANCES=2", f"STACK_ARGS={' '.join(args)}"]
    else:
        argv = [python(), "-m", "emulators.stack", "--instances", "2", *args]
    launcher = spawn("stack", argv, tmp_path / "stack.out")  # its own process group
    base = f"http://127.0.0.1:{ports['host']}"
    tree: set[int] = set()
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{base}/api/health", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(lambda: healthy() or not launcher.alive(), timeout=180)
        assert launcher.alive(), launcher.log_tail()
        exercise_app(base, f"https://localhost:{ports['graph']}", state / "emulator-ca.pem")
        tree = descendants(launcher.proc.pid)
        assert len(tree) >= 5  # Azurite, Graph emulator, two hosts, the front

        # What `kill -TERM -<make's pgid>` does to `make up`: the launcher gets the
        # group's SIGTERM and, a moment later, the one make forwards (here sent
        # twice to the group, so make itself forwards two more).
        os.killpg(launcher.proc.pid, signal.SIGTERM)
        time.sleep(0.3)
        os.killpg(launcher.proc.pid, signal.SIGTERM)
        launcher.proc.wait(timeout=60)
        left = [pid for pid in tree if running(pid)]
    finally:
        # Whatever happened, this test leaves nothing running behind it.
        launcher.stop(timeout=60)
        for pid in tree:
            if running(pid):
                os.kill(pid, signal.SIGKILL)

    # make dies of the signal once its child is done; the launcher itself exits 0
    assert launcher.proc.returncode == (-signal.SIGTERM if via == "make" else 0)
    assert not left, f"still running: {left}"
    assert not [name for name, port in ports.items() if port_open(port)]
    out = launcher.log_path.read_text()
    assert "stack: stopped." in out and "Traceback" not in out, out
    for log in (state / "logs").glob("*.log"):
        text = log.read_text()
        assert "Traceback" not in text and "Unclosed" not in text, f"{log.name}:\n{text[-3000:]}"
    hosts = sorted((state / "logs").glob("functions-host-*.log"))
    assert len(hosts) == 2 and all("Host stopped" in h.read_text() for h in hosts)


def test_each_run_starts_a_fresh_log(tmp_path):
    log = tmp_path / "child.log"
    for word in ("first", "second"):
        child = spawn("echo", [python(), "-c", f"print('{word}')"], log)
        child.proc.wait(timeout=30)
        child.stop()
    assert log.read_text() == "second\n"


def test_stack_refuses_busy_ports(tmp_path):
    with __import__("socket").socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        busy = sock.getsockname()[1]
        r = subprocess.run(
            [python(), "-m", "emulators.stack", "--port", str(busy), "--state-dir",
             str(tmp_path), "--graph-port", str(free_port()),
             "--azurite-ports", f"{free_port()},{free_port()},{free_port()}"],
            cwd=REPO, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert r.returncode != 0 and f"port(s) {busy} already in use" in r.stderr
    assert "Traceback" not in r.stderr
