"""Recurring bookings: the API's recurrence input, its expansion and its Graph form.

A recurring Bookker booking is stored as one booking per occurrence and written to
Outlook as one series, so the expansion here must produce the same occurrences as
Exchange does for the ``patternedRecurrence`` built by ``to_graph_pattern``:

- occurrences are whole local days; the wall-clock start and end times stay the same
  in the series' time zone across DST changes, as in Outlook;
- weekly weeks start on ``FIRST_DAY_OF_WEEK`` (sent to Graph as ``firstDayOfWeek``),
  which matters for ``interval`` > 1;
- the first occurrence is the first day matching the pattern on or after the local
  start date (like Outlook); callers should give the Graph event that occurrence's
  start and end, since Exchange loses time zone details otherwise;
- ``until`` is inclusive and compared with occurrences' local start dates.

A series has at most one occurrence per local day (no Outlook pattern repeats more
often), which is why ``occurrence_key`` can be the local date of the original start.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from itertools import count as count_from
from typing import Any, Final, Literal, Self, get_args
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator, model_validator

from bookker_sync.domain.models import WEEKDAYS, Model, load_time_zone

MAX_OCCURRENCES: Final = 500
"""The most occurrences one series may have, by count or by ``until``."""

FIRST_DAY_OF_WEEK: Final = "monday"
"""Where weekly patterns' weeks start, in our expansion and in the Graph pattern."""

MAX_DAILY_INTERVAL: Final = 999  # Exchange's limits for daily and weekly intervals
MAX_WEEKLY_INTERVAL: Final = 99

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
_WEEKDAY_NAMES: Final[tuple[Weekday, ...]] = get_args(Weekday)  # Monday first, as WEEKDAYS


class RecurrencePatternType(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class Recurrence(Model):
    """``{"pattern", "interval", "daysOfWeek", "until" | "count"}`` of a booking request."""

    pattern: RecurrencePatternType
    interval: int = Field(default=1, ge=1, le=MAX_DAILY_INTERVAL)
    days_of_week: list[Weekday] | None = None
    until: date | None = None
    count: int | None = Field(default=None, ge=1, le=MAX_OCCURRENCES)

    @field_validator("days_of_week")
    @classmethod
    def _distinct_days_in_week_order(cls, value: list[Weekday] | None) -> list[Weekday] | None:
        if value is None:
            return None
        if not value:
            raise ValueError("daysOfWeek must name at least one day (or be left out)")
        return sorted(set(value), key=_day_in_week)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.until is None) == (self.count is None):
            raise ValueError("a recurrence needs exactly one end: 'until' (a date) or 'count'")
        if self.pattern is RecurrencePatternType.DAILY and self.days_of_week is not None:
            raise ValueError("daysOfWeek applies to weekly recurrences only")
        if self.pattern is RecurrencePatternType.WEEKLY and self.interval > MAX_WEEKLY_INTERVAL:
            raise ValueError(f"a weekly interval can be at most {MAX_WEEKLY_INTERVAL}")
        return self

    def weekdays_for(self, first_date: date) -> list[Weekday]:
        """The weekly days, defaulting to the weekday of the series' first local date."""
        return self.days_of_week or [_weekday_of(first_date)]


def expand(
    recurrence: Recurrence, start: datetime, end: datetime, time_zone: str
) -> list[tuple[datetime, datetime]]:
    """The UTC (start, end) of every occurrence, the first at or after ``start``.

    ``start``/``end`` are the times of the requested first occurrence. Raises
    ValueError for naive or reversed times, an unknown zone, a series without
    occurrences or one with more than ``MAX_OCCURRENCES``.
    """
    zone = load_time_zone(time_zone)
    wall_start, wall_duration = _wall_times(start, end, zone)
    dates = _occurrence_dates(recurrence, wall_start.date())
    return [_occurrence(day, wall_start.time(), wall_duration, zone) for day in dates]


def to_graph_pattern(
    recurrence: Recurrence, start_local_date: date, time_zone: str
) -> dict[str, Any]:
    """Microsoft Graph ``patternedRecurrence`` JSON for the series starting on
    ``start_local_date`` (local to ``time_zone``, an IANA name)."""
    load_time_zone(time_zone)
    pattern: dict[str, Any] = {"type": recurrence.pattern.value, "interval": recurrence.interval}
    if recurrence.pattern is RecurrencePatternType.WEEKLY:
        # Graph rejects properties a pattern type does not use, so daily gets neither.
        pattern["daysOfWeek"] = list(recurrence.weekdays_for(start_local_date))
        pattern["firstDayOfWeek"] = FIRST_DAY_OF_WEEK
    return {"pattern": pattern, "range": _graph_range(recurrence, start_local_date, time_zone)}


