"""The Graph emulator for tests: a session fixture and an SDK client helper.

``graph_emulator`` starts ``python -m emulators.graph --port 0 --ca-out <tmp>`` once per
session, waits for its listening line and stops it at the end. Tests reset the world
(``graph_emulator.reset()``) instead of restarting the process.

``graph_client(emulator, tenant, client, secret)`` builds the real msgraph-sdk
``GraphServiceClient`` against it: ``ClientSecretCredential`` on the emulator's token
endpoint and an httpx client trusting the emulator's CA. Build it inside the event
loop that uses it (httpx connection pools belong to one loop).
"""

from __future__ import annotations

import os
import select
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
LISTENING = "graph-emulator listening on "


@dataclass
class GraphEmulator:
    base_url: str  # https://localhost:PORT
    ca_path: str
    process: subprocess.Popen[bytes]
    log_path: Path
    _http: httpx.Client | None = field(default=None, repr=False)

    @property
    def graph_url(self) -> str:
        return f"{self.base_url}/v1.0"

    @property
    def port(self) -> int:
        return int(self.base_url.rsplit(":", 1)[1])

    def ssl_context(self) -> ssl.SSLContext:
        """A client SSL context trusting the emulator's CA (for httpx ``verify=``)."""
        return ssl.create_default_context(cafile=self.ca_path)

    # -- control API -----------------------------------------------------------------
    @property
    def http(self) -> httpx.Client:
        """A plain HTTP client trusting the emulator's CA, for the control API."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.base_url, verify=self.ssl_context(), timeout=30)
        return self._http

    def control(self, method: str, path: str, json: Any = None) -> Any:
        resp = self.http.request(method, f"/_emulator/{path.lstrip('/')}", json=json)
        resp.raise_for_status()
        return resp.json()

    def reset(self) -> None:
        self.control("POST", "reset")

    def add_tenant(self, tenant_id: str, client_id: str, secret: str, **extra: Any) -> Any:
        body = {"tenantId": tenant_id, "clientId": client_id, "clientSecret": secret, **extra}
        return self.control("POST", "tenants", body)

    def add_mailbox(
        self,
        tenant_id: str,
        address: str,
        display_name: str,
        kind: str = "user",
        policy: dict[str, Any] | None = None,
        **extra: Any,
    ) -> Any:
        body: dict[str, Any] = {
            "tenantId": tenant_id,
            "address": address,
            "displayName": display_name,
            "kind": kind,
            **extra,
        }
        if policy is not None:
            body["policy"] = policy
        return self.control("POST", "mailboxes", body)

    def clock_now(self) -> datetime:
        return datetime.fromisoformat(self.control("GET", "clock")["now"])

    def clock_advance(self, seconds: float) -> datetime:
        return datetime.fromisoformat(
            self.control("POST", "clock", {"advanceSeconds": seconds})["now"]
        )

    def clock_set(self, when: datetime | str) -> datetime:
        text = when.isoformat() if isinstance(when, datetime) else when
        return datetime.fromisoformat(self.control("POST", "clock", {"set": text})["now"])

    def set_faults(self, **faults: Any) -> Any:
        return self.control("PUT", "faults", faults)

    def evict_delta(self, mailbox: str | None = None) -> Any:
        return self.control("POST", "delta/evict", {"mailbox": mailbox} if mailbox else {})

    def stats(self) -> Any:
        return self.control("GET", "stats")

    def clear_stats(self) -> Any:
        return self.control("DELETE", "stats")

    def flush_notifications(self) -> Any:
        """Deliver due notifications and wait for the answers. Blocking: from a test whose
        webhook receiver runs in the same event loop, use ``aflush_notifications``."""
        return self.control("POST", "notifications/flush")

    def lifecycle(self, subscription_id: str, event: str) -> Any:
        return self.control(
            "POST", f"subscriptions/{subscription_id}/lifecycle", {"lifecycleEvent": event}
        )

    # -- control API without blocking the caller's event loop -------------------------
    async def acontrol(self, method: str, path: str, json: Any = None) -> Any:
        async with httpx.AsyncClient(
            base_url=self.base_url, verify=self.ssl_context(), timeout=60
        ) as http:
            resp = await http.request(method, f"/_emulator/{path.lstrip('/')}", json=json)
        resp.raise_for_status()
        return resp.json()

    async def aflush_notifications(self) -> Any:
        return await self.acontrol("POST", "notifications/flush")

    async def alifecycle(self, subscription_id: str, event: str) -> Any:
        return await self.acontrol(
            "POST", f"subscriptions/{subscription_id}/lifecycle", {"lifecycleEvent": event}
        )

    async def aclock_advance(self, seconds: float) -> datetime:
        body = await self.acontrol("POST", "clock", {"advanceSeconds": seconds})
        return datetime.fromisoformat(body["now"])

    # -- process -------------------------------------------------------------------
    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 10.0) -> int:
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.process.stdout is not None:
            self.process.stdout.close()
        return int(self.process.returncode)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


def start_graph_emulator(
    workdir: Path, extra_args: Sequence[str] = (), timeout: float = 30.0
) -> GraphEmulator:
    """Start an emulator process on a free port (CA and log in ``workdir``)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_out = workdir / "graph-emulator-ca.pem"
    log_path = workdir / "graph-emulator.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "emulators.graph",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--ca-out",
                str(ca_out),
                *extra_args,
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            break
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 1)
            if not chunk:
                break
            line += chunk
    text = line.decode().strip()
    if not text.startswith(LISTENING):
        emulator = GraphEmulator("https://localhost:0", str(ca_out), proc, log_path)
        emulator.stop()
        raise RuntimeError(f"graph emulator did not start: {text!r}\n{emulator.log_tail()}")
    url, _, ca = text[len(LISTENING) :].partition(" ca=")
    return GraphEmulator(url, ca, proc, log_path)


@pytest.fixture(scope="session")
def graph_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GraphEmulator]:
    emulator = start_graph_emulator(tmp_path_factory.mktemp("graph-emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()


def graph_client(
    emulator: GraphEmulator,
    tenant_id: str,
    client_id: str,
    secret: str,
    *,
    retry: bool = True,
) -> Any:
    """A real ``msgraph.GraphServiceClient`` talking to the emulator.

    ``retry=False`` turns the SDK's RetryHandler off (to observe raw 429/503 answers).
    """
    from azure.identity import ClientSecretCredential
    from kiota_http.middleware.options import RetryHandlerOption
    from msgraph import GraphServiceClient
    from msgraph.graph_request_adapter import GraphRequestAdapter
    from msgraph_core import GraphClientFactory
    from msgraph_core.authentication import AzureIdentityAuthenticationProvider

    credential = ClientSecretCredential(
        tenant_id,
        client_id,
        secret,
        authority=emulator.base_url,
        disable_instance_discovery=True,
        connection_verify=emulator.ca_path,
    )
    # The SDK only sends tokens to allowed hosts (Graph's national clouds by default).
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=["localhost"]
    )
    options: dict[str, Any] | None = None
    if not retry:
        option = RetryHandlerOption(max_retries=0, should_retry=False)
        options = {option.get_key(): option}
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=emulator.ssl_context(), timeout=30), options=options
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = emulator.graph_url
    return GraphServiceClient(request_adapter=adapter)
