"""When a room's sync must list the whole room instead of following its delta link.

calendarView/delta fixes its window [start, end] with the first request and carries it
in every next/delta link, so an incremental sync never sees past the end it was given
on day one: the horizon shrinks by a day per day. And a run that dies after applying a
page but before saving its link leaves a link from before the page: replaying it never
mentions an event created and removed meanwhile. Only a full listing of a fresh window
sees everything (and proves which room copies are gone), so one is due when:

- the room has no delta link (first sync, operator resync, 410 SyncStateNotFound);
- the previous run of the room was abandoned (killed, or failed mid-run);
- the stored window's listing is older than the full-listing period (default daily),
  or its end is closer than half the future horizon. The period is shortened by a
  random share of up to a quarter, drawn at each full listing, so rooms onboarded
  together drift apart instead of all listing in the same minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

SPREAD = 0.25  # a period is shortened by up to this share, drawn per listing


class FullListing(StrEnum):
    NO_LINK = "no delta link"
    ABANDONED = "the previous run was abandoned"
    DUE = "the window is due to roll"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime


def fresh_window(now: datetime, past_days: int, future_days: int) -> Window:
    return Window(now - timedelta(days=past_days), now + timedelta(days=future_days))


def next_full_listing(now: datetime, period: timedelta, future_days: int, draw: float) -> datetime:
    """When the window listed now is due to roll: ``period`` (at most half the future
    horizon, so the end never gets close), shortened by ``draw`` (0..1) x SPREAD."""
    if not 0.0 <= draw <= 1.0:
        raise ValueError("draw must be within [0, 1]")
    base = min(period, timedelta(days=future_days) / 2)
    return now + base * (1 - SPREAD * draw)


def full_listing_reason(
    now: datetime,
    *,
    has_link: bool,
    previous_run_abandoned: bool,
    due_at: datetime | None,
) -> FullListing | None:
    """Why this run must list the room in full (None: follow the delta link)."""
    if not has_link:
        return FullListing.NO_LINK
    if previous_run_abandoned:
        return FullListing.ABANDONED
    if due_at is None or now >= due_at:
        return FullListing.DUE
    return None