def occurrence_key(original_start: datetime, time_zone: str) -> str:
    """A stable key of one occurrence: the local date (ISO) of its original start.

    Use Graph's ``originalStart`` (UTC) for Outlook occurrences and the expanded start
    for ours. The date survives the organizer moving the whole series to another time
    and Exchange's own choice of time for a start that a DST change skips.
    """
    if original_start.tzinfo is None or original_start.utcoffset() is None:
        raise ValueError("original_start must carry a UTC offset")
    return original_start.astimezone(load_time_zone(time_zone)).date().isoformat()


def occurrence_keys(occurrences: Sequence[tuple[datetime, datetime]], time_zone: str) -> list[str]:
    """``occurrence_key`` of each (start, end), in order."""
    return [occurrence_key(start, time_zone) for start, _ in occurrences]


# --- expansion ---------------------------------------------------------------------


def _wall_times(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[datetime, timedelta]:
    """The naive local start and the wall-clock duration to keep for every occurrence."""
    for value, name in ((start, "start"), (end, "end")):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"{name} must carry a UTC offset")
    if end <= start:
        raise ValueError("the booking must end after it starts")
    wall_start = start.astimezone(zone).replace(tzinfo=None)
    wall_duration = end.astimezone(zone).replace(tzinfo=None) - wall_start
    # Across a fall-back hour the wall clock can run backwards; keep the real length.
    return wall_start, (wall_duration if wall_duration > timedelta(0) else end - start)


def _occurrence_dates(recurrence: Recurrence, first_date: date) -> list[date]:
    limit = recurrence.count or MAX_OCCURRENCES
    dates: list[date] = []
    try:
        for day in _candidate_dates(recurrence, first_date):
            if recurrence.until is not None and day > recurrence.until:
                break
            if len(dates) == limit:
                if recurrence.count is None:
                    raise ValueError(f"the recurrence has more than {MAX_OCCURRENCES} occurrences")
                break
            dates.append(day)
    except OverflowError:
        raise ValueError("the recurrence runs past the year 9999") from None
    if not dates:
        raise ValueError("the recurrence has no occurrence on or before its 'until' date")
    return dates


def _candidate_dates(recurrence: Recurrence, first_date: date) -> Iterator[date]:
    """Every local date the pattern matches from ``first_date`` on, in order (endless)."""
    if recurrence.pattern is RecurrencePatternType.DAILY:
        step = timedelta(days=recurrence.interval)
        return (first_date + step * n for n in count_from())
    return _weekly_dates(recurrence, first_date)


def _weekly_dates(recurrence: Recurrence, first_date: date) -> Iterator[date]:
    offsets = [_day_in_week(day) for day in recurrence.weekdays_for(first_date)]
    first_week = first_date - timedelta(days=_day_in_week(_weekday_of(first_date)))
    for n in count_from():
        week = first_week + timedelta(weeks=recurrence.interval * n)
        for offset in offsets:
            day = week + timedelta(days=offset)
            if day >= first_date:
                yield day


def _occurrence(
    day: date, wall_start: time, wall_duration: timedelta, zone: ZoneInfo
) -> tuple[datetime, datetime]:
    local_start = datetime.combine(day, wall_start)
    start = _wall_to_utc(local_start, zone)
    if not _exists(local_start, zone):
        # The start falls into a DST gap: the whole occurrence moves forward with it
        # (so it cannot end before it starts), keeping its wall-clock length.
        return start, start + wall_duration
    return start, _wall_to_utc(local_start + wall_duration, zone)


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous time is its first occurrence and a skipped time is read
    # with the offset before the gap, i.e. moved forward by the gap (RFC 5545 3.3.5).
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    round_trip = _wall_to_utc(wall, zone).astimezone(zone).replace(tzinfo=None)
    return round_trip == wall


# --- Graph -------------------------------------------------------------------------


def _graph_range(recurrence: Recurrence, start_local_date: date, time_zone: str) -> dict[str, Any]:
    start_date = start_local_date.isoformat()
    if recurrence.until is not None:
        return {
            "type": "endDate",
            "startDate": start_date,
            "endDate": recurrence.until.isoformat(),
            "recurrenceTimeZone": time_zone,
        }
    return {
        "type": "numbered",
        "startDate": start_date,
        "numberOfOccurrences": recurrence.count,
        "recurrenceTimeZone": time_zone,
    }


# --- weekdays ----------------------------------------------------------------------


def _weekday_of(day: date) -> Weekday:
    return _WEEKDAY_NAMES[day.weekday()]


def _day_in_week(day: Weekday) -> int:
    """Days from ``FIRST_DAY_OF_WEEK`` to ``day`` (0-6)."""
    return (WEEKDAYS.index(day) - WEEKDAYS.index(FIRST_DAY_OF_WEEK)) % 7
