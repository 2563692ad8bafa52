"""Recurrence input, expansion and Graph pattern (bookker_sync.domain.recurrence).

Self-contained (no conftest fixtures) and deterministic: every hypothesis test carries
its own derandomized settings.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bookker_sync.domain.models import WEEKDAYS
from bookker_sync.domain.recurrence import (
    FIRST_DAY_OF_WEEK,
    MAX_OCCURRENCES,
    Recurrence,
    RecurrencePatternType,
    expand,
    occurrence_key,
    occurrence_keys,
    to_graph_pattern,
)

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

MADRID = ZoneInfo("Europe/Madrid")


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = MADRID) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def recurrence(**fields: Any) -> Recurrence:
    return Recurrence.model_validate(fields)


def local_starts(
    occurrences: list[tuple[datetime, datetime]], zone: ZoneInfo = MADRID
) -> list[str]:
    return [start.astimezone(zone).strftime("%a %Y-%m-%d %H:%M") for start, _ in occurrences]


# --- the input model ---------------------------------------------------------------------


def test_recurrence_reads_camel_case_and_defaults() -> None:
    parsed = Recurrence.model_validate(
        {"pattern": "weekly", "daysOfWeek": ["friday", "monday", "friday"], "until": "2024-06-30"}
    )
    assert parsed.pattern is RecurrencePatternType.WEEKLY
    assert parsed.interval == 1
    assert parsed.days_of_week == ["monday", "friday"]  # distinct, in week order
    assert parsed.until == date(2024, 6, 30)
    assert parsed.to_json_dict() == {
        "pattern": "weekly",
        "interval": 1,
        "daysOfWeek": ["monday", "friday"],
        "until": "2024-06-30",
    }


@pytest.mark.parametrize(
    "fields",
    [
        {"pattern": "daily"},  # no end
        {"pattern": "daily", "count": 3, "until": "2024-06-30"},  # two ends
        {"pattern": "daily", "count": 0},
        {"pattern": "daily", "count": MAX_OCCURRENCES + 1},
        {"pattern": "daily", "count": 3, "interval": 0},
        {"pattern": "daily", "count": 3, "interval": 1000},
        {"pattern": "weekly", "count": 3, "interval": 100},
        {"pattern": "daily", "count": 3, "daysOfWeek": ["monday"]},
        {"pattern": "weekly", "count": 3, "daysOfWeek": []},
        {"pattern": "weekly", "count": 3, "daysOfWeek": ["mon"]},
        {"pattern": "monthly", "count": 3},
        {"pattern": "daily", "until": "30/06/2024"},
        {"pattern": "daily", "count": 3, "extra": True},
    ],
)
def test_invalid_recurrences_are_rejected(fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        Recurrence.model_validate(fields)


def test_limits_are_accepted_exactly() -> None:
    assert recurrence(pattern="daily", count=MAX_OCCURRENCES, interval=999).count == MAX_OCCURRENCES
    assert recurrence(pattern="weekly", count=1, interval=99).interval == 99


# --- expansion (table) ---------------------------------------------------------------------

MONDAY = date(2024, 5, 6)


@pytest.mark.parametrize(
    ("fields", "first_day", "expected"),
    [
        (
            {"pattern": "daily", "count": 3},
            MONDAY,
            ["Mon 2024-05-06 09:00", "Tue 2024-05-07 09:00", "Wed 2024-05-08 09:00"],
        ),
        (
            {"pattern": "daily", "interval": 3, "until": "2024-05-12"},  # until inclusive
            MONDAY,
            ["Mon 2024-05-06 09:00", "Thu 2024-05-09 09:00", "Sun 2024-05-12 09:00"],
        ),
        (
            {"pattern": "weekly", "count": 3},  # the start's weekday by default
            MONDAY + timedelta(days=2),
            ["Wed 2024-05-08 09:00", "Wed 2024-05-15 09:00", "Wed 2024-05-22 09:00"],
        ),
        (
            {"pattern": "weekly", "daysOfWeek": ["friday", "monday"], "until": "2024-05-17"},
            MONDAY,
            [
                "Mon 2024-05-06 09:00",
                "Fri 2024-05-10 09:00",
                "Mon 2024-05-13 09:00",
                "Fri 2024-05-17 09:00",
            ],
        ),
        (
            # First occurrence is the first matching day on or after the start (Outlook).
            {"pattern": "weekly", "daysOfWeek": ["monday"], "count": 2},
            MONDAY + timedelta(days=2),
            ["Mon 2024-05-13 09:00", "Mon 2024-05-20 09:00"],
        ),
        (
            # Every other week, weeks starting on Monday: Sunday 5th is in week 0, so
            # Monday 13th and Sunday 19th are in week 2.
            {"pattern": "weekly", "interval": 2, "daysOfWeek": ["sunday", "monday"], "count": 4},
            MONDAY - timedelta(days=1),
            [
                "Sun 2024-05-05 09:00",
                "Mon 2024-05-13 09:00",
                "Sun 2024-05-19 09:00",
                "Mon 2024-05-27 09:00",
            ],
        ),
    ],
)
def test_expansion_dates(fields: dict[str, Any], first_day: date, expected: list[str]) -> None:
    start = local(first_day, 9)
    occurrences = expand(recurrence(**fields), start, start + timedelta(hours=1), "Europe/Madrid")
    assert local_starts(occurrences) == expected
    assert all(end - start == timedelta(hours=1) for start, end in occurrences)
    assert all(start.tzinfo is UTC and end.tzinfo is UTC for start, end in occurrences)


def test_wall_clock_time_is_kept_across_madrid_dst() -> None:
    start = local(date(2024, 3, 29), 9, 30)
    occurrences = expand(
        recurrence(pattern="daily", count=4), start, local(date(2024, 3, 29), 10), "Europe/Madrid"
    )
    assert local_starts(occurrences) == [
        "Fri 2024-03-29 09:30",
        "Sat 2024-03-30 09:30",
        "Sun 2024-03-31 09:30",
        "Mon 2024-04-01 09:30",
    ]
    assert [start.hour for start, _ in occurrences] == [8, 8, 7, 7]  # UTC moves instead


def test_an_occurrence_in_the_skipped_hour_moves_forward_whole() -> None:
    start = local(date(2024, 3, 30), 2, 30)
    occurrences = expand(
        recurrence(pattern="daily", count=3),
        start,
        local(date(2024, 3, 30), 3, 10),
        "Europe/Madrid",
    )
    assert local_starts(occurrences) == [
        "Sat 2024-03-30 02:30",
        "Sun 2024-03-31 03:30",  # 02:30 does not exist that night
        "Mon 2024-04-01 02:30",
    ]
    assert [end - start for start, end in occurrences] == [timedelta(minutes=40)] * 3


def test_an_occurrence_in_the_repeated_hour_takes_the_first() -> None:
    start = local(date(2024, 10, 26), 2, 30)
    occurrences = expand(
        recurrence(pattern="daily", count=2),
        start,
        local(date(2024, 10, 26), 3, 30),
        "Europe/Madrid",
    )
    second_start, second_end = occurrences[1]
    assert second_start == datetime(2024, 10, 27, 0, 30, tzinfo=UTC)  # 02:30 CEST
    assert second_end == datetime(2024, 10, 27, 2, 30, tzinfo=UTC)  # 03:30 CET: two hours


def test_overnight_occurrences_keep_both_wall_times() -> None:
    zone = ZoneInfo("America/New_York")
    start = local(date(2024, 3, 8), 22, zone=zone)
    occurrences = expand(
        recurrence(pattern="daily", count=3),
        start,
        local(date(2024, 3, 9), 4, zone=zone),
        "America/New_York",
    )
    walls = [
        (s.astimezone(zone).strftime("%d %H:%M"), e.astimezone(zone).strftime("%d %H:%M"))
        for s, e in occurrences
    ]
    assert walls == [("08 22:00", "09 04:00"), ("09 22:00", "10 04:00"), ("10 22:00", "11 04:00")]
    assert [e - s for s, e in occurrences] == [
        timedelta(hours=6),
        timedelta(hours=5),  # the night the clocks spring forward
        timedelta(hours=6),
    ]


@pytest.mark.parametrize(
    ("fields", "start", "end", "zone", "message"),
    [
        (
            {"pattern": "daily", "until": "2026-01-01"},
            local(MONDAY, 9),
            local(MONDAY, 10),
            "Europe/Madrid",
            "more than 500",
        ),
        (
            {"pattern": "weekly", "daysOfWeek": ["monday"], "until": "2024-05-07"},
            local(MONDAY + timedelta(days=1), 9),
            local(MONDAY + timedelta(days=1), 10),
            "Europe/Madrid",
            "no occurrence",
        ),
        (
            {"pattern": "daily", "until": "2024-05-01"},
            local(MONDAY, 9),
            local(MONDAY, 10),
            "Europe/Madrid",
            "no occurrence",
        ),
        (
            {"pattern": "daily", "count": 2},
            local(MONDAY, 9),
            local(MONDAY, 9),
            "Europe/Madrid",
            "end after",
        ),
        (
            {"pattern": "daily", "count": 2},
            local(MONDAY, 9),
            local(MONDAY, 10),
            "Mars/Base",
            "time zone",
        ),
        (
            {"pattern": "daily", "count": 2},
            datetime(2024, 5, 6, 9),
            datetime(2024, 5, 6, 10),
            "Europe/Madrid",
            "UTC offset",
        ),
        (
            {"pattern": "weekly", "interval": 99, "count": 500},
            local(date(9500, 1, 1), 9),
            local(date(9500, 1, 1), 10),
            "Europe/Madrid",
            "9999",
        ),
    ],
)
def test_unexpandable_recurrences_raise_value_error(
    fields: dict[str, Any], start: datetime, end: datetime, zone: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        expand(recurrence(**fields), start, end, zone)


def test_until_allows_exactly_500_occurrences() -> None:
    start = local(date(2024, 1, 1), 9)
    until = date(2024, 1, 1) + timedelta(days=MAX_OCCURRENCES - 1)
    occurrences = expand(
        recurrence(pattern="daily", until=until.isoformat()),
        start,
        start + timedelta(hours=1),
        "UTC",
    )
    assert len(occurrences) == MAX_OCCURRENCES


# --- Graph patternedRecurrence -------------------------------------------------------------


def test_graph_pattern_for_a_numbered_daily_series() -> None:
    assert to_graph_pattern(
        recurrence(pattern="daily", interval=2, count=10), date(2024, 5, 6), "Europe/Madrid"
    ) == {
        "pattern": {"type": "daily", "interval": 2},
        "range": {
            "type": "numbered",
            "startDate": "2024-05-06",
            "numberOfOccurrences": 10,
            "recurrenceTimeZone": "Europe/Madrid",
        },
    }


def test_graph_pattern_for_a_weekly_series_with_an_end_date() -> None:
    assert to_graph_pattern(
        recurrence(pattern="weekly", days_of_week=["thursday", "tuesday"], until=date(2024, 6, 30)),
        date(2024, 5, 7),
        "America/New_York",
    ) == {
        "pattern": {
            "type": "weekly",
            "interval": 1,
            "daysOfWeek": ["tuesday", "thursday"],
            "firstDayOfWeek": FIRST_DAY_OF_WEEK,
        },
        "range": {
            "type": "endDate",
            "startDate": "2024-05-07",
            "endDate": "2024-06-30",
            "recurrenceTimeZone": "America/New_York",
        },
    }


def test_graph_pattern_defaults_weekly_days_to_the_start_day() -> None:
    pattern = to_graph_pattern(recurrence(pattern="weekly", count=3), date(2024, 5, 8), "UTC")
    assert pattern["pattern"]["daysOfWeek"] == ["wednesday"]


def test_graph_pattern_rejects_unknown_time_zones() -> None:
    with pytest.raises(ValueError, match="time zone"):
        to_graph_pattern(recurrence(pattern="daily", count=3), date(2024, 5, 8), "Madrid")


# --- occurrence keys -----------------------------------------------------------------------


def test_occurrence_key_is_the_local_date_of_the_original_start() -> None:
    # Graph gives originalStart in UTC: 23:30 UTC on the 6th is the 7th in Madrid.
    assert occurrence_key(datetime(2024, 5, 6, 23, 30, tzinfo=UTC), "Europe/Madrid") == "2024-05-07"
    assert (
        occurrence_key(datetime(2024, 5, 6, 23, 30, tzinfo=UTC), "America/New_York") == "2024-05-06"
    )
    with pytest.raises(ValueError):
        occurrence_key(datetime(2024, 5, 6, 23, 30), "Europe/Madrid")


def test_occurrence_keys_survive_moving_the_whole_series() -> None:
    series = recurrence(pattern="weekly", days_of_week=["monday", "thursday"], count=6)
    at_nine = expand(series, local(MONDAY, 9), local(MONDAY, 10), "Europe/Madrid")
    at_five = expand(series, local(MONDAY, 17), local(MONDAY, 18), "Europe/Madrid")
    assert occurrence_keys(at_nine, "Europe/Madrid") == occurrence_keys(at_five, "Europe/Madrid")
    assert len(set(occurrence_keys(at_nine, "Europe/Madrid"))) == 6


# --- properties ------------------------------------------------------------------------------

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
DAYS = st.sampled_from(WEEKDAYS)


@st.composite
def recurrences(draw: st.DrawFn, first_day: date, *, by_count: bool) -> Recurrence:
    pattern = draw(st.sampled_from(["daily", "weekly"]))
    fields: dict[str, Any] = {"pattern": pattern}
    fields["interval"] = draw(st.integers(1, 4) | st.integers(1, 99))
    if pattern == "weekly" and draw(st.booleans()):
        fields["daysOfWeek"] = draw(st.lists(DAYS, min_size=1, max_size=7))
    if by_count:
        fields["count"] = draw(st.integers(1, 60) | st.integers(1, MAX_OCCURRENCES))
    else:
        # Keep well below 500 occurrences: at most 400 days of daily series.
        fields["until"] = (first_day + timedelta(days=draw(st.integers(0, 400)))).isoformat()
    return Recurrence.model_validate(fields)


# Shortly before each zone's 2024 DST changes, so daily series run across them.
NEAR_DST = [date(2024, 3, 28), date(2024, 10, 24), date(2024, 3, 7), date(2024, 10, 31)]
NEAR_DST += [date(2024, 4, 4), date(2024, 10, 3)]


@st.composite
def first_occurrences(draw: st.DrawFn) -> tuple[str, datetime, datetime]:
    """A zone and a requested first occurrence: a quarter hour of 2024, often just before
    a DST change and in the small hours, lasting from 15 minutes to 10 hours."""
    zone_name = draw(st.sampled_from(ZONES))
    any_day = st.integers(0, 365).map(lambda n: date(2024, 1, 1) + timedelta(days=n))
    day = draw(st.sampled_from(NEAR_DST) | any_day)
    wall = time(
        draw(st.integers(1, 3) | st.integers(0, 23)), draw(st.sampled_from([0, 15, 30, 45]))
    )
    start = datetime.combine(day, wall, tzinfo=ZoneInfo(zone_name))
    # Aware arithmetic on one tzinfo is wall-clock arithmetic: the end keeps its wall time.
    end = start + timedelta(minutes=15 * draw(st.integers(1, 40)))
    return zone_name, start, end


def expand_some(
    series: Recurrence, start: datetime, end: datetime, zone_name: str
) -> list[tuple[datetime, datetime]]:
    """``expand``, discarding drawn series whose ``until`` comes before any occurrence."""
    try:
        return expand(series, start, end, zone_name)
    except ValueError as error:
        assume("no occurrence" not in str(error))
        raise


def _exists(wall: datetime, zone: ZoneInfo) -> bool:
    aware = wall.replace(tzinfo=zone)
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@PROPERTY
@given(data=st.data(), first=first_occurrences())
def test_count_gives_exactly_count_ordered_occurrences_one_per_day(
    data: st.DataObject, first: tuple[str, datetime, datetime]
) -> None:
    zone_name, start, end = first
    series = data.draw(recurrences(start.date(), by_count=True))
    occurrences = expand(series, start, end, zone_name)
    assert len(occurrences) == series.count
    starts = [s for s, _ in occurrences]
    assert starts == sorted(starts) and all(s < e for s, e in occurrences)
    keys = occurrence_keys(occurrences, zone_name)
    assert len(set(keys)) == len(keys)
    assert keys[0] >= start.date().isoformat()


def assert_keeps_wall_times_and_pattern(
    series: Recurrence, start: datetime, end: datetime, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    wall_start, wall_end = start.replace(tzinfo=None), end.replace(tzinfo=None)
    days = series.weekdays_for(start.date())
    for occurrence_start, occurrence_end in expand_some(series, start, end, zone_name):
        local_start = occurrence_start.astimezone(zone)
        day = local_start.date()
        shift = day - start.date()
        expected_start = wall_start + shift
        if _exists(expected_start, zone):
            assert local_start.replace(tzinfo=None) == expected_start
            expected_end = wall_end + shift
            if _exists(expected_end, zone):
                assert occurrence_end.astimezone(zone).replace(tzinfo=None) == expected_end
            else:  # the end wall time is skipped: read with the offset before the gap
                assert occurrence_end - occurrence_start == wall_end - wall_start
        else:  # skipped by DST: the occurrence moves forward by the gap, keeping its length
            assert local_start.replace(tzinfo=None) == expected_start + timedelta(hours=1)
            assert occurrence_end - occurrence_start == wall_end - wall_start
        assert occurrence_start < occurrence_end
        if series.pattern is RecurrencePatternType.DAILY:
            assert shift.days % series.interval == 0
        else:
            assert WEEKDAYS[day.weekday()] in days
            weeks = (day - timedelta(days=day.weekday())) - (
                start.date() - timedelta(days=start.date().weekday())
            )
            assert (weeks.days // 7) % series.interval == 0


@PROPERTY
@given(data=st.data(), first=first_occurrences())
def test_occurrences_keep_local_wall_times_and_match_the_pattern(
    data: st.DataObject, first: tuple[str, datetime, datetime]
) -> None:
    zone_name, start, end = first
    series = data.draw(recurrences(start.date(), by_count=data.draw(st.booleans())))
    assert_keeps_wall_times_and_pattern(series, start, end, zone_name)


DST_DAYS = {
    "Europe/Madrid": [date(2024, 3, 31), date(2024, 10, 27)],
    "America/New_York": [date(2024, 3, 10), date(2024, 11, 3)],
    "Australia/Sydney": [date(2024, 4, 7), date(2024, 10, 6)],
}


@PROPERTY
@given(
    zone_name=st.sampled_from(sorted(DST_DAYS)),
    change=st.integers(0, 1),
    days_before=st.integers(0, 3),
    quarter_of_night=st.integers(0, 4 * 4),
    quarters=st.integers(1, 20),
    count=st.integers(1, 8),
)
def test_daily_series_through_dst_nights_keep_wall_times(
    zone_name: str, change: int, days_before: int, quarter_of_night: int, quarters: int, count: int
) -> None:
    """Starts between 00:00 and 04:00 a few days before a change, so occurrences land in
    skipped and repeated hours."""
    day = DST_DAYS[zone_name][change] - timedelta(days=days_before)
    start = datetime.combine(day, time(), tzinfo=ZoneInfo(zone_name)) + timedelta(
        minutes=15 * quarter_of_night
    )
    end = start + timedelta(minutes=15 * quarters)  # wall-clock arithmetic
    series = recurrence(pattern="daily", count=count)
    assert_keeps_wall_times_and_pattern(series, start, end, zone_name)


def _pattern_dates(series: Recurrence, first_day: date, until: date) -> list[date]:
    """Oracle: walk every day from the first to ``until`` and keep the matching ones."""
    days = series.weekdays_for(first_day)
    first_monday = first_day - timedelta(days=first_day.weekday())
    matching = []
    day = first_day
    while day <= until:
        if series.pattern is RecurrencePatternType.DAILY:
            matches = (day - first_day).days % series.interval == 0
        else:
            week = ((day - timedelta(days=day.weekday())) - first_monday).days // 7
            matches = WEEKDAYS[day.weekday()] in days and week % series.interval == 0
        if matches:
            matching.append(day)
        day += timedelta(days=1)
    return matching


@PROPERTY
@given(data=st.data(), first=first_occurrences())
def test_until_gives_every_matching_day_and_none_after_it(
    data: st.DataObject, first: tuple[str, datetime, datetime]
) -> None:
    zone_name, start, end = first
    series = data.draw(recurrences(start.date(), by_count=False))
    assert series.until is not None
    expected = _pattern_dates(series, start.date(), series.until)
    if not expected:
        with pytest.raises(ValueError, match="no occurrence"):
            expand(series, start, end, zone_name)
        return
    occurrences = expand(series, start, end, zone_name)
    dates = [s.astimezone(ZoneInfo(zone_name)).date() for s, _ in occurrences]
    assert dates == expected
    assert all(d <= series.until for d in dates)


@PROPERTY
@given(data=st.data(), first=first_occurrences())
def test_graph_pattern_describes_the_same_series(
    data: st.DataObject, first: tuple[str, datetime, datetime]
) -> None:
    zone_name, start, end = first
    series = data.draw(recurrences(start.date(), by_count=data.draw(st.booleans())))
    occurrences = expand_some(series, start, end, zone_name)
    graph = to_graph_pattern(series, start.date(), zone_name)
    assert graph["pattern"]["type"] == series.pattern.value
    assert graph["pattern"]["interval"] == series.interval
    assert graph["range"]["recurrenceTimeZone"] == zone_name
    if series.count is not None:
        assert graph["range"]["type"] == "numbered"
        assert graph["range"]["numberOfOccurrences"] == len(occurrences)
    else:
        assert graph["range"]["type"] == "endDate"
        assert graph["range"]["endDate"] >= occurrence_keys(occurrences, zone_name)[-1]
    if series.pattern is RecurrencePatternType.WEEKLY:
        weekdays = {
            WEEKDAYS[date.fromisoformat(k).weekday()]
            for k in occurrence_keys(occurrences, zone_name)
        }
        assert weekdays <= set(graph["pattern"]["daysOfWeek"])
        assert graph["pattern"]["firstDayOfWeek"] == "monday"
    else:
        assert set(graph["pattern"]) == {"type", "interval"}
