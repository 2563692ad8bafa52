"""The whole local stack for end-to-end tests: Azurite + Graph emulator + the real
function app in the local Functions host, wired like `make up`.

Tests isolate themselves by using fresh tenant ids (Bookker and Graph) and fresh
mailbox addresses, so one stack serves the whole session.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.processes import (
    REPO,
    Azurite,
    FunctionsHostProcess,
    HostCluster,
    start_azurite,
    start_functions_host,
    start_functions_hosts,
)
from tests.support.graph_emulator import GraphEmulator

APP_CLIENT_ID = "bookker-sync-local"
APP_SECRET = "bookker-sync-local-secret"
TIMERS = ("renew_subscriptions", "reconcile_all", "deliver_events", "purge_expired")


def app_env(azurite: Azurite, emulator: GraphEmulator, host_port: int) -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "FUNCTIONS_WORKER_RUNTIME": "python",
        "GRAPH_CLIENT_ID": APP_CLIENT_ID,
        "GRAPH_CLIENT_SECRET": APP_SECRET,
        "GRAPH_BASE_URL": emulator.graph_url,
        "GRAPH_AUTHORITY": emulator.base_url,
        "GRAPH_CA_BUNDLE": emulator.ca_path,
        "WEBHOOK_BASE_URL": f"http://localhost:{host_port}/api",
        "RECONCILE_SCHEDULE": "0 */15 * * * *",
        "RENEW_SCHEDULE": "0 */10 * * * *",
        "FUNCTIONS_REQUEST_BODY_SIZE_LIMIT": "4194304",  # as infra/main.bicep sets it
        "EVENTS_ALLOW_LOCAL_HTTP": "true",
        "FUNCTIONS_HOST_CLOCK_URL": f"{emulator.base_url}/_emulator/clock",
        "FUNCTIONS_HOST_CLOCK_CA": emulator.ca_path,
        "FUNCTIONS_HOST_CLOCK_HOOK": "bookker_sync.clock:set_offset_seconds",
        "FUNCTIONS_HOST_SHUTDOWN_HOOK": "bookker_sync.sync.services:close_loop_services",
        # Timers run only when a test asks (admin endpoint), so tests stay deterministic.
        **{f"AzureWebJobs.{name}.Disabled": "true" for name in TIMERS},
    }


@dataclass
class Stack:
    azurite: Azurite
    emulator: GraphEmulator
    host: FunctionsHostProcess
    env: dict[str, str] = field(default_factory=dict)
    workdir: Path | None = None
    cluster: HostCluster | None = None  # several instances behind ``host`` (the front)
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.host.base_url, timeout=60)

    # -- storage faults (private stacks with on-disk Azurite only) ----------------------
    def stop_storage(self) -> None:
        """Azurite goes away (connections refused) until start_storage."""
        self.azurite.child.stop()

    def start_storage(self) -> None:
        assert self.workdir is not None, "only private stacks restart their storage"
        a = self.azurite
        self.azurite = start_azurite(
            self.workdir / "azurite", (a.blob_port, a.queue_port, a.table_port), in_memory=False
        )

    def hang_storage(self) -> None:
        """Azurite stops answering (SIGSTOP): connections open, nothing comes back."""
        os.killpg(self.azurite.child.proc.pid, signal.SIGSTOP)

    def resume_storage(self) -> None:
        os.killpg(self.azurite.child.proc.pid, signal.SIGCONT)

    def kill_host(self) -> None:
        """Hard-kill the Functions host (no graceful shutdown), as a crash would; with
        several instances, the first one (the others carry on behind the front)."""
        if self.cluster is not None:
            self.cluster.hosts[0].child.kill()
            return
        self.host.child.kill()

    def read_storage(self, work: Callable[[Any], Any]) -> Any:
        """``await work(repositories)`` against the stack's Azurite, from test code."""

        async def go() -> Any:
            from bookker_sync.settings import StorageSettings
            from bookker_sync.storage.clients import build_clients
            from bookker_sync.storage.repositories import Repositories

            clients = build_clients(
                StorageSettings(connection_string=self.azurite.connection_string)
            )
            try:
                return await work(Repositories(clients.tables))
            finally:
                await clients.close()

        return asyncio.run(go())

    def wait_mailbox_idle(self, tenant_id: str, mailbox: str, timeout: float = 60) -> None:
        """Until no sync of the mailbox is running or owed. A sync run that finds another
        worker (e.g. one a notification started) holding the mailbox's lease only marks
        it dirty and returns; the holder then runs again. Tests that read the outcome of
        "a sync" wait for that too."""

        def idle() -> bool:
            found = self.read_storage(lambda r: r.mailboxes.find(tenant_id, mailbox.lower()))
            state = found.value if found else None
            return state is None or (state.lease_owner is None and not state.dirty)

        wait_for(idle, timeout=timeout)

    def restart_host(self) -> None:
        if self.cluster is not None:
            return  # a scaled-out app carries on with the instances left
        assert self.workdir is not None, "only private stacks restart their host"
        self.host = start_functions_host(
            self.workdir / "host-restarted.log", self.env, port=self.host.port
        )

    @property
    def webhook_url(self) -> str:
        return f"http://localhost:{self.host.port}/api/graph/notifications"

    def api(self, method: str, path: str, json: Any = None, **kw: Any) -> httpx.Response:
        return self.http.request(method, f"/api/{path.lstrip('/')}", json=json, **kw)

    def run_function(self, name: str, input: Any = None) -> dict[str, Any]:
        """POST /admin/functions/{name} and wait for the outcome."""
        body: dict[str, Any] = {}
        if input is not None:
            body["input"] = input if isinstance(input, str) else __import__("json").dumps(input)
        r = self.http.post(f"/admin/functions/{name}", params={"wait": "true"}, json=body)
        r.raise_for_status()
        result: dict[str, Any] = r.json()
        return result

    def sync_mailbox(self, tenant_id: str, mailbox: str) -> dict[str, Any]:
        """A sync of the mailbox, finished: the run succeeded and no sync of it is still
        running or owed (a run that found another worker holding the lease only marked
        the mailbox dirty; the holder runs again)."""
        out = self.run_function("sync_mailbox", {"tenantId": tenant_id, "mailbox": mailbox})
        assert out["status"] == "Succeeded", out
        self.wait_mailbox_idle(tenant_id, mailbox)
        return out

    def new_tenant(self, mode: str = "bidirectional") -> Tenant:
        graph_tenant = str(uuid.uuid4())
        self.emulator.add_tenant(graph_tenant, APP_CLIENT_ID, APP_SECRET)
        tenant_id = "t-" + uuid.uuid4().hex[:10]
        r = self.api("PUT", f"tenants/{tenant_id}", {
            "graphTenantId": graph_tenant, "mode": mode, "displayName": "Contoso",
        })  # fmt: skip
        assert r.status_code in (200, 201), r.text
        return Tenant(self, tenant_id, graph_tenant, mode, uuid.uuid4().hex[:6])


