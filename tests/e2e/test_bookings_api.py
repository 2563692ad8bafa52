"""Bookker → Outlook through the real stack: local host, Azurite, Graph emulator."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone

import pytest

from tests.support.functions_host import Stack, Tenant, wait_for


def at(days: int, hour: int, minute: int = 0) -> str:
    base = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return (base + timedelta(days=days, hours=hour, minutes=minute)).isoformat()


def user_events(stack: Stack, tenant: Tenant, mailbox: str) -> list[dict]:
    r = stack.emulator.http.get(
        f"/v1.0/users/{mailbox}/events",
        headers={"Authorization": f"Bearer {token(stack, tenant)}"},
        params={"$expand": "extensions"},
    )
    r.raise_for_status()
    return r.json()["value"]


def token(stack: Stack, tenant: Tenant) -> str:
    from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET

    r = stack.emulator.http.post(
        f"/{tenant.graph_tenant_id}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": APP_CLIENT_ID,
              "client_secret": APP_SECRET, "scope": "https://graph.microsoft.com/.default"},
    )  # fmt: skip
    r.raise_for_status()
    return str(r.json()["access_token"])


@pytest.mark.parametrize("mode", ["bidirectional", "unidirectional"])
def test_create_update_delete_both_modes(stack: Stack, mode: str):
    t = stack.new_tenant(mode)
    alice = t.add_user("alice")
    room = t.add_space("room1")
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": at(2, 10), "end": at(2, 11),
        "subject": "Planning",
    })  # fmt: skip
    assert r.status_code == 201, r.text
    booking = r.json()
    assert booking["status"] == "confirmed" and booking["source"] == "bookker"
    events = user_events(stack, t, alice)
    assert len(events) == 1
    event = events[0]
    assert event["transactionId"] == booking["id"]
    assert event["iCalUId"] == booking["outlook"]["iCalUId"]
    ext = [e for e in event.get("extensions", []) if e.get("extensionName") == "com.bookker.sync"]
    assert ext and ext[0]["bookingId"] == booking["id"] and ext[0]["spaceId"] == "room1"
    room_events = user_events(stack, t, room)
    if mode == "bidirectional":
        assert len(room_events) == 1 and room_events[0]["iCalUId"] == event["iCalUId"]
        assert room_events[0]["responseStatus"]["response"] == "accepted"
    else:
        assert room_events == []  # unidirectional never touches room calendars

    r = stack.api(
        "PATCH", f"tenants/{t.id}/bookings/{booking['id']}", {"start": at(2, 14), "end": at(2, 15)}
    )
    assert r.status_code == 200, r.text
    moved = user_events(stack, t, alice)[0]
    assert moved["start"]["dateTime"].startswith(at(2, 14)[:16].replace("+00:00", ""))
    if mode == "bidirectional":
        assert user_events(stack, t, room)[0]["start"] == moved["start"]

    assert stack.api("DELETE", f"tenants/{t.id}/bookings/{booking['id']}").status_code == 204
    after = stack.api("GET", f"tenants/{t.id}/bookings/{booking['id']}").json()
    assert after["status"] == "cancelled"
    remaining = [e for e in user_events(stack, t, alice) if not e.get("isCancelled")]
    assert remaining == []
    assert [e for e in user_events(stack, t, room) if not e.get("isCancelled")] == []


def test_retried_post_creates_one_event(stack: Stack):
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    t.add_space("room1")
    body = {"spaceId": "room1", "userId": "alice", "start": at(3, 9), "end": at(3, 10)}
    headers = {"Idempotency-Key": "req-123"}
    first = stack.api("POST", f"tenants/{t.id}/bookings", body, headers=headers)
    again = stack.api("POST", f"tenants/{t.id}/bookings", body, headers=headers)
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    assert len(user_events(stack, t, alice)) == 1


def test_an_idempotency_key_reused_with_another_request_is_refused(stack: Stack):
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    t.add_space("room1")
    body = {"spaceId": "room1", "userId": "alice", "start": at(3, 9), "end": at(3, 10)}
    headers = {"Idempotency-Key": "req-reused"}
    first = stack.api("POST", f"tenants/{t.id}/bookings", body, headers=headers)
    assert first.status_code == 201, first.text
    # the same request spelt differently (another UTC offset) is still a replay
    madrid = timezone(timedelta(hours=2))
    moved_offset = {**body, "start": datetime.fromisoformat(body["start"]).astimezone(madrid)
                    .isoformat()}  # fmt: skip
    assert stack.api("POST", f"tenants/{t.id}/bookings", moved_offset,
                     headers=headers).status_code == 200  # fmt: skip
    other = {**body, "start": at(4, 9), "end": at(4, 10)}
    r = stack.api("POST", f"tenants/{t.id}/bookings", other, headers=headers)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "IdempotencyKeyReused"
    assert error["idempotencyKey"] == "req-reused" and "req-reused" in error["message"]
    assert [b["id"] for b in t.bookings()] == [first.json()["id"]]
    assert len(user_events(stack, t, alice)) == 1


def test_graph_503_on_create_answers_503_and_stores_nothing(stack: Stack):
    t = stack.new_tenant("unidirectional")
    alice = t.add_user("alice")
    t.add_space("desk1", room=False)
    stack.emulator.set_faults(seed=1, serverErrorRate=1.0)
    try:
        r = stack.api("POST", f"tenants/{t.id}/bookings", {
            "spaceId": "desk1", "userId": "alice", "start": at(2, 9), "end": at(2, 10),
        })  # fmt: skip
    finally:
        stack.emulator.set_faults(seed=1)
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "GraphFailure"
    assert t.bookings() == []
    assert user_events(stack, t, alice) == []
    # and the slot is free again
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "desk1", "userId": "alice", "start": at(2, 9), "end": at(2, 10),
    })  # fmt: skip
    assert r.status_code == 201, r.text


def test_fifty_concurrent_posts_for_one_slot_one_wins(stack: Stack):
    t = stack.new_tenant("unidirectional")
    for i in range(5):
        t.add_user(f"u{i}")
    t.add_space("hot", room=False)
    statuses: list[int] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        import httpx

        r = httpx.post(f"{stack.host.base_url}/api/tenants/{t.id}/bookings", json={
            "spaceId": "hot", "userId": f"u{i % 5}", "start": at(4, 10), "end": at(4, 11),
        }, timeout=120)  # fmt: skip
        with lock:
            statuses.append(r.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(50)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(statuses).count(201) == 1, statuses
    assert statuses.count(409) == 49, statuses
    assert len(t.bookings(status="confirmed")) == 1


def test_release_frees_the_room(stack: Stack):
    t = stack.new_tenant("bidirectional")
    t.add_user("alice")
    room = t.add_space("room1")
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": at(2, 10), "end": at(2, 11),
    })  # fmt: skip
    booking = r.json()
    r = stack.api(
        "POST", f"tenants/{t.id}/bookings/{booking['id']}/release", {"reason": "Nobody checked in"}
    )
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "cancelled" and r.json()["statusReason"] == "Nobody checked in"
    wait_for(lambda: user_events(stack, t, room) == [], timeout=30)
    # the slot can be booked again
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": at(2, 10), "end": at(2, 11),
    })  # fmt: skip
    assert r.status_code == 201, r.text


def test_unknown_graph_tenant_answers_502_and_stores_nothing(stack: Stack):
    tenant_id = "nograph-" + __import__("uuid").uuid4().hex[:8]
    r = stack.api("PUT", f"tenants/{tenant_id}", {
        "graphTenantId": "00000000-0000-0000-0000-000000000bad", "mode": "unidirectional",
    })  # fmt: skip
    assert r.status_code == 201
    stack.api("PUT", f"tenants/{tenant_id}/users/ana", {"email": "ana@nowhere.test"})
    stack.api("PUT", f"tenants/{tenant_id}/spaces/desk", {"name": "Desk"})
    body = {"spaceId": "desk", "userId": "ana", "start": at(2, 9), "end": at(2, 10)}
    r = stack.api("POST", f"tenants/{tenant_id}/bookings", body)
    assert r.status_code == 502, r.text
    assert r.json()["error"]["code"] == "GraphFailure"
    assert stack.api("GET", f"tenants/{tenant_id}/bookings").json()["value"] == []


def test_at_most_four_requests_at_once_per_mailbox(stack: Stack):
    """Outlook allows 4 concurrent requests per mailbox: 12 bookings for one user at once
    must not trip the emulator's concurrency limit (zero 429s for that mailbox)."""
    t = stack.new_tenant("unidirectional")
    alice = t.add_user("alice")
    for i in range(12):
        t.add_space(f"desk{i}", room=False)
    results: list[int] = []

    def post(i: int) -> None:
        import httpx

        r = httpx.post(f"{stack.host.base_url}/api/tenants/{t.id}/bookings", json={
            "spaceId": f"desk{i}", "userId": "alice", "start": at(5, 9), "end": at(5, 10),
        }, timeout=120)  # fmt: skip
        results.append(r.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert results == [201] * 12
    throttled = [r for r in stack.emulator.stats()["requests"]
                 if (r.get("mailbox") or "").lower() == alice and r["status"] == 429]  # fmt: skip
    assert throttled == []


def test_throttled_and_failing_graph_is_retried(stack: Stack):
    t = stack.new_tenant("unidirectional")
    alice = t.add_user("alice")
    t.add_space("desk", room=False)
    stack.emulator.set_faults(seed=7, throttleRate=0.3, retryAfterSeconds=0)
    try:
        answers = [
            stack.api(
                "POST",
                f"tenants/{t.id}/bookings",
                {
                    "spaceId": "desk",
                    "userId": "alice",
                    "start": at(6, h),
                    "end": at(6, h + 1),
                },
            )
            for h in (8, 10, 12, 14)
        ]
    finally:
        stack.emulator.set_faults(seed=7)
    assert [r.status_code for r in answers] == [201] * 4, [r.text for r in answers]
    throttled = sum(r["count"] for r in stack.emulator.stats()["requests"]
                    if (r.get("mailbox") or "").lower() == alice and r["status"] == 429)  # fmt: skip
    assert throttled > 0  # Graph said 429, the app waited and retried
    assert len(user_events(stack, t, alice)) == 4  # and never created a duplicate
