"""Events told to Bookker through the real stack: the pull feed and the
signed push (Standard Webhooks) to a receiver on 127.0.0.1, checked with the
``standardwebhooks`` library itself."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from emulators.event_receiver import EventReceiver, new_secret
from tests.e2e.test_inbound_sync import OPEN, M, sync
from tests.support.cli import cli_env, run_cli
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET, Stack, Tenant, wait_for
from tests.support.outlook import Outlook

PREFIX = "com.bookker.sync."


Receiver = EventReceiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def push_to(stack: Stack, t: Tenant, url: str, secret: str) -> dict[str, Any]:
    r = stack.api("PUT", f"tenants/{t.id}", {
        "graphTenantId": t.graph_tenant_id, "mode": t.mode, "displayName": "Contoso",
        "events": {"url": url, "secret": secret},
    })  # fmt: skip
    assert r.status_code == 200, r.text
    assert secret not in r.text and secret.removeprefix("whsec_") not in r.text
    body: dict[str, Any] = r.json()
    return body


def feed(stack: Stack, tenant_id: str, limit: int = 100) -> list[dict[str, Any]]:
    """The whole pull feed, paged ``limit`` at a time."""
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["after"] = cursor
        r = stack.api("GET", f"tenants/{tenant_id}/events", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        out.extend(page["value"])
        if not page["value"]:
            return out
        cursor = page["cursor"]


def settle(stack: Stack, tenant_id: str, room: str, expected: list[str]) -> None:
    """Sync the room until the feed shows ``expected`` (a webhook-started sync may hold
    the room's lease: the admin-started one then only marks it dirty)."""

    def reached() -> bool:
        sync(stack, tenant_id, room)
        return types(feed(stack, tenant_id)) == expected

    try:
        wait_for(reached, timeout=30, interval=0.5)
    except AssertionError:
        raise AssertionError(types(feed(stack, tenant_id))) from None


def _room_holds(outlook: Outlook, room: str, ical_uid: str) -> dict[str, Any] | None:
    return next((e for e in outlook.events(room) if e["iCalUId"] == ical_uid), None)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix(PREFIX) for e in events]


