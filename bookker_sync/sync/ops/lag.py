"""Sync lag of a room: how long a change notification waited for the sync that
processed it. One sample per successful sync run, the last 24 h kept (capped), for the
status page's timeline and the lag metric.

A run covers the latest notification when that notification arrived before the run
started and after the previous successful run started; its lag is then the time from
the notification to the end of the run. A run with nothing pending (a reconcile pass,
or a notification already covered) records 0.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from bookker_sync.storage.repositories import MailboxState

WINDOW = timedelta(hours=24)
MAX_SAMPLES = 400


def pending_lag(state: MailboxState, run_started: datetime, finished: datetime) -> float:
    """Lag of the notification this run served (0 if it served none). ``state`` is the
    stored state *before* the run's success is written."""
    notified = state.last_notification_at
    if notified is None or notified > run_started:
        return 0.0
    if state.last_sync_at is not None and notified <= state.last_sync_at:
        return 0.0
    return max(0.0, (finished - notified).total_seconds())


def add_sample(state: MailboxState, at: datetime, lag_seconds: float) -> None:
    """Append a sample; keep the last 24 h and at most MAX_SAMPLES."""
    since = at - WINDOW
    kept = [(t, v) for t, v in state.lag_samples if t >= since]
    kept.append((at, round(lag_seconds, 3)))
    state.lag_samples = kept[-MAX_SAMPLES:]


def record_run(state: MailboxState, run_started: datetime, finished: datetime) -> float:
    """Sample the run that is about to be marked successful; returns its lag."""
    lag = pending_lag(state, run_started, finished)
    add_sample(state, finished, lag)
    return lag


def recent(samples: list[tuple[datetime, float]], now: datetime) -> list[tuple[datetime, float]]:
    since = now - WINDOW
    return sorted((t, v) for t, v in samples if since <= t <= now + timedelta(minutes=5))
