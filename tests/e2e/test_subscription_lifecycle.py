"""End to end: subscriptions stay alive for a month of virtual time, lifecycle
notifications are handled, and a room whose notifications stopped still converges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories, SubscriptionRecord
from tests.support.functions_host import Stack, Tenant, wait_for
from tests.support.outlook import Outlook


def records(stack: Stack, tenant_id: str) -> list[SubscriptionRecord]:
    async def read() -> list[SubscriptionRecord]:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            return await Repositories(clients.tables).subscriptions.list(tenant_id)
        finally:
            await clients.close()

    return asyncio.run(read())


def active(stack: Stack, t: Tenant, rooms: int) -> bool:
    found = records(stack, t.id)
    return len(found) == rooms and all(r.state.value == "active" for r in found)


def emulator_subscriptions(stack: Stack, t: Tenant) -> list[dict]:
    return list(Outlook(stack, t).call("GET", "subscriptions")["value"])


def settle(stack: Stack, done, timeout: float = 60) -> None:
    def check() -> bool:
        stack.emulator.flush_notifications()
        return bool(done())

    wait_for(check, timeout=timeout, interval=0.3)


def next_weekday_slot(stack: Stack, days: int, hour: int) -> tuple[datetime, datetime]:
    now = stack.emulator.clock_now().astimezone(UTC)
    start = (now + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=1)


def test_thirty_days_fifty_rooms_no_subscription_expires(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    rooms = [t.add_space(f"room{i:02d}") for i in range(50)]
    wait_for(lambda: active(stack, t, 50), timeout=120, interval=0.5)
    ids_before = {s["id"] for s in emulator_subscriptions(stack, t)}
    assert len(ids_before) == 50
    for _ in range(60):  # 30 days in 12-hour steps, renewing as the timer would
        stack.emulator.clock_advance(12 * 3600)
        out = stack.run_function("renew_subscriptions")
        assert out["status"] == "Succeeded", out
        live = emulator_subscriptions(stack, t)
        assert len(live) == 50, "a subscription expired"
    assert {s["id"] for s in live} == ids_before  # renewed, never recreated
    throttled = [r for r in stack.emulator.stats()["requests"]
                 if r["status"] == 429 and "subscriptions" in r["route"]]  # fmt: skip
    assert throttled == []
    now = stack.emulator.clock_now()
    assert all(datetime.fromisoformat(s["expirationDateTime"].replace("Z", "+00:00"))
               > now + timedelta(hours=24) for s in live)  # fmt: skip
    # every room still notifies: a booking in each reaches Bookker through its webhook
    outlook = Outlook(stack, t)
    for i, room in enumerate(rooms):
        start, end = next_weekday_slot(stack, 2 + i // 8, 8 + i % 8)
        outlook.book_room(alice, room, start, end, f"check {i}")
    settle(stack, lambda: len(t.bookings(status="confirmed")) == 50, timeout=120)


def test_subscription_removed_is_recreated_and_missed_changes_arrive(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room")
    wait_for(lambda: active(stack, t, 1), timeout=30)
    [old] = emulator_subscriptions(stack, t)
    stack.emulator.lifecycle(old["id"], "subscriptionRemoved")
    # a change made while the subscription is gone
    start, end = next_weekday_slot(stack, 3, 9)
    Outlook(stack, t).book_room(alice, room, start, end, "while removed")
    settle(stack, lambda: [s for s in emulator_subscriptions(stack, t) if s["id"] != old["id"]])
    settle(stack, lambda: len(t.bookings(status="confirmed")) == 1)
    [new] = emulator_subscriptions(stack, t)
    assert new["id"] != old["id"]
    [record] = records(stack, t.id)
    assert record.subscription_id == new["id"]


def test_missed_triggers_a_resync(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room")
    wait_for(lambda: active(stack, t, 1), timeout=30)
    stack.emulator.set_faults(seed=1, silentMailboxes=[room])
    try:
        start, end = next_weekday_slot(stack, 3, 10)
        Outlook(stack, t).book_room(alice, room, start, end, "silent")
        stack.emulator.flush_notifications()
        assert t.bookings() == []  # no notification arrived
        [sub] = emulator_subscriptions(stack, t)
        stack.emulator.lifecycle(sub["id"], "missed")
        settle(stack, lambda: len(t.bookings(status="confirmed")) == 1)
    finally:
        stack.emulator.set_faults(seed=1)


def test_reauthorization_required_is_answered_with_reauthorize(stack: Stack):
    t = stack.new_tenant()
    t.add_user("alice")
    t.add_space("room")
    wait_for(lambda: active(stack, t, 1), timeout=30)
    [sub] = emulator_subscriptions(stack, t)

    def reauthorized() -> bool:
        return any(r["route"].endswith("/reauthorize") and r["status"] < 300
                   for r in stack.emulator.stats()["requests"])  # fmt: skip

    before = sum(
        1 for r in stack.emulator.stats()["requests"] if r["route"].endswith("/reauthorize")
    )
    stack.emulator.lifecycle(sub["id"], "reauthorizationRequired")
    settle(stack, lambda: sum(
        r["count"] for r in stack.emulator.stats()["requests"] if r["route"].endswith("/reauthorize")
    ) > before)  # fmt: skip
    assert reauthorized()
    [record] = records(stack, t.id)
    assert record.reauthorized_at is not None


def test_unknown_lifecycle_event_is_accepted_logged_and_ignored(stack: Stack):
    t = stack.new_tenant()
    t.add_user("alice")
    t.add_space("room")
    wait_for(lambda: active(stack, t, 1), timeout=30)
    [sub] = emulator_subscriptions(stack, t)
    stack.emulator.lifecycle(sub["id"], "somethingNewFromGraph")
    settle(stack, lambda: "somethingNewFromGraph" in stack.host.child.log_path.read_text())
    assert stack.api("GET", "health").status_code == 200
    assert [s["id"] for s in emulator_subscriptions(stack, t)] == [sub["id"]]


def test_silent_mailbox_converges_within_one_reconcile_interval(stack: Stack):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room")
    wait_for(lambda: active(stack, t, 1), timeout=30)
    settle(stack, lambda: True)
    stack.emulator.set_faults(seed=1, silentMailboxes=[room])
    try:
        start, end = next_weekday_slot(stack, 4, 11)
        Outlook(stack, t).book_room(alice, room, start, end, "nobody told us")
        stack.emulator.flush_notifications()
        assert t.bookings() == []
        stack.emulator.clock_advance(15 * 60)  # one reconcile interval later the timer runs
        assert stack.run_function("reconcile_all")["status"] == "Succeeded"
        settle(stack, lambda: len(t.bookings(status="confirmed")) == 1, timeout=30)
    finally:
        stack.emulator.set_faults(seed=1)