@dataclass
class Tenant:
    stack: Stack
    id: str
    graph_tenant_id: str
    mode: str
    tag: str  # makes mailbox addresses unique per test

    def address(self, local: str) -> str:
        return f"{local}-{self.tag}@contoso.test"

    def add_user(
        self,
        user_id: str,
        groups: list[str] | None = None,
        rules: dict[str, Any] | None = None,
        mailbox: bool = True,
    ) -> str:
        email = self.address(user_id)
        if mailbox:
            self.stack.emulator.add_mailbox(self.graph_tenant_id, email, user_id.title(), "user")
        body: dict[str, Any] = {"email": email, "groups": groups or []}
        if rules:
            body["rules"] = rules
        r = self.stack.api("PUT", f"tenants/{self.id}/users/{user_id}", body)
        assert r.status_code in (200, 201), r.text
        return email

    def add_space(
        self,
        space_id: str,
        rules: dict[str, Any] | None = None,
        room: bool = True,
        policy: dict[str, Any] | None = None,
    ) -> str | None:
        email = self.address(space_id) if room else None
        if email:
            self.stack.emulator.add_mailbox(
                self.graph_tenant_id, email, space_id.title(), "room", policy=policy
            )
        body: dict[str, Any] = {"name": space_id.title(), "rules": rules or {}}
        if email:
            body["resourceEmail"] = email
        r = self.stack.api("PUT", f"tenants/{self.id}/spaces/{space_id}", body)
        assert r.status_code in (200, 201), r.text
        return email

    def add_ghost_space(self, space_id: str, name: str, display_name: str = "Contoso") -> str:
        """A space whose room mailbox does not exist, so its subscription fails for real.
        A bidirectional tenant's space PUT refuses such a room (422), so it is stored while
        the tenant is unidirectional, then the tenant goes bidirectional (like a room
        deleted after it was configured)."""
        assert self.mode == "bidirectional"
        ghost = self.address(space_id)
        for mode, space in (("unidirectional", True), ("bidirectional", False)):
            r = self.stack.api("PUT", f"tenants/{self.id}", {
                "graphTenantId": self.graph_tenant_id, "mode": mode, "displayName": display_name,
            })  # fmt: skip
            assert r.status_code == 200, r.text
            if space:
                r = self.stack.api("PUT", f"tenants/{self.id}/spaces/{space_id}",
                                   {"name": name, "resourceEmail": ghost})  # fmt: skip
                assert r.status_code in (200, 201), r.text
        return ghost

    def bookings(self, **params: str) -> list[dict[str, Any]]:
        r = self.stack.api("GET", f"tenants/{self.id}/bookings", params=params)
        assert r.status_code == 200, r.text
        value: list[dict[str, Any]] = r.json()["value"]
        return value


