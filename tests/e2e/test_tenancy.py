"""One customer can never see or touch another's rooms, bookings or existence: the
attacks of a second Bookker tenant, through the real API on the local stack
(API_AUTH=none, so only tenancy itself stands in the way), and admin consent through
the emulator's adminconsent endpoint."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bookker_sync.storage.repositories import TENANT_PARTITION
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET, Stack, Tenant, wait_for
from tests.support.outlook import Outlook


def read(stack: Stack, work: Any) -> Any:
    return stack.read_storage(work)


def active_subscription(stack: Stack, t: Tenant) -> Any:
    def found() -> Any:
        records = read(stack, lambda r: r.subscriptions.list(t.id))
        return records[0] if records and records[0].state.value == "active" else None

    return wait_for(found, timeout=30)


def slot(stack: Stack, days: int, hour: int) -> tuple[datetime, datetime]:
    # Days ahead of the stack's (virtual) clock: earlier tests may have moved it.
    now = stack.emulator.clock_now()
    day = (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day, day + timedelta(hours=1)


def settle(stack: Stack, done: Any, timeout: float = 60) -> Any:
    def check() -> Any:
        stack.emulator.flush_notifications()
        return done()

    return wait_for(check, timeout=timeout, interval=0.3)


def intruder_of(stack: Stack, victim: Tenant) -> str:
    """A second Bookker tenant configured with the victim's directory."""
    intruder = "t-" + uuid.uuid4().hex[:10]
    r = stack.api("PUT", f"tenants/{intruder}", {
        "graphTenantId": victim.graph_tenant_id.upper(), "mode": "bidirectional",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    return intruder


def test_a_second_tenant_cannot_claim_another_tenants_room(stack: Stack) -> None:
    """The intruder names the victim's room (other letter case) in a space: 409 naming
    the conflict (not the victim), nothing stored; the victim's subscription lives on
    and her Outlook bookings of her own room are still accepted."""
    victim = stack.new_tenant()
    alice = victim.add_user("alice")
    room = victim.add_space("room")
    assert room is not None
    record = active_subscription(stack, victim)
    intruder = intruder_of(stack, victim)
    r = stack.api(
        "PUT", f"tenants/{intruder}/spaces/s1", {"name": "Mine", "resourceEmail": room.upper()}
    )
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert error["code"] == "Conflict"
    assert error["resourceEmail"] == room and error["graphTenantId"] == victim.graph_tenant_id
    assert victim.id not in r.text  # the other customer's existence stays hidden
    assert read(stack, lambda rp: rp.spaces.list(intruder)) == []
    stack.emulator.flush_notifications()
    live = Outlook(stack, victim).call("GET", "subscriptions")["value"]
    assert [s["id"] for s in live] == [record.subscription_id]
    start, end = slot(stack, 3, 9)
    Outlook(stack, victim).book_room(alice, room, start, end, "my meeting")
    [booking] = settle(stack, lambda: victim.bookings(status="confirmed"))
    assert booking["userId"] == "alice" and booking["source"] == "outlook"
    r = stack.api("GET", f"tenants/{intruder}/bookings")
    assert r.status_code == 200 and r.json() == {"value": []}


def test_two_tenants_sharing_a_directory_each_keep_their_own_rooms(stack: Stack) -> None:
    first = stack.new_tenant()
    alice = first.add_user("alice")
    room1 = first.add_space("room1")
    second_id = intruder_of(stack, first)
    second = Tenant(stack, second_id, first.graph_tenant_id, "bidirectional", first.tag + "b")
    bob = second.add_user("bob")
    room2 = second.add_space("room2")
    assert room1 and room2
    active_subscription(stack, first)
    active_subscription(stack, second)
    start, end = slot(stack, 4, 10)
    outlook = Outlook(stack, first)
    outlook.book_room(alice, room1, start, end, "first's")
    outlook.book_room(bob, room2, start, end, "second's")
    [a] = settle(stack, lambda: first.bookings(status="confirmed"))
    [b] = settle(stack, lambda: second.bookings(status="confirmed"))
    assert (a["userId"], b["userId"]) == ("alice", "bob")
    # A space may change rooms; the old room is free for the other tenant then.
    r = stack.api("PUT", f"tenants/{first.id}/spaces/room1", {"name": "Moved"})
    assert r.status_code == 200, r.text
    r = stack.api("PUT", f"tenants/{second.id}/spaces/taken", {"name": "T", "resourceEmail": room1})
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("directory", [
    "common", "organizations", "contoso.onmicrosoft.com", "../../x", "x" * 36,
    "8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c/../y",
])  # fmt: skip
def test_graph_tenant_id_must_be_a_guid(stack: Stack, directory: str) -> None:
    r = stack.api("PUT", f"tenants/t-{uuid.uuid4().hex[:8]}", {
        "graphTenantId": directory, "mode": "bidirectional",
    })  # fmt: skip
    assert r.status_code == 400, r.text
    assert "graphTenantId" in r.text


@pytest.mark.parametrize("address", [
    "a@b.example/messages?$x", "room@contoso.test/../../users/ceo@contoso.test", "a b@c.test",
    "a@b.example?$select=id", "a@b.example#x", "%2e%2e@c.test",
])  # fmt: skip
def test_room_and_user_addresses_follow_a_strict_grammar(stack: Stack, address: str) -> None:
    t = stack.new_tenant()
    r = stack.api("PUT", f"tenants/{t.id}/spaces/s1", {"name": "S", "resourceEmail": address})
    assert r.status_code == 400, r.text
    r = stack.api("PUT", f"tenants/{t.id}/users/u1", {"email": address})
    assert r.status_code == 400, r.text


# -- admin consent ------------------------------------------------------------------------
def consent_link(stack: Stack, tenant_id: str) -> str:
    r = stack.api("GET", f"tenants/{tenant_id}/consent", follow_redirects=False)
    assert r.status_code == 302, r.text
    assert r.headers["location"] == r.json()["consentUrl"]
    return str(r.headers["location"])


def admin_answers(stack: Stack, link: str) -> httpx.Response:
    """The admin's browser at the emulator's adminconsent endpoint, then back to us."""
    answer = stack.emulator.http.get(link, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back = answer.headers["location"]
    assert back.startswith(stack.env["WEBHOOK_BASE_URL"] + "/consent/callback?")
    return stack.http.get(back.removeprefix(stack.env["WEBHOOK_BASE_URL"].removesuffix("/api")))


def unbound_tenant(stack: Stack) -> tuple[str, str]:
    tenant_id, directory = "t-" + uuid.uuid4().hex[:10], str(uuid.uuid4())
    stack.emulator.add_tenant(directory, "someone-elses-app", "x")  # the directory exists
    r = stack.api("PUT", f"tenants/{tenant_id}", {"mode": "bidirectional"})
    assert r.status_code == 201, r.text
    return tenant_id, directory


def bound(stack: Stack, tenant_id: str) -> str:
    stored = read(stack, lambda r: r.tenants.get(TENANT_PARTITION, tenant_id))
    return str(stored.value.graph_tenant_id)


def test_admin_consent_binds_the_directory_to_the_tenant_named_in_the_state(stack: Stack) -> None:
    tenant_id, directory = unbound_tenant(stack)
    assert bound(stack, tenant_id) == ""
    link = consent_link(stack, tenant_id)
    parts = urlsplit(link)
    query = parse_qs(parts.query)
    assert parts.path == "/organizations/v2.0/adminconsent"
    assert query["client_id"] == [APP_CLIENT_ID]
    assert query["redirect_uri"] == [stack.env["WEBHOOK_BASE_URL"] + "/consent/callback"]
    assert tenant_id not in query["state"][0]  # signed, not readable as a plain id
    stack.emulator.control("POST", "consent", {
        "tenantId": directory, "decision": "accept", "default": True,
    })  # fmt: skip
    page = admin_answers(stack, link)
    assert page.status_code == 200, page.text
    assert "Consent recorded" in page.text and tenant_id not in page.text
    assert bound(stack, tenant_id) == directory


def test_declined_consent_binds_nothing(stack: Stack) -> None:
    tenant_id, directory = unbound_tenant(stack)
    stack.emulator.control("POST", "consent", {
        "tenantId": directory, "decision": "decline", "default": True,
    })  # fmt: skip
    page = admin_answers(stack, consent_link(stack, tenant_id))
    assert page.status_code == 400 and "Consent not given" in page.text
    assert bound(stack, tenant_id) == ""


@pytest.mark.parametrize("tamper", ["forged", "other-tenant", "no-state", "not-a-guid"])
def test_a_callback_without_our_state_binds_nothing(stack: Stack, tamper: str) -> None:
    """A directory can't be bound to a tenant by calling the callback with a made-up,
    altered or borrowed state."""
    victim, _ = unbound_tenant(stack)
    mallory, _ = unbound_tenant(stack)
    attacker_directory = str(uuid.uuid4())
    state = parse_qs(urlsplit(consent_link(stack, mallory)).query)["state"][0]
    params = {"admin_consent": "True", "tenant": attacker_directory, "state": state}
    if tamper == "forged":
        params["state"] = "eyJ0IjoidmljdGltIn0.AAAA"
    elif tamper == "other-tenant":
        body, mac = state.split(".")
        params["state"] = body.replace(body[2], "A" if body[2] != "A" else "B", 1) + "." + mac
    elif tamper == "no-state":
        del params["state"]
    else:
        params["tenant"] = "common"
    page = stack.http.get("/api/consent/callback", params=params)
    assert page.status_code == 400, page.text
    assert bound(stack, victim) == "" and bound(stack, mallory) == ""


def _answer_naming(stack: Stack, tenant_id: str, directory: str) -> httpx.Response:
    """Mallory holds a genuine link for her own tenant, and sends its state back with
    another directory in ``tenant``, as a browser lets her."""
    state = parse_qs(urlsplit(consent_link(stack, tenant_id)).query)["state"][0]
    params = {"admin_consent": "True", "tenant": directory, "state": state}
    return stack.http.get("/api/consent/callback", params=params)


def test_a_callback_naming_a_directory_that_never_consented_binds_nothing(stack: Stack) -> None:
    """The ``tenant`` of the answer is checked with Entra: our app must be in it."""
    mallory, _ = unbound_tenant(stack)
    elsewhere = str(uuid.uuid4())
    stack.emulator.add_tenant(elsewhere, "someone-elses-app", "x")  # exists, no consent
    for directory in (elsewhere, str(uuid.uuid4())):  # ...and one that doesn't exist
        page = _answer_naming(stack, mallory, directory)
        assert page.status_code == 400, page.text
        assert "Entra does not confirm a consent" in page.text
    assert bound(stack, mallory) == ""


def test_a_callback_naming_another_customers_directory_binds_nothing(stack: Stack) -> None:
    """The victim consented (her directory has our app): Mallory's altered answer names
    it and is refused, the victim's binding, claims and subscription untouched; sharing
    a directory is an operator's call (the tenant PUT), never a consent answer's."""
    victim = stack.new_tenant()
    room = victim.add_space("room")
    record = active_subscription(stack, victim)
    mallory, _ = unbound_tenant(stack)
    page = _answer_naming(stack, mallory, victim.graph_tenant_id.upper())
    assert page.status_code == 409, page.text
    assert "connected to another Bookker tenant" in page.text and victim.id not in page.text
    assert bound(stack, mallory) == ""
    assert bound(stack, victim.id) == victim.graph_tenant_id
    claims = read(stack, lambda rp: rp.room_claims.list(victim.graph_tenant_id))
    assert [c.tenant_id for c in claims] == [victim.id] and room is not None
    live = Outlook(stack, victim).call("GET", "subscriptions")["value"]
    assert record.subscription_id in [s["id"] for s in live]


def test_a_tenant_bound_elsewhere_keeps_its_claims_consistent(stack: Stack) -> None:
    """Rebinding moves the room claims: the old directory's rooms are free again."""
    t = stack.new_tenant()
    room = t.add_space("room")
    active_subscription(stack, t)
    other = str(uuid.uuid4())
    stack.emulator.add_tenant(other, APP_CLIENT_ID, APP_SECRET)
    r = stack.api("PUT", f"tenants/{t.id}", {"graphTenantId": other, "mode": "bidirectional"})
    assert r.status_code == 200, r.text
    claims = read(stack, lambda rp: rp.room_claims.list(t.graph_tenant_id))
    assert claims == []
    assert [c.tenant_id for c in read(stack, lambda rp: rp.room_claims.list(other))] == [t.id]
    assert room is not None
