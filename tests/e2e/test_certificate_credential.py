"""GRAPH_CREDENTIAL=certificate end to end: the app in the Functions host gets its Graph
tokens with a client assertion signed by a certificate (azure-identity's
CertificateCredential) from the emulator's token endpoint, where the app registration
holds only that certificate (no secret). The certificate comes as GRAPH_CERTIFICATE
(base64 of the PEM), as it would from a Key Vault reference on Flex Consumption, which
has no file for it."""

from __future__ import annotations

import base64
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from tests.emulator.test_identity import make_cert
from tests.support.functions_host import APP_CLIENT_ID, Stack, Tenant, running_stack, wait_for


def test_the_app_works_with_a_certificate_from_a_setting(tmp_path: Path) -> None:
    cert = make_cert(tmp_path)
    pem = cert.key_pem + cert.pem
    env = {
        "GRAPH_CREDENTIAL": "certificate",
        "GRAPH_CERTIFICATE": base64.b64encode(pem.encode()).decode(),
        "GRAPH_CLIENT_SECRET": "",  # nothing else to fall back on
    }
    with running_stack(env) as stack:
        graph_tenant = str(uuid.uuid4())
        stack.emulator.control("POST", "tenants", {
            "tenantId": graph_tenant, "clientId": APP_CLIENT_ID, "certificates": [cert.pem],
        })  # fmt: skip
        tenant_id = "t-cert"
        r = stack.api("PUT", f"tenants/{tenant_id}", {
            "graphTenantId": graph_tenant, "mode": "bidirectional", "displayName": "Contoso",
        })  # fmt: skip
        assert r.status_code == 201, r.text
        t = Tenant(stack, tenant_id, graph_tenant, "bidirectional", "cert")
        alice = t.add_user("alice")
        room = t.add_space("room1")
        # the app subscribes the room (a Graph write with a certificate-signed token)
        wait_for(lambda: any(
            row["route"] == "/subscriptions" and row["status"] == 201
            for row in stack.emulator.stats()["requests"]
        ), timeout=60)  # fmt: skip
        start = stack.emulator.clock_now().replace(minute=0, second=0, microsecond=0)
        start += timedelta(days=2, hours=1)
        r = stack.api("POST", f"tenants/{tenant_id}/bookings", {
            "spaceId": "room1", "userId": "alice", "start": start.isoformat(),
            "end": (start + timedelta(hours=1)).isoformat(), "subject": "Signed",
        })  # fmt: skip
        assert r.status_code == 201, r.text
        event = _read_event(stack, graph_tenant, alice, r.json()["outlook"]["organizerEventId"])
        assert event["subject"] == "Signed"
        assert room in [a["emailAddress"]["address"].lower() for a in event["attendees"]]
        # no secret was ever accepted for the app: every token came from the certificate
        apps = stack.emulator.control("GET", f"apps?tenantId={graph_tenant}")["value"]
        [app] = [a for a in apps if a["clientId"] == APP_CLIENT_ID]
        assert app["hasSecret"] is False and len(app["certificates"]) == 1


def _read_event(stack: Stack, graph_tenant: str, mailbox: str, event_id: str) -> dict[str, Any]:
    """Read as another app of the tenant (a test reader with a secret)."""
    stack.emulator.control("POST", "apps", {
        "tenantId": graph_tenant, "clientId": "test-reader", "clientSecret": "reader-secret",
    })  # fmt: skip
    token = stack.emulator.http.post(f"/{graph_tenant}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": "test-reader",
        "client_secret": "reader-secret", "scope": "https://graph.microsoft.com/.default",
    }).json()["access_token"]  # fmt: skip
    r = stack.emulator.http.get(f"/v1.0/users/{mailbox}/events/{event_id}",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip
    assert r.status_code == 200, r.text
    return dict(r.json())
