"""Start and stop the local stack's child processes (Azurite, Graph emulator, host).

Shared by `make up` (emulators/stack.py) and the test fixtures, so both run the stack
the same way. Every child gets its own process group and is stopped with it: no
leftover processes. Each run writes fresh log files (no growth across runs).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType

REPO = Path(__file__).resolve().parent.parent
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    _stopped: bool = field(default=False)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout: float = 10.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self in _live:
            _live.remove(self)
        if self.proc.poll() is None:
            _signal_group(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                _signal_group(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        else:
            _signal_group(self.proc.pid, signal.SIGKILL)  # reap grandchildren, if any

    def kill(self) -> None:
        """Hard kill (chaos tests): no graceful shutdown."""
        _signal_group(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=5)
        self._stopped = True

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


# Children spawned and not yet stopped, oldest first (stop_all stops them newest first).
_live: list[Child] = []


class _Interrupts:
    """SIGINT/SIGTERM handling for a launcher: the first signal raises KeyboardInterrupt
    once, but never between starting a child and recording it (the child would leak);
    later signals are ignored, so clean-up is never aborted (make forwards SIGTERM to
    its child on top of the one sent to the whole process group)."""

    def __init__(self) -> None:
        self.requested = False
        self._depth = 0
        self._pending = False

    def handler(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            return
        self.requested = True
        if self._depth:
            self._pending = True
            return
        raise KeyboardInterrupt

    def __enter__(self) -> None:
        self._depth += 1

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._pending and not self._depth and kind is None:
            self._pending = False
            raise KeyboardInterrupt


_interrupts = _Interrupts()


def install_stop_signals() -> None:
    """For a launcher's main thread: Ctrl-C and SIGTERM stop it once, cleanly."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _interrupts.handler)


def stop_all() -> None:
    """Stop every child still running, newest first. Idempotent; signals arriving
    meanwhile are ignored."""
    _interrupts.requested = True
    while _live:
        child = _live.pop()
        try:
            child.stop()
        except Exception as exc:  # keep stopping the others
            print(f"stopping {child.name} failed: {exc}", file=sys.stderr)


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def spawn(
    name: str,
    argv: Sequence[str],
    log_path: Path,
    env: dict[str, str] | None = None,
    cwd: Path = REPO,
) -> Child:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log, _interrupts:  # one fresh log per run
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        child = Child(name=name, proc=proc, log_path=log_path)
        _live.append(child)
    return child


