"""Nothing lost or orphaned when Graph or storage fail in the middle of a step.

- Graph applies a booking's event and then fails the answer (503, or no answer at
  all): the API answers 503 ("nothing stored"), and stays right: the event Graph
  applied is cancelled once the creation's deadline has passed, never adopted as an
  Outlook booking.
- Storage fails while the Outlook POST is in flight: the API answers 503 JSON (never
  500), and once storage is back the event is cancelled: no room event without a
  booking, no booking left behind.
- The webhook answers within Graph's 3 s whatever storage does (down, or hung): 503,
  so Graph retries.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bookker_sync.domain.creation_intent import INTENT_SECONDS
from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from tests.support.functions_host import Stack, Tenant, running_stack, wait_for
from tests.support.outlook import Outlook


def monday() -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7)


M = monday()


def _sync(stack: Stack, t: Tenant, room: str) -> None:
    stack.sync_mailbox(t.id, room)


def _past_the_deadline(stack: Stack) -> None:
    """The creation's deadline passes; the reconcile timer's sweep runs."""
    stack.emulator.clock_advance(INTENT_SECONDS + 60)
    time.sleep(1.0)  # the host follows the virtual clock twice a second
    out = stack.run_function("reconcile_all")
    assert out["status"] == "Succeeded", out


def _live(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if not e.get("isCancelled")
            and (e.get("responseStatus") or {}).get("response") in ("accepted", "organizer")]  # fmt: skip


def _nothing_left(stack: Stack, t: Tenant, outlook: Outlook, alice: str, room: str) -> None:
    assert stack.api("GET", f"tenants/{t.id}/bookings").json()["value"] == []
    assert asyncio.run(_stored_bookings(stack, t.id)) == []
    window = (M - timedelta(days=1), M + timedelta(days=2))
    assert _live(outlook.view(room, *window)) == [], "a room event without a booking"
    assert _live(outlook.view(alice, *window)) == [], "the organizer's event survived a 5xx"


async def _stored_bookings(stack: Stack, tenant_id: str) -> list[str]:
    clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
    try:
        records = await Repositories(clients.tables).bookings.list(tenant_id)
        return [f"{r.booking.id} {r.booking.status.value}" for r in records]
    finally:
        await clients.close()


@pytest.mark.parametrize("answer", [503, "timeout"])
def test_graph_applies_then_fails_the_answer_nothing_stays(stack: Stack, answer: Any):
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room")
    assert room is not None
    outlook = Outlook(stack, t)
    _sync(stack, t, room)
    stack.emulator.control("POST", "faults/next", {
        "route": "POST /users/{id}/events", "mailbox": alice, "count": 20, "answer": answer,
        "timeoutSeconds": 1,
    })  # fmt: skip
    try:
        r = stack.api("POST", f"tenants/{t.id}/bookings", {
            "spaceId": "room", "userId": "alice", "start": (M + timedelta(hours=9)).isoformat(),
            "end": (M + timedelta(hours=10)).isoformat(),
        })  # fmt: skip
    finally:
        stack.emulator.control("DELETE", "faults/next")
    assert r.status_code == 503, r.text
    assert r.json()["error"]["code"] == "GraphFailure"
    # Graph did apply it: the room holds a copy. It is not anyone's Outlook booking.
    assert len(_live(outlook.view(room, M, M + timedelta(days=1)))) == 1
    _sync(stack, t, room)
    assert t.bookings() == []
    _past_the_deadline(stack)
    _sync(stack, t, room)
    _nothing_left(stack, t, outlook, alice, room)


# -- storage failures: a private stack whose Azurite can be stopped and hung --------------
@pytest.fixture(scope="module")
def storage_stack() -> Iterator[Stack]:
    with running_stack(persistent_storage=True) as s:
        yield s


def _subscribed(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(
        mine and mine[0]["subscriptions"]["active"] == 1 and mine[0]["oldestSuccessfulSync"]
    )


def test_storage_fails_while_the_outlook_write_is_in_flight(storage_stack: Stack):
    stack = storage_stack
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room")
    assert room is not None
    outlook = Outlook(stack, t)
    wait_for(lambda: _subscribed(stack, t), timeout=60)
    answers: list[httpx.Response] = []

    def book() -> None:
        answers.append(stack.api("POST", f"tenants/{t.id}/bookings", {
            "spaceId": "room", "userId": "alice", "start": (M + timedelta(hours=9)).isoformat(),
            "end": (M + timedelta(hours=10)).isoformat(),
        }))  # fmt: skip

    stack.emulator.control("POST", "freeze", {"seconds": 4})
    client = threading.Thread(target=book)
    client.start()
    wait_for(
        lambda: stack.emulator.control("GET", "freeze")["held"] >= 1, timeout=10, interval=0.05
    )
    stack.stop_storage()  # while Graph holds the POST; it applies it when the freeze ends
    try:
        client.join(timeout=90)
        assert answers, "the API never answered"
        [r] = answers
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "StorageUnavailable"
    finally:
        stack.start_storage()
    assert len(_live(outlook.view(room, M, M + timedelta(days=1)))) == 1  # Graph applied it
    stack.emulator.flush_notifications()
    _sync(stack, t, room)
    _past_the_deadline(stack)
    _sync(stack, t, room)
    _nothing_left(stack, t, outlook, alice, room)


def _notification(stack: Stack, t: Tenant) -> dict[str, Any]:
    """A genuine item for the tenant's room subscription (its clientState as Graph
    holds it: the app stores only a digest)."""
    [sub] = Outlook(stack, t).call("GET", "subscriptions")["value"]
    return {"subscriptionId": sub["id"], "clientState": sub["clientState"],
            "tenantId": t.graph_tenant_id, "changeType": "updated",
            "resource": f"Users/{uuid.uuid4()}/Events/x"}  # fmt: skip


def _post(stack: Stack, items: list[dict[str, Any]]) -> tuple[int, float, str]:
    began = time.monotonic()
    try:
        r = httpx.post(stack.webhook_url, json={"value": items}, timeout=10)
    except httpx.TimeoutException:
        return 0, time.monotonic() - began, "no answer"
    return r.status_code, time.monotonic() - began, r.headers.get("content-type", "")


def test_webhook_answers_within_three_seconds_whatever_storage_does(storage_stack: Stack):
    stack = storage_stack
    t = stack.new_tenant("bidirectional")
    t.add_space("room")
    wait_for(lambda: _subscribed(stack, t), timeout=60)
    item = _notification(stack, t)
    unknown = {**item, "subscriptionId": str(uuid.uuid4())}  # a storage read each time
    assert _post(stack, [item])[0] == 202
    for fault, undo in ((stack.stop_storage, stack.start_storage),
                        (stack.hang_storage, stack.resume_storage)):  # fmt: skip
        fault()
        try:
            for items in ([item], [unknown, item]):
                status, seconds, kind = _post(stack, items)
                assert status == 503 and seconds < 3.0, (fault.__name__, status, seconds)
                assert kind.startswith("application/json")
        finally:
            undo()
        wait_for(lambda: _post(stack, [item])[0] == 202, timeout=60, interval=1.0)


def test_releasing_a_booking_the_organizer_already_cancelled_succeeds(stack: Stack):
    """The room's copy of a meeting its organizer cancelled can't be declined any more
    (Outlook: 400 "The meeting has been canceled."): the release is done, not retried
    until the message is poisoned."""
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room")
    assert room is not None
    outlook = Outlook(stack, t)
    _sync(stack, t, room)
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room", "userId": "alice", "start": (M + timedelta(hours=9)).isoformat(),
        "end": (M + timedelta(hours=10)).isoformat(),
    })  # fmt: skip
    assert r.status_code == 201, r.text
    booking = r.json()
    _sync(stack, t, room)  # the room's copy is recorded
    outlook.cancel(alice, booking["outlook"]["organizerEventId"])
    released = stack.api("POST", f"tenants/{t.id}/bookings/{booking['id']}/release",
                         {"reason": "No-show"})  # fmt: skip
    assert released.status_code == 202, released.text
    out = stack.run_function("apply_outbound", {
        "action": "release", "tenantId": t.id, "bookingId": booking["id"], "reason": "No-show",
    })  # fmt: skip
    assert out["status"] == "Succeeded", out
