"""Every notification of a room lost: a change still reaches Bookker within
RECONCILE_INTERVAL_MINUTES, found by the reconcile timer firing on its schedule on the
virtual clock (the real timer of the local host, not an admin call)."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.support.functions_host import Stack, Tenant, running_stack, wait_for
from tests.support.outlook import Outlook

INTERVAL = 15


def _subscribed_and_synced(stack: Stack, t: Tenant) -> bool:
    health = stack.api("GET", "health").json()
    mine = [x for x in health.get("tenants", []) if x["tenantId"] == t.id]
    return bool(
        mine and mine[0]["subscriptions"]["active"] == 1 and mine[0]["oldestSuccessfulSync"]
    )


def _minute(stack: Stack) -> None:
    stack.emulator.clock_advance(60)
    time.sleep(0.6)  # the host follows the emulator's clock twice a second


def test_a_change_with_every_notification_lost_arrives_within_the_interval():
    env = {"RECONCILE_SCHEDULE": f"0 */{INTERVAL} * * * *",
           "AzureWebJobs.reconcile_all.Disabled": "false",
           "RECONCILE_INTERVAL_MINUTES": str(INTERVAL)}  # fmt: skip
    with running_stack(env) as stack:
        t = stack.new_tenant("bidirectional")
        alice = t.add_user("alice")
        room = t.add_space("room")
        assert room is not None
        outlook = Outlook(stack, t)
        wait_for(lambda: _subscribed_and_synced(stack, t), timeout=60)
        # One minute past a timer tick, a change whose notification arrives: the room
        # is synced then, just after the tick.
        now = stack.emulator.clock_now()
        to_tick = (INTERVAL - now.minute % INTERVAL) * 60 - now.second
        stack.emulator.clock_advance(to_tick + 60)
        time.sleep(2)
        day = now.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=3)
        outlook.book_room(alice, room, day + timedelta(hours=9), day + timedelta(hours=10), "a")
        stack.emulator.flush_notifications()
        wait_for(lambda: len(t.bookings(status="confirmed")) == 1, timeout=30)
        # From now on every notification is lost; one minute later, another change.
        stack.emulator.set_faults(seed=1, notificationDropRate=1.0)
        _minute(stack)
        outlook.book_room(alice, room, day + timedelta(hours=11), day + timedelta(hours=12), "b")
        minutes = 0
        while len(t.bookings(status="confirmed")) < 2:
            assert minutes < 2 * INTERVAL + 2, "the change never arrived"
            _minute(stack)
            minutes += 1
            if stack.emulator.clock_now().minute % INTERVAL == 0:
                # the timer's moment: give the host real time to run it and the sync
                try:
                    wait_for(lambda: len(t.bookings(status="confirmed")) == 2, timeout=10)
                except AssertionError:
                    pass
        assert minutes <= INTERVAL, f"the change took {minutes} virtual minutes"
