"""API_AUTH=entra and API_AUTH=key through the real local host: who may call what.

Each mode runs in its own host process (the auth level of a route is fixed when the
app is loaded), sharing the session's Azurite and Graph emulator; those hosts run no
queue or timer functions, so the session host's workers are undisturbed. The
emulator's token endpoint issues the bearer tokens (POST /_emulator/apps).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from emulators.processes import HostCluster, start_functions_hosts
from tests.support.cli import cli_env, run_cli
from tests.support.functions_host import Stack

# The app roles as docs/deploy.md names them (an interface: app registrations use them).
ROLE_BOOKINGS, ROLE_READ, ROLE_ADMIN = "Bookings.ReadWrite", "Sync.Read", "Tenants.Bind"
SECRET_KEY = "test-app-secret-key-" + "k" * 32
FUNCTION_KEY = "test-function-key-0123456789"
QUIET = ("sync_mailbox", "process_lifecycle", "apply_outbound", "renew_subscriptions",
         "reconcile_all")  # fmt: skip


def private_host(stack: Stack, tmp: Path, **extra: str) -> HostCluster:
    env = {**stack.env, "APP_SECRET_KEY": SECRET_KEY, **extra,
           **{f"AzureWebJobs.{name}.Disabled": "true" for name in QUIET}}  # fmt: skip
    return start_functions_hosts(1, tmp, env)


@dataclass
class Entra:
    stack: Stack
    host: HostCluster
    directory: str
    audience: str
    http: httpx.Client

    def token(self, client: str) -> str:
        r = self.stack.emulator.http.post(f"/{self.directory}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": client, "client_secret": "s3",
            "scope": f"{self.audience}/.default",
        })  # fmt: skip
        r.raise_for_status()
        return str(r.json()["access_token"])

    def call(self, method: str, path: str, client: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(client)}"} if client else {}
        return self.http.request(method, f"/api/{path}", headers=headers, **kw)


CLIENTS = {
    "backend": [ROLE_BOOKINGS],
    "reader": [ROLE_READ],
    "norole": [],
    "admin": [ROLE_BOOKINGS, ROLE_ADMIN],
    "stranger": [ROLE_BOOKINGS],  # has the role, but no tenant was granted to it
}


@pytest.fixture(scope="module")
def entra(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Entra]:
    directory, audience = str(uuid.uuid4()), f"api://bookker-sync-{uuid.uuid4().hex[:6]}"
    for client, roles in CLIENTS.items():
        stack.emulator.control("POST", "apps", {
            "tenantId": directory, "clientId": client, "clientSecret": "s3",
            "audience": audience, "roles": roles,
        })  # fmt: skip
    host = private_host(
        stack, tmp_path_factory.mktemp("entra-host"), API_AUTH="entra",
        API_AUTH_ISSUER=f"{stack.emulator.base_url}/{directory}/v2.0", API_AUTH_AUDIENCE=audience,
    )  # fmt: skip
    http = httpx.Client(base_url=host.base_url, timeout=60)
    try:
        yield Entra(stack, host, directory, audience, http)
    finally:
        http.close()
        host.stop()


def grant(stack: Stack, tmp: Path, *args: str) -> None:
    out = run_cli("clients", "grant", *args, env=cli_env(stack), cwd=tmp)
    assert out.code == 0, out.err


def test_entra_bearer_tokens_roles_and_tenants(entra: Entra, tmp_path: Path) -> None:
    mine, other = "t-" + uuid.uuid4().hex[:8], "t-" + uuid.uuid4().hex[:8]
    grant(entra.stack, tmp_path, "backend", mine, other)
    grant(entra.stack, tmp_path, "reader", "--all-tenants")
    grant(entra.stack, tmp_path, "norole", "--all-tenants")
    grant(entra.stack, tmp_path, "admin", mine)
    body = {"mode": "unidirectional", "displayName": "Mine"}
    # No token, a broken one, one for another audience: 401 with a Bearer challenge.
    r = entra.call("PUT", f"tenants/{mine}", json=body)
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")
    r = entra.http.put(f"/api/tenants/{mine}", json=body,
                       headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})  # fmt: skip
    assert r.status_code == 401, r.text
    # Roles: the read-only role can't write; no role, nothing.
    assert entra.call("PUT", f"tenants/{mine}", "reader", json=body).status_code == 403
    assert entra.call("PUT", f"tenants/{mine}", "norole", json=body).status_code == 403
    r = entra.call("PUT", f"tenants/{mine}", "backend", json=body)
    assert r.status_code == 201, r.text
    # Tenants: a credential acts only for the tenants it was given.
    assert entra.call("GET", f"tenants/{mine}/bookings", "stranger").status_code == 403
    r = entra.call("PUT", f"tenants/t-{uuid.uuid4().hex[:8]}", "backend", json=body)
    assert r.status_code == 403 and "may not act for" in r.text
    assert entra.call("GET", f"tenants/{mine}/bookings", "backend").json() == {"value": []}
    assert entra.call("GET", f"tenants/{mine}/consent", "admin", follow_redirects=False
                      ).status_code == 302  # fmt: skip
    # Under entra only consent (or the admin role) binds a directory.
    directory = str(uuid.uuid4())
    bind = {**body, "graphTenantId": directory}
    r = entra.call("PUT", f"tenants/{mine}", "backend", json=bind)
    assert r.status_code == 403 and "admin consent" in r.text
    r = entra.call("PUT", f"tenants/{mine}", "admin", json=bind)
    assert r.status_code == 200 and r.json()["graphTenantId"] == directory


def test_entra_health_and_status_need_the_read_role(entra: Entra, tmp_path: Path) -> None:
    grant(entra.stack, tmp_path, "reader", "--all-tenants")
    anonymous = entra.call("GET", "health")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    detail = entra.call("GET", "health", "reader").json()
    assert "tenants" in detail and "poisonQueues" in detail
    assert entra.call("GET", "health/details").status_code == 401
    assert entra.call("GET", "health/details", "backend").status_code == 403
    assert "tenants" in entra.call("GET", "health/details", "reader").json()
    assert entra.call("GET", "status").status_code == 401
    assert entra.call("GET", "status", "backend").status_code == 403
    page = entra.call("GET", "status", "reader")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")


@dataclass
class Keyed:
    host: HostCluster
    http: httpx.Client

    def get(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.get(path, **kw)

    def post(self, path: str, **kw: Any) -> httpx.Response:
        return self.http.post(path, **kw)


@pytest.fixture(scope="module")
def keyed(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Keyed]:
    host = private_host(stack, tmp_path_factory.mktemp("key-host"), API_AUTH="key",
                        FUNCTIONS_HOST_FUNCTION_KEY=FUNCTION_KEY)  # fmt: skip
    http = httpx.Client(base_url=host.base_url, timeout=60)
    try:
        yield Keyed(host, http)
    finally:
        http.close()
        host.stop()


def test_key_mode_anonymous_health_names_no_tenant(stack: Stack, keyed: Keyed) -> None:
    """The deploy guide's mode of old: anonymous GET /api/health listed every customer."""
    t = stack.new_tenant("unidirectional")
    anonymous = keyed.get("/api/health")
    assert anonymous.status_code == 200 and anonymous.json() == {"status": "ok"}
    assert t.id not in anonymous.text
    assert keyed.get("/api/health/details").status_code == 401
    detail = keyed.get("/api/health/details", headers={"x-functions-key": FUNCTION_KEY})
    assert detail.status_code == 200 and t.id in detail.text
    assert keyed.get("/api/status").status_code == 401
    assert keyed.get(f"/api/tenants/{t.id}/bookings").status_code == 401
    r = keyed.get(f"/api/tenants/{t.id}/bookings", headers={"x-functions-key": FUNCTION_KEY})
    assert r.status_code == 200, r.text
    # The webhooks and the consent callback stay anonymous (Graph and browsers call them).
    assert keyed.post("/api/graph/notifications", json={"value": []}).status_code == 202
    assert keyed.get("/api/consent/callback").status_code == 400
    # The app's own key and the function key never reach the log or an answer.
    log = keyed.host.hosts[0].child.log_path.read_text(errors="replace")
    for secret in (SECRET_KEY, FUNCTION_KEY):
        assert secret not in log and secret not in detail.text
