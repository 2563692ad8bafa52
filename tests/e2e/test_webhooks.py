"""graph_notifications / graph_lifecycle through the local host: handshake, item
authentication, one poke per mailbox, nothing enqueued for bad input."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories, SubscriptionIndex
from tests.support.functions_host import Stack, wait_for
from tests.support.secrets import local_client_state_hash


def register(stack: Stack, tenant_id: str, mailbox: str, graph_tenant: str) -> tuple[str, str]:
    sub_id, secret = str(uuid.uuid4()), "state-" + uuid.uuid4().hex

    async def put() -> None:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            await Repositories(clients.tables).subscription_ids.upsert(sub_id, "s", SubscriptionIndex(
                tenant_id=tenant_id, mailbox=mailbox, graph_tenant_id=graph_tenant,
                client_state_hash=local_client_state_hash(secret),
            ))  # fmt: skip
        finally:
            await clients.close()

    asyncio.run(put())
    return sub_id, secret


def item(sub_id: str, secret: str, tenant: str, **extra) -> dict:
    return {"subscriptionId": sub_id, "clientState": secret, "tenantId": tenant,
            "changeType": "updated", "resource": "Users/x/Events/y",
            "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "id": "y"}, **extra}  # fmt: skip


@pytest.fixture
def poke_target(stack: Stack):
    """A registered subscription of a unidirectional tenant: a poke that gets through
    is recorded by the worker (last notification time) and costs no Graph call."""
    t = stack.new_tenant("unidirectional")
    mailbox = t.address("room")
    sub_id, secret = register(stack, t.id, mailbox, t.graph_tenant_id)
    return sub_id, secret, t.graph_tenant_id, t.id, mailbox


def last_notification(stack: Stack, tenant_id: str, mailbox: str):
    async def read():
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            found = await Repositories(clients.tables).mailboxes.find(tenant_id, mailbox)
            return found.value.last_notification_at if found else None
        finally:
            await clients.close()

    return asyncio.run(read())


@pytest.mark.parametrize("path", ["graph/notifications", "graph/lifecycle"])
def test_validation_handshake_echoes_token_as_plain_text(stack: Stack, path: str):
    token = "<script>alert('x')</script> & more=1"
    r = stack.http.post(f"/api/{path}", params={"validationToken": token})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.text == token


def test_valid_batch_is_one_poke_per_mailbox(stack: Stack, poke_target):
    sub_id, secret, graph_tenant, tenant_id, mailbox = poke_target
    batch = {"value": [item(sub_id, secret, graph_tenant) for _ in range(5)]}
    r = stack.http.post("/api/graph/notifications", json=batch)
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": 5, "rejected": 0}
    assert r.elapsed.total_seconds() < 3
    wait_for(lambda: last_notification(stack, tenant_id, mailbox) is not None)


@pytest.mark.parametrize("bad", [
    {"clientState": "wrong"}, {"clientState": None}, {"tenantId": "other-tenant"},
    {"subscriptionId": "unknown-subscription"}, {"subscriptionId": 12},
])  # fmt: skip
def test_wrong_client_state_tenant_or_subscription_is_rejected(stack: Stack, poke_target, bad):
    sub_id, secret, graph_tenant, tenant_id, mailbox = poke_target
    r = stack.http.post(
        "/api/graph/notifications", json={"value": [{**item(sub_id, secret, graph_tenant), **bad}]}
    )
    assert r.status_code == 202
    assert r.json() == {"accepted": 0, "rejected": 1}
    time.sleep(1.0)  # a poke would have been processed by now
    assert last_notification(stack, tenant_id, mailbox) is None


@pytest.mark.parametrize("body", [b"", b"{", b"[]", b'{"value": 3}', b'"x"', b"\xff\xfe"])
def test_malformed_bodies_are_400(stack: Stack, body: bytes):
    r = stack.http.post("/api/graph/notifications", content=body)
    assert r.status_code == 400
    assert r.json()["error"]["code"] == "BadRequest"


def test_lifecycle_items_are_enqueued_without_client_state(stack: Stack, poke_target):
    sub_id, secret, graph_tenant, tenant_id, mailbox = poke_target
    body = {"value": [{"subscriptionId": sub_id, "clientState": secret, "tenantId": graph_tenant,
                       "lifecycleEvent": "missed",
                       "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z"}]}  # fmt: skip
    r = stack.http.post("/api/graph/lifecycle", json=body)
    assert r.status_code == 202 and r.json()["accepted"] == 1