def test_outlook_booking_decline_revert_rejection_and_lost_consent_are_pulled_and_pushed(
    stack: Stack, receiver: Receiver
) -> None:
    t = stack.new_tenant()
    secret = new_secret()
    shown = push_to(stack, t, receiver.url, secret)
    assert shown["events"] == {"url": receiver.url}
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    # 1. a booking made in Outlook → booking.created
    event = outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "1:1")
    settle(stack, t.id, room, ["booking.created"])
    [booking] = t.bookings()
    # 2. an Outlook request outside opening hours → booking.rejected, with the rules
    outlook.book_room(alice, room, M + timedelta(hours=20), M + timedelta(hours=21), "late")
    settle(stack, t.id, room, ["booking.created", "booking.rejected"])
    # 3. a move Bookker's rules refuse → put back → booking.reverted with the reason
    outlook.move(alice, event["id"], M + timedelta(hours=17), M + timedelta(hours=19))
    settle(stack, t.id, room, ["booking.created", "booking.rejected", "booking.reverted"])
    # 4. the room declines a booking made in Bookker → booking.declined
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "subject": "Budget",
        "start": (M + timedelta(hours=13)).isoformat(), "end": (M + timedelta(hours=14)).isoformat(),
    })  # fmt: skip
    assert r.status_code == 201, r.text
    made = r.json()
    wait_for(lambda: _room_holds(outlook, room, made["outlook"]["iCalUId"]), timeout=30)
    copy = _room_holds(outlook, room, made["outlook"]["iCalUId"])
    outlook.call("POST", f"users/{room}/events/{copy['id']}/decline",
                 {"comment": "Closed for cleaning", "sendResponse": True})  # fmt: skip
    settle(stack, t.id, room, [
        "booking.created", "booking.rejected", "booking.reverted", "booking.declined"
    ])  # fmt: skip
    sync(stack, t.id, room)  # a replayed decision logs nothing twice
    # 5. the app loses its consent: Graph asks for reauthorization, which is refused
    #    → tenant.consent_required
    [subscription] = outlook.call("GET", "subscriptions")["value"]
    gone = stack.emulator.http.delete(
        f"/_emulator/apps/{APP_CLIENT_ID}", params={"tenantId": t.graph_tenant_id}
    )
    assert gone.status_code == 204, gone.text
    stack.emulator.lifecycle(subscription["id"], "reauthorizationRequired")

    def consent_asked() -> bool:
        stack.emulator.flush_notifications()
        return "tenant.consent_required" in types(feed(stack, t.id))

    wait_for(consent_asked, timeout=30, interval=0.5)

    wanted = ["booking.created", "booking.rejected", "booking.reverted", "booking.declined",
              "tenant.consent_required"]  # fmt: skip
    events = feed(stack, t.id, limit=2)
    assert types(events) == wanted
    assert len({e["id"] for e in events}) == len(events)
    for e in events:
        assert e["specversion"] == "1.0" and e["source"] == f"/tenants/{t.id}"
        assert e["datacontenttype"] == "application/json" and e["time"]
    created, rejected, reverted, declined, consent = events
    assert created["subject"] == f"bookings/{booking['id']}"
    assert created["data"]["origin"] == "outlook"
    assert created["data"]["booking"]["id"] == booking["id"]
    assert created["data"]["booking"]["sync"]["state"] in ("synced", "pending")
    assert rejected["data"]["organizer"] == alice and rejected["data"]["spaceId"] == "room1"
    assert rejected["data"]["start"].startswith((M + timedelta(hours=20)).strftime("%Y-%m-%dT%H"))
    assert [v["rule"] for v in rejected["data"]["violations"]] == ["openingHours"]
    assert "subject" not in rejected
    assert reverted["subject"] == created["subject"] and "08:00" in reverted["data"]["reason"]
    assert reverted["data"]["booking"]["start"] == booking["start"]
    assert declined["data"]["booking"]["status"] == "declined"
    assert declined["subject"] == f"bookings/{made['id']}"
    assert declined["data"]["origin"] == "outlook"
    assert consent["data"]["origin"] == "system" and "subject" not in consent

    def pushed() -> list[dict[str, Any]] | None:
        got = receiver.verified(secret)
        return got if len({e["id"] for e in got}) >= len(wanted) else None

    got = wait_for(pushed, timeout=60)
    assert [e["id"] for e in got] == [e["id"] for e in events]  # in order, each once
    assert got == events
    # a tampered body fails the receiver's check
    headers, body = receiver.posts[0]
    with pytest.raises(Exception, match="signature"):
        Webhook(secret).verify(body.replace(b"created", b"cancelled"), headers)


def test_a_receiver_that_was_down_gets_everything_afterwards_in_order(
    stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    t = stack.new_tenant()
    secret = new_secret()
    push_to(stack, t, receiver.url, secret)
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    receiver.down = True
    a = outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "A")
    b = outlook.book_room(alice, room, M + timedelta(hours=11), M + timedelta(hours=12), "B")
    sync(stack, t.id, room)
    outlook.move(alice, a["id"], M + timedelta(hours=13), M + timedelta(hours=14))
    outlook.move(alice, b["id"], M + timedelta(hours=15), M + timedelta(hours=16))
    sync(stack, t.id, room)
    outlook.cancel(alice, a["id"])
    sync(stack, t.id, room)
    events = feed(stack, t.id)
    assert sorted(types(events)) == sorted(["booking.created"] * 2 + ["booking.updated"] * 2
                                           + ["booking.cancelled"])  # fmt: skip
    wait_for(lambda: receiver.posts == [] and _push_failed(stack, t.id, tmp_path), timeout=30)
    # Hours later (virtual time), the receiver is back: everything arrives.
    receiver.down = False
    stack.emulator.clock_advance(3 * 3600)
    stack.run_function("deliver_events")
    got = wait_for(lambda: (lambda g: g if len(g) >= len(events) else None)(
        receiver.verified(secret)), timeout=60)  # fmt: skip
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)) == len(events)
    for booking in {e["subject"] for e in events}:
        sent = [e["id"] for e in events if e["subject"] == booking]
        assert [e["id"] for e in got if e["subject"] == booking] == sent


def _push_failed(stack: Stack, tenant_id: str, tmp: Path) -> bool:
    result = run_cli("events", "status", tenant_id, "--json", env=cli_env(stack), cwd=tmp)
    assert result.code == 0, result.err
    [push] = json.loads(result.out)["push"]
    return bool(push["attempts"]) and push["lastError"] is not None