@pytest.fixture(scope="session")
def stack(
    azurite: Azurite, graph_emulator: GraphEmulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    from emulators.processes import free_port

    port = free_port()
    log = Path(tmp_path_factory.mktemp("app-host")) / "host.log"
    host = start_functions_host(log, app_env(azurite, graph_emulator, port), port=port)
    s = Stack(azurite, graph_emulator, host, env=app_env(azurite, graph_emulator, port))
    try:
        yield s
    finally:
        s.http.close()
        host.child.stop()


@contextlib.contextmanager
def running_stack(
    extra_env: dict[str, str] | None = None,
    instances: int = 1,
    *,
    persistent_storage: bool = False,
) -> Iterator[Stack]:
    """A private stack (own Azurite, emulator and host) for chaos tests and benches;
    ``instances`` > 1: that many host processes behind one round-robin front, like a
    scaled-out app (``Stack.cluster``). ``persistent_storage``: Azurite keeps its data
    on disk, so stop_storage / start_storage lose nothing."""
    from emulators.processes import free_port
    from tests.support.graph_emulator import start_graph_emulator

    workdir = Path(tempfile.mkdtemp(prefix="bookker-stack-"))
    azurite = start_azurite(workdir / "azurite", in_memory=not persistent_storage)
    emulator = start_graph_emulator(workdir / "emulator")
    port = free_port()
    env = {**app_env(azurite, emulator, port), **(extra_env or {})}
    host = None
    cluster = None
    stack_ref: list[Stack] = []
    try:
        if instances > 1:
            cluster = start_functions_hosts(instances, workdir / "hosts", env, port=port)
            assert cluster.front is not None
            host = FunctionsHostProcess(child=cluster.front, port=port)
        else:
            host = start_functions_host(workdir / "host.log", env, port=port)
        stack = Stack(azurite, emulator, host, env=env, workdir=workdir, cluster=cluster)
        stack_ref.append(stack)
        try:
            yield stack
        finally:
            stack.http.close()
            stack.host.child.stop()
    finally:
        if cluster is not None:
            cluster.stop()
        if host is not None:
            host.child.stop()
        emulator.stop()
        if stack_ref:  # its storage may have been hung, or restarted
            with contextlib.suppress(Exception):
                stack_ref[0].resume_storage()
            stack_ref[0].azurite.child.stop()
        azurite.child.stop()
        if os.environ.get("KEEP_STACK_LOGS"):  # debugging a failed chaos seed
            print(f"stack logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


StartHosts = Callable[..., HostCluster]


@pytest.fixture
def start_hosts(tmp_path: Path) -> Iterator[StartHosts]:
    """``start_hosts(n, env, app_dir=REPO)``: n instances of one app sharing one host id
    and storage, behind one URL (a round-robin front when n > 1), like a scaled-out
    Flex Consumption app. Everything started is stopped after the test."""
    started: list[HostCluster] = []

    def start(
        n: int, env: dict[str, str], app_dir: Path = REPO, app_target: str = "function_app:app"
    ) -> HostCluster:
        log_dir = tmp_path / f"hosts-{len(started)}"
        cluster = start_functions_hosts(n, log_dir, env, app_dir=app_dir, app_target=app_target)
        started.append(cluster)
        return cluster

    yield start
    for cluster in started:
        cluster.stop()


def wait_for(predicate: Any, timeout: float = 20.0, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)
