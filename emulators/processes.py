"""Start and stop the local stack's child processes (Azurite, Graph emulator, host).

Shared by `make up` (emulators/stack.py) and the test fixtures, so both run the stack
the same way. Every child gets its own process group and is stopped with it: no
leftover processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

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
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child process
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    return Child(name=name, proc=proc, log_path=log_path)


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

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_functions_host(
    log_path: Path,
    env: dict[str, str],
    port: int | None = None,
    app_dir: Path = REPO,
    app_target: str = "function_app:app",
    extra_args: Sequence[str] = (),
) -> FunctionsHostProcess:
    port = port or free_port()
    argv = [
        python(), "-m", "emulators.functions_host",
        "--app", app_target, "--app-dir", str(app_dir), "--port", str(port), *extra_args,
    ]  # fmt: skip
    child = spawn("functions-host", argv, log_path, env={"PYTHONPATH": str(REPO), **env})
    wait_until(lambda: port_open(port), child, timeout=60, what="listening")
    return FunctionsHostProcess(child=child, port=port)