def test_events_nobody_takes_for_24_hours_are_dead_lettered_then_replayed(
    stack: Stack, receiver: Receiver, tmp_path: Path
) -> None:
    t = stack.new_tenant()
    secret = new_secret()
    push_to(stack, t, receiver.url, secret)
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    receiver.down = True
    outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "A")
    sync(stack, t.id, room)
    wait_for(lambda: _push_failed(stack, t.id, tmp_path), timeout=30)
    for _ in range(14):  # retried with back-off for 24 h of (virtual) time, then given up
        stack.emulator.clock_advance(2 * 3600)
        assert stack.run_function("deliver_events")["status"] == "Succeeded"
        stack.run_function("deliver_events")
    env = cli_env(stack)

    def dead() -> list[dict[str, Any]] | None:
        result = run_cli("events", "dead-letters", t.id, "--json", env=env, cwd=tmp_path)
        assert result.code == 0, result.err
        letters: list[dict[str, Any]] = json.loads(result.out)
        return letters or None

    [letter] = wait_for(dead, timeout=60)
    assert letter["type"] == PREFIX + "booking.created" and letter["attempts"] >= 2
    status = run_cli("status", t.id, "--json", env=env, cwd=tmp_path)
    assert json.loads(status.out)["tenants"][0]["events"]["deadLetters"] == 1
    receiver.down = False
    replay = run_cli("events", "replay", t.id, env=env, cwd=tmp_path)
    assert replay.code == 0, replay.err
    [event] = receiver.verified(secret)
    assert event["id"] == letter["eventId"]
    assert dead_letters_left(stack, t.id, tmp_path) == []


def dead_letters_left(stack: Stack, tenant_id: str, tmp_path: Path) -> list[Any]:
    result = run_cli("events", "dead-letters", tenant_id, "--json", env=cli_env(stack),
                     cwd=tmp_path)  # fmt: skip
    letters: list[Any] = json.loads(result.out)
    return letters


@pytest.mark.parametrize(
    "url",
    [
        "http://bookker.example.com/hook",  # not https
        "https://10.0.0.5/hook",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (cloud metadata)
        "https://[::1]/hook",  # loopback over https
        "https://user:pw@bookker.example.com/hook",  # user info
        "https://localhost.localdomain.invalid/hook",  # does not resolve
    ],
)
def test_unsafe_push_urls_are_refused(stack: Stack, url: str) -> None:
    t = stack.new_tenant()
    r = stack.api("PUT", f"tenants/{t.id}", {
        "graphTenantId": t.graph_tenant_id, "mode": t.mode,
        "events": {"url": url, "secret": new_secret()},
    })  # fmt: skip
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadRequest"


@pytest.mark.parametrize(
    "query", ["after=nonsense", "after=djE6eA", "limit=0", "limit=1001", "limit=abc"]
)
def test_bad_cursor_or_limit_is_a_400(stack: Stack, query: str) -> None:
    t = stack.new_tenant()
    r = stack.api("GET", f"tenants/{t.id}/events?{query}")
    assert r.status_code == 400, r.text
    assert r.json()["error"]["code"] == "BadRequest"


def test_a_room_failing_to_sync_and_recovering_is_told_once_each(stack: Stack) -> None:
    t = stack.new_tenant()
    t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    sync(stack, t.id, room)
    gone = stack.emulator.http.delete(
        f"/_emulator/apps/{APP_CLIENT_ID}", params={"tenantId": t.graph_tenant_id}
    )
    assert gone.status_code == 204, gone.text
    for _ in range(4):  # Graph refuses every run; the third failure in a row is told
        out = stack.run_function("sync_mailbox", {"tenantId": t.id, "mailbox": room})
        assert out["status"] == "Failed", out
    assert types(feed(stack, t.id)) == ["room.sync_failing"]
    stack.emulator.add_tenant(t.graph_tenant_id, APP_CLIENT_ID, APP_SECRET)  # consent again
    sync(stack, t.id, room)
    sync(stack, t.id, room)
    failing, recovered = feed(stack, t.id)
    assert types([failing, recovered]) == ["room.sync_failing", "room.sync_recovered"]
    assert failing["data"]["mailbox"] == room and "401" in failing["data"]["reason"]
    assert recovered["data"]["failingSince"] == failing["data"]["failingSince"]
    assert "subject" not in recovered and recovered["data"]["origin"] == "system"
