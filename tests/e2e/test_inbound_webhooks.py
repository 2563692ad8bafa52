"""Outlook → Bookker driven only by Graph change notifications (no manual syncs),
including 100% dropped and 100% duplicated delivery."""

from __future__ import annotations

from datetime import timedelta

from tests.e2e.test_inbound_sync import OPEN, M
from tests.e2e.test_subscription_lifecycle import active, settle
from tests.support.functions_host import Stack, Tenant, wait_for
from tests.support.outlook import Outlook


def subscribed_room(stack: Stack, rules: dict | None = None) -> tuple[Tenant, str, str]:
    t = stack.new_tenant()
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=rules or OPEN)
    assert room is not None
    wait_for(lambda: active(stack, t, 1), timeout=30)
    settle(stack, lambda: True)
    return t, alice, room


def starts(t: Tenant, status: str = "confirmed") -> list[str]:
    return sorted(b["start"][:16] for b in t.bookings(status=status))


def test_create_move_cancel_reach_bookker_through_notifications(stack: Stack):
    t, alice, room = subscribed_room(stack)
    outlook = Outlook(stack, t)
    event = outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10))
    settle(stack, lambda: len(t.bookings(status="confirmed")) == 1)
    outlook.move(alice, event["id"], M + timedelta(hours=13), M + timedelta(hours=14))
    at13 = (M + timedelta(hours=13)).strftime("%Y-%m-%dT%H:%M")
    settle(stack, lambda: starts(t) == [at13])
    outlook.move(alice, event["id"], M + timedelta(hours=19), M + timedelta(hours=20))  # closed
    settle(stack, lambda: outlook.get(alice, event["id"])["start"]["dateTime"].startswith(at13))
    assert starts(t) == [at13]
    outlook.cancel(alice, event["id"])
    settle(stack, lambda: len(t.bookings(status="cancelled")) == 1)


def test_all_notifications_dropped_then_a_manual_sync_catches_up(stack: Stack):
    t, alice, room = subscribed_room(stack)
    outlook = Outlook(stack, t)
    stack.emulator.set_faults(seed=5, notificationDropRate=1.0)
    try:
        for hour in (9, 11, 13):
            outlook.book_room(alice, room, M + timedelta(hours=hour), M + timedelta(hours=hour + 1))
        stack.emulator.flush_notifications()
        assert t.bookings() == []
        assert stack.emulator.stats()["notifications"]["dropped"] > 0
        stack.sync_mailbox(t.id, room)  # waits out a run another worker held the room for
        assert len(t.bookings(status="confirmed")) == 3
    finally:
        stack.emulator.set_faults(seed=5)


def test_all_notifications_duplicated_nothing_is_doubled(stack: Stack):
    t, alice, room = subscribed_room(stack)
    outlook = Outlook(stack, t)
    stack.emulator.set_faults(seed=6, notificationDuplicateRate=1.0)
    try:
        for hour in (9, 11):
            outlook.book_room(alice, room, M + timedelta(hours=hour), M + timedelta(hours=hour + 1))
        r = stack.api("POST", f"tenants/{t.id}/bookings", {
            "spaceId": "room1", "userId": "alice", "start": (M + timedelta(hours=14)).isoformat(),
            "end": (M + timedelta(hours=15)).isoformat(),
        })  # fmt: skip
        assert r.status_code == 201
        settle(stack, lambda: len(t.bookings(status="confirmed")) == 3)
        settle(stack, lambda: True)
        assert stack.emulator.stats()["notifications"]["duplicated"] > 0
        bookings = t.bookings()
        assert len(bookings) == 3 and all(b["status"] == "confirmed" for b in bookings)
        assert len(outlook.view(room, M, M + timedelta(days=1))) == 3
    finally:
        stack.emulator.set_faults(seed=6)
