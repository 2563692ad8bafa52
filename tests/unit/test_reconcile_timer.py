"""Which rooms the reconcile timer syncs: the convergence bound holds for any period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.sync.subscriptions.reconcile_timer import SLACK, stale_before

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)


def test_a_timer_firing_once_per_interval_syncs_every_room():
    assert stale_before(NOW, INTERVAL, timedelta(minutes=15)) == NOW + SLACK
    assert stale_before(NOW, INTERVAL, None) == NOW + SLACK  # period unknown
    assert stale_before(NOW, INTERVAL, timedelta(hours=3)) == NOW + SLACK  # clock jumped


def test_a_finer_timer_skips_rooms_synced_within_interval_minus_period():
    assert stale_before(NOW, INTERVAL, timedelta(minutes=5)) == NOW - timedelta(minutes=10) + SLACK


@given(period=st.integers(1, 15), synced=st.integers(0, 14 * 60), change=st.integers(0, 60))
def test_every_change_is_picked_up_within_the_interval(period, synced, change):
    """Ticks every ``period`` minutes from 0; the room was synced at ``synced`` seconds,
    a change follows ``change`` seconds later: the first tick that syncs the room
    comes no later than one interval after the change."""
    step = timedelta(minutes=period)
    last = NOW + timedelta(seconds=synced)
    changed = last + timedelta(seconds=change)
    tick = NOW
    while tick < changed or not last < stale_before(tick, INTERVAL, step):
        tick += step
    assert tick - changed <= INTERVAL