def wait_until(
    ready: Callable[[], bool], child: Child, timeout: float = 30.0, what: str = "ready"
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited early:\n{child.log_tail()}")
        if ready():
            return
        time.sleep(0.1)
    child.stop()
    raise RuntimeError(f"{child.name} not {what} after {timeout:.0f}s:\n{child.log_tail()}")


@dataclass
class Azurite:
    child: Child
    blob_port: int
    queue_port: int
    table_port: int

    @property
    def connection_string(self) -> str:
        return azurite_connection_string(self.blob_port, self.queue_port, self.table_port)


def azurite_connection_string(blob: int, queue: int, table: int) -> str:
    return (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:{blob}/{AZURITE_ACCOUNT};"
        f"QueueEndpoint=http://127.0.0.1:{queue}/{AZURITE_ACCOUNT};"
        f"TableEndpoint=http://127.0.0.1:{table}/{AZURITE_ACCOUNT};"
    )


def azurite_binary() -> Path:
    path = REPO / "node_modules" / ".bin" / "azurite"
    if not path.exists():
        raise RuntimeError("Azurite is not installed: run `make deps` (npm install)")
    return path


def start_azurite(
    workdir: Path, ports: tuple[int, int, int] | None = None, in_memory: bool = True
) -> Azurite:
    blob, queue, table = ports or (free_port(), free_port(), free_port())
    workdir.mkdir(parents=True, exist_ok=True)
    argv = [
        str(azurite_binary()),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--blobHost", "127.0.0.1", "--blobPort", str(blob),
        "--queueHost", "127.0.0.1", "--queuePort", str(queue),
        "--tableHost", "127.0.0.1", "--tablePort", str(table),
    ]  # fmt: skip
    # Azurite refuses --location together with --inMemoryPersistence.
    argv += ["--inMemoryPersistence"] if in_memory else ["--location", str(workdir)]
    child = spawn("azurite", argv, workdir / "azurite.log")
    wait_until(lambda: all(port_open(p) for p in (blob, queue, table)), child, what="listening")
    return Azurite(child=child, blob_port=blob, queue_port=queue, table_port=table)


def python() -> str:
    return sys.executable


@dataclass
class FunctionsHostProcess:
    child: Child
    port: int
    instance_id: str | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def spawn_functions_host(
    log_path: Path,
    env: dict[str, str],
    port: int,
    app_dir: Path = REPO,
    app_target: str = "function_app:app",
    extra_args: Sequence[str] = (),
) -> FunctionsHostProcess:
    argv = [
        python(), "-m", "emulators.functions_host",
        "--app", app_target, "--app-dir", str(app_dir), "--port", str(port), *extra_args,
    ]  # fmt: skip
    child = spawn("functions-host", argv, log_path, env={"PYTHONPATH": str(REPO), **env})
    return FunctionsHostProcess(child=child, port=port)


def start_functions_host(
    log_path: Path,
    env: dict[str, str],
    port: int | None = None,
    app_dir: Path = REPO,
    app_target: str = "function_app:app",
    extra_args: Sequence[str] = (),
) -> FunctionsHostProcess:
    host = spawn_functions_host(log_path, env, port or free_port(), app_dir, app_target, extra_args)
    wait_until(lambda: port_open(host.port), host.child, timeout=60, what="listening")
    return host


def _listening(port: int) -> Callable[[], bool]:
    return lambda: port_open(port)


@dataclass
class HostCluster:
    """N instances of one app (one host id) behind one URL, like a scaled-out app.
    With one instance there is no front: the host itself listens on the port."""

    hosts: list[FunctionsHostProcess]
    port: int
    front: Child | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def children(self) -> list[Child]:
        return ([self.front] if self.front else []) + [h.child for h in self.hosts]

    def alive(self) -> bool:
        return all(c.alive() for c in self.children)

    def stop(self) -> None:
        for child in self.children:
            child.stop()


def start_functions_hosts(
    instances: int,
    log_dir: Path,
    env: dict[str, str],
    port: int | None = None,
    app_dir: Path = REPO,
    app_target: str = "function_app:app",
    extra_args: Sequence[str] = (),
) -> HostCluster:
    """Start ``instances`` hosts of one app; more than one get their own ports and a
    round-robin front (emulators.functions_host.front) on ``port``."""
    if instances < 1:
        raise ValueError("instances must be at least 1")
    port = port or free_port()
    if instances == 1:
        host = start_functions_host(
            log_dir / "functions-host.log", env, port, app_dir, app_target, extra_args
        )
        return HostCluster(hosts=[host], port=port)
    cluster = HostCluster(hosts=[], port=port)
    try:
        for i in range(instances):
            # WEBSITE_INSTANCE_ID: what Azure sets per instance; it names lock owners.
            instance = f"instance-{i}-{uuid.uuid4().hex[:8]}"
            host = spawn_functions_host(
                log_dir / f"functions-host-{i}.log", {**env, "WEBSITE_INSTANCE_ID": instance},
                free_port(), app_dir, app_target, extra_args,
            )  # fmt: skip
            host.instance_id = instance
            cluster.hosts.append(host)
        for host in cluster.hosts:
            wait_until(_listening(host.port), host.child, timeout=90, what="listening")
        argv = [python(), "-m", "emulators.functions_host.front", "--port", str(port)]
        argv += [arg for h in cluster.hosts for arg in ("--backend", h.base_url)]
        cluster.front = spawn("functions-front", argv, log_dir / "functions-front.log")
        wait_until(_listening(port), cluster.front, what="listening")
    except BaseException:
        cluster.stop()
        raise
    return cluster
