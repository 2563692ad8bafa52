"""When a room is listed in full: pure decisions of domain/sync_window.py."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.domain.sync_window import (
    SPREAD,
    FullListing,
    fresh_window,
    full_listing_reason,
    next_full_listing,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_a_fresh_window_is_now_minus_past_to_now_plus_future():
    w = fresh_window(NOW, 1, 365)
    assert (w.start, w.end) == (NOW - timedelta(days=1), NOW + timedelta(days=365))


@pytest.mark.parametrize(
    ("has_link", "abandoned", "due_at", "expected"),
    [
        (False, False, NOW + timedelta(hours=1), FullListing.NO_LINK),
        (True, True, NOW + timedelta(hours=1), FullListing.ABANDONED),
        (True, False, None, FullListing.DUE),  # state from before windows were recorded
        (True, False, NOW, FullListing.DUE),
        (True, False, NOW - timedelta(seconds=1), FullListing.DUE),
        (True, False, NOW + timedelta(seconds=1), None),
    ],
)
def test_reasons(has_link, abandoned, due_at, expected):
    got = full_listing_reason(
        NOW, has_link=has_link, previous_run_abandoned=abandoned, due_at=due_at
    )
    assert got == expected


def test_the_period_is_shortened_by_at_most_the_spread():
    day = timedelta(days=1)
    assert next_full_listing(NOW, day, 365, 0.0) == NOW + day
    assert next_full_listing(NOW, day, 365, 1.0) == NOW + day * (1 - SPREAD)
    with pytest.raises(ValueError):
        next_full_listing(NOW, day, 365, 1.5)


@given(
    hours=st.integers(1, 720),
    future=st.integers(1, 1825),
    draw=st.floats(0, 1),
    elapsed_days=st.integers(0, 3000),
)
def test_the_synced_horizon_never_shrinks_below_half_the_future(hours, future, draw, elapsed_days):
    """Whatever the settings: a room synced at least once per period never follows a
    window whose end is closer than half the future horizon (and rolls within the
    period, and no sooner than 3/4 of it)."""
    period = timedelta(hours=hours)
    due = next_full_listing(NOW, period, future, draw)
    window = fresh_window(NOW, 1, future)
    later = NOW + timedelta(days=elapsed_days)
    reason = full_listing_reason(later, has_link=True, previous_run_abandoned=False, due_at=due)
    if reason is None:  # still following the old window
        assert window.end - later >= timedelta(days=future) / 2
        assert later - NOW < period
    base = min(period, timedelta(days=future) / 2)
    assert base * (1 - SPREAD) <= due - NOW <= base
