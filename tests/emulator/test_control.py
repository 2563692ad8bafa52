"""The /_emulator control API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from .conftest import TENANT, World

DESIGN_FAULTS = {
    "seed": 7,
    "notificationDropRate": 0.1,
    "notificationDuplicateRate": 0.2,
    "notificationDelaySeconds": [1, 5],
    "reorder": True,
    "throttleRate": 0.0,
    "serverErrorRate": 0.0,
    "silentMailboxes": ["Room1@contoso.com"],
}


def _call(world: World, method: str, path: str, json=None) -> httpx.Response:  # type: ignore[no-untyped-def]
    return world.emu.http.request(method, f"/_emulator/{path}", json=json)


def test_clock_defaults_to_real_time_and_moves(world: World) -> None:
    now = world.emu.clock_now()
    assert abs((now - datetime.now(UTC)).total_seconds()) < 5
    later = world.emu.clock_advance(3600)
    assert timedelta(minutes=59) < later - now < timedelta(minutes=61)
    fixed = world.emu.clock_set("2031-05-01T12:00:00Z")
    assert abs((fixed - datetime(2031, 5, 1, 12, tzinfo=UTC)).total_seconds()) < 5
    assert _call(world, "POST", "clock", {"advanceSeconds": "x"}).status_code == 400
    assert _call(world, "POST", "clock", {}).status_code == 400
    world.emu.reset()
    assert abs((world.emu.clock_now() - datetime.now(UTC)).total_seconds()) < 5


def test_faults_store_every_design_field_and_reset_clears_them(world: World) -> None:
    stored = world.emu.set_faults(**DESIGN_FAULTS)
    for key, value in DESIGN_FAULTS.items():
        expected = [v.lower() for v in value] if key == "silentMailboxes" else value
        assert stored[key] == expected, key
    assert _call(world, "GET", "faults").json() == stored
    assert _call(world, "PUT", "faults", {"throttleRate": 2}).status_code == 400
    assert _call(world, "PUT", "faults", {"bogus": 1}).status_code == 400
    world.emu.reset()
    assert _call(world, "GET", "faults").json()["notificationDropRate"] == 0.0


def test_tenants_mailboxes_and_reset(world: World) -> None:
    listed = _call(world, "GET", f"mailboxes?tenantId={TENANT}").json()["value"]
    assert {m["address"] for m in listed} >= {world.alice, world.room1}
    room = next(m for m in listed if m["address"] == world.room1)
    assert room["policy"]["bookingWindowInDays"] == 180 and room["policy"]["deleteSubject"]
    again = _call(
        world,
        "POST",
        "mailboxes",
        {"tenantId": TENANT, "address": world.alice, "displayName": "Alice S.", "kind": "user"},
    )
    assert again.status_code == 200 and again.json()["id"] == next(
        m["id"] for m in listed if m["address"] == world.alice
    )
    bad = [
        {"tenantId": "nope", "address": "x@y.z", "displayName": "X", "kind": "user"},
        {"tenantId": TENANT, "address": "x@y.z", "displayName": "X", "kind": "desk"},
        {"tenantId": TENANT, "address": "x@y.z", "kind": "room", "policy": {"colour": 1}},
    ]
    assert [_call(world, "POST", "mailboxes", b).status_code for b in bad] == [404, 400, 400]
    clash = {
        "tenantId": "22222222-2222-2222-2222-222222222222",
        "address": world.alice,
        "displayName": "A",
        "kind": "user",
    }
    assert _call(world, "POST", "mailboxes", clash).status_code == 409
    assert _call(world, "POST", "tenants", {"tenantId": "x"}).status_code == 400
    world.emu.reset()
    assert _call(world, "GET", "mailboxes").json()["value"] == []
    assert _call(world, "GET", "tenants").json()["value"] == []
    assert world.emu.stats()["requests"] == []


def test_notification_control_endpoints(world: World) -> None:
    flushed = _call(world, "POST", "notifications/flush")
    assert flushed.status_code == 200
    body = flushed.json()
    assert {"sent", "failed", "retried", "dropped", "duplicated", "posts", "pending"} <= set(body)
    assert body["pending"] == 0 and body["nextDue"] is None
    r = _call(world, "POST", "subscriptions/abc/lifecycle", {"lifecycleEvent": "missed"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "notFound"
    assert _call(world, "POST", "subscriptions/abc/lifecycle", {}).status_code == 400
    assert set(world.emu.stats()["notifications"]) == {
        "sent",
        "dropped",
        "duplicated",
        "failed",
        "retried",
    }


def test_subscription_knobs_in_faults(world: World) -> None:
    stored = world.emu.set_faults(
        subscriptionWritesPer20Seconds=5,
        subscriptionReauthorizationsPer20Seconds=7,
        reauthorizationWarningMinutes=0,
        retryAfterSeconds=0,
    )
    assert stored["subscriptionWritesPer20Seconds"] == 5
    assert stored["reauthorizationWarningMinutes"] == 0 and stored["retryAfterSeconds"] == 0
    assert _call(world, "PUT", "faults", {"reauthorizationWarningMinutes": -1}).status_code == 400
    assert _call(world, "PUT", "faults", {"subscriptionWritesPer20Seconds": 0}).status_code == 400
    world.emu.reset()
    defaults = _call(world, "GET", "faults").json()
    assert defaults["subscriptionWritesPer20Seconds"] == 500
    assert defaults["subscriptionReauthorizationsPer20Seconds"] == 1000
    assert defaults["reauthorizationWarningMinutes"] == 60


def test_delta_evict_answers_a_count(world: World) -> None:
    assert world.emu.evict_delta() == {"evicted": 0}
    assert world.emu.evict_delta(world.alice) == {"evicted": 0}


def test_bulk_events_fill_a_calendar_in_one_call(world: World) -> None:
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    items = [
        {"subject": f"e{i}",
         "start": {"dateTime": (start + timedelta(hours=i)).isoformat()[:19], "timeZone": "UTC"},
         "end": {"dateTime": (start + timedelta(hours=i, minutes=30)).isoformat()[:19],
                 "timeZone": "UTC"}}
        for i in range(3)
    ]  # fmt: skip
    r = _call(world, "POST", "bulk/events", {"mailbox": world.room1, "items": items})
    assert r.status_code == 201 and r.json() == {"created": 3}
    assert (
        _call(world, "POST", "bulk/events", {"mailbox": "nobody@x.test", "items": []}).status_code
        == 404
    )
    assert (
        _call(world, "POST", "bulk/events", {"mailbox": world.room1, "items": [{}]}).status_code
        == 400
    )
