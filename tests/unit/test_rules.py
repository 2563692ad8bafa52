"""The rule engine (bookker_sync.domain.rules): table tests per rule key, then properties.

Self-contained (no conftest fixtures) and deterministic: every hypothesis test carries
its own derandomized settings.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bookker_sync.domain.models import (
    WEEKDAYS,
    Booking,
    BookingStatus,
    Space,
    SpaceRules,
    TimeRange,
    User,
    UserRules,
)
from bookker_sync.domain.rules import RULE_KEYS, check_booking, check_occurrences

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, database=None)

MADRID = ZoneInfo("Europe/Madrid")
NOW = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)  # Wednesday 10:00 in Madrid
MONDAY = date(2024, 5, 6)
EN = "\N{EN DASH}"  # messages join an interval's two times with an en dash
WORKING_HOURS = {day: [{"start": "08:00", "end": "18:00"}] for day in WEEKDAYS[:5]}


def make_space(**rules: Any) -> Space:
    rules.setdefault("time_zone", "Europe/Madrid")
    return Space(id="room-a", tenant_id="t1", name="Room A", rules=SpaceRules(**rules))


def make_user(groups: Sequence[str] = (), **rules: Any) -> User:
    return User(
        id="ana",
        tenant_id="t1",
        email="ana@example.com",
        groups=list(groups),
        rules=UserRules(**rules),
    )


def make_booking(
    booking_id: str,
    start: datetime,
    minutes: int = 60,
    *,
    user_id: str = "ana",
    status: BookingStatus = BookingStatus.CONFIRMED,
) -> Booking:
    return Booking(
        id=booking_id,
        tenant_id="t1",
        space_id="room-b",
        user_id=user_id,
        start=start,
        end=start + timedelta(minutes=minutes),
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )


def local(day: date, hour: int, minute: int = 0, zone: ZoneInfo = MADRID) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def rules_broken(
    space: Space,
    start: datetime,
    end: datetime,
    *,
    user: User | None = None,
    bookings: Sequence[Booking] = (),
    now: datetime = NOW,
    ignore: Sequence[str] = (),
    anonymous: bool = False,
) -> list[str]:
    violations = check_booking(
        space=space,
        user=None if anonymous else (user or make_user()),
        start=start,
        end=end,
        user_bookings=bookings,
        now=now,
        ignore_booking_ids=ignore,
    )
    return [violation.rule for violation in violations]


def test_rule_keys_are_the_documented_ones() -> None:
    assert RULE_KEYS == (
        "access",
        "past",
        "bookingWindowDays",
        "openingHours",
        "minMinutes",
        "maxMinutes",
        "maxBookingsPerDay",
        "maxMinutesPerBooking",
    )


# --- one failing and one passing case per rule key, limits exactly at the boundary ----

TEN = local(MONDAY, 10)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], datetime, datetime, list[str]]] = [
    # id, space rules, rules_broken kwargs, start, end, expected rule keys
    ("access: no groups required", {}, {}, TEN, TEN + timedelta(hours=1), []),
    (
        "access: shares a group",
        {"allowed_groups": ["finance", "hr"]},
        {"user": make_user(["hr"])},
        TEN,
        TEN + timedelta(hours=1),
        [],
    ),
    (
        "access: shares no group",
        {"allowed_groups": ["finance"]},
        {"user": make_user(["hr"])},
        TEN,
        TEN + timedelta(hours=1),
        ["access"],
    ),
    (
        "access: no groups at all",
        {"allowed_groups": ["finance"]},
        {"user": make_user([])},
        TEN,
        TEN + timedelta(hours=1),
        ["access"],
    ),
    (
        "access: not a Bookker user",
        {},
        {"anonymous": True},
        TEN,
        TEN + timedelta(hours=1),
        ["access"],
    ),
    ("past: starts now", {}, {"now": TEN}, TEN, TEN + timedelta(hours=1), []),
    (
        "past: started a minute ago",
        {},
        {"now": TEN + timedelta(minutes=1)},
        TEN,
        TEN + timedelta(hours=1),
        ["past"],
    ),
    (
        "past: a microsecond ago",
        {},
        {"now": TEN + timedelta(microseconds=1)},
        TEN,
        TEN + timedelta(hours=1),
        ["past"],
    ),
    (
        "bookingWindowDays: a minute inside the window",
        {"booking_window_days": 5},
        {"now": TEN - timedelta(days=5) + timedelta(minutes=1)},
        TEN,
        TEN + timedelta(hours=1),
        [],
    ),
    (
        "bookingWindowDays: exactly at the window's end",
        {"booking_window_days": 5},
        {"now": TEN - timedelta(days=5)},
        TEN,
        TEN + timedelta(hours=1),
        ["bookingWindowDays"],
    ),
    (
        "bookingWindowDays: 0 days allows nothing",
        {"booking_window_days": 0},
        {"now": TEN},
        TEN,
        TEN + timedelta(hours=1),
        ["bookingWindowDays"],
    ),
    (
        "bookingWindowDays: absent means no limit",
        {},
        {},
        TEN + timedelta(days=3000),
        TEN + timedelta(days=3000, hours=1),
        [],
    ),
    (
        "openingHours: exactly the opening interval",
        {"opening_hours": WORKING_HOURS},
        {},
        local(MONDAY, 8),
        local(MONDAY, 18),
        [],
    ),
    (
        "openingHours: starts a minute early",
        {"opening_hours": WORKING_HOURS},
        {},
        local(MONDAY, 7, 59),
        local(MONDAY, 9),
        ["openingHours"],
    ),
    (
        "openingHours: ends a minute late",
        {"opening_hours": WORKING_HOURS},
        {},
        local(MONDAY, 17),
        local(MONDAY, 18, 1),
        ["openingHours"],
    ),
    (
        "openingHours: weekday missing is closed",
        {"opening_hours": WORKING_HOURS},
        {},
        local(MONDAY - timedelta(days=1), 10),
        local(MONDAY - timedelta(days=1), 11),
        ["openingHours"],
    ),
    (
        "openingHours: empty object is always closed",
        {"opening_hours": {}},
        {},
        TEN,
        TEN + timedelta(hours=1),
        ["openingHours"],
    ),
    (
        "openingHours: absent is always open",
        {},
        {},
        local(MONDAY - timedelta(days=1), 3),
        local(MONDAY - timedelta(days=1), 4),
        [],
    ),
    (
        "openingHours: adjacent intervals join",
        {
            "opening_hours": {
                "monday": [{"start": "12:00", "end": "18:00"}, {"start": "08:00", "end": "12:00"}]
            }
        },
        {},
        local(MONDAY, 10),
        local(MONDAY, 14),
        [],
    ),
    (
        "openingHours: a lunch break splits the day",
        {
            "opening_hours": {
                "monday": [{"start": "08:00", "end": "12:00"}, {"start": "13:00", "end": "18:00"}]
            }
        },
        {},
        local(MONDAY, 11),
        local(MONDAY, 14),
        ["openingHours"],
    ),
    (
        "openingHours: overnight across 24:00 / 00:00",
        {
            "opening_hours": {
                "monday": [{"start": "20:00", "end": "24:00"}],
                "tuesday": [{"start": "00:00", "end": "06:00"}],
            }
        },
        {},
        local(MONDAY, 22),
        local(MONDAY + timedelta(days=1), 2),
        [],
    ),
    (
        "openingHours: overnight into a closed morning",
        {
            "opening_hours": {
                "monday": [{"start": "20:00", "end": "24:00"}],
                "tuesday": [{"start": "01:00", "end": "06:00"}],
            }
        },
        {},
        local(MONDAY, 22),
        local(MONDAY + timedelta(days=1), 2),
        ["openingHours"],
    ),
    (
        "minMinutes: exactly the minimum",
        {"min_minutes": 30},
        {},
        TEN,
        TEN + timedelta(minutes=30),
        [],
    ),
    (
        "minMinutes: a second short",
        {"min_minutes": 30},
        {},
        TEN,
        TEN + timedelta(minutes=30) - timedelta(seconds=1),
        ["minMinutes"],
    ),
    (
        "maxMinutes: exactly the maximum",
        {"max_minutes": 120},
        {},
        TEN,
        TEN + timedelta(minutes=120),
        [],
    ),
    (
        "maxMinutes: a minute over",
        {"max_minutes": 120},
        {},
        TEN,
        TEN + timedelta(minutes=121),
        ["maxMinutes"],
    ),
    (
        "maxMinutesPerBooking: exactly the maximum",
        {},
        {"user": make_user(max_minutes_per_booking=45)},
        TEN,
        TEN + timedelta(minutes=45),
        [],
    ),
    (
        "maxMinutesPerBooking: a minute over",
        {},
        {"user": make_user(max_minutes_per_booking=45)},
        TEN,
        TEN + timedelta(minutes=46),
        ["maxMinutesPerBooking"],
    ),
    (
        "maxMinutesPerBooking: not applied without a Bookker user",
        {},
        {"anonymous": True},
        TEN,
        TEN + timedelta(minutes=600),
        ["access"],
    ),
]


@pytest.mark.parametrize(
    ("space_rules", "kwargs", "start", "end", "expected"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_each_rule_fails_and_passes(
    space_rules: dict[str, Any],
    kwargs: dict[str, Any],
    start: datetime,
    end: datetime,
    expected: list[str],
) -> None:
    assert rules_broken(make_space(**space_rules), start, end, **kwargs) == expected


# --- maxBookingsPerDay: which bookings count -------------------------------------------

TWO_PER_DAY = make_user(max_bookings_per_day=2)


def test_bookings_per_day_allows_up_to_the_limit() -> None:
    bookings = [make_booking("b1", local(MONDAY, 8))]
    assert (
        rules_broken(
            make_space(), TEN, TEN + timedelta(hours=1), user=TWO_PER_DAY, bookings=bookings
        )
        == []
    )


def test_bookings_per_day_refuses_one_over_the_limit() -> None:
    bookings = [make_booking("b1", local(MONDAY, 8)), make_booking("b2", local(MONDAY, 15))]
    broken = rules_broken(
        make_space(), TEN, TEN + timedelta(hours=1), user=TWO_PER_DAY, bookings=bookings
    )
    assert broken == ["maxBookingsPerDay"]


@pytest.mark.parametrize(
    "not_counted",
    [
        make_booking("cancelled", local(MONDAY, 15), status=BookingStatus.CANCELLED),
        make_booking("declined", local(MONDAY, 15), status=BookingStatus.DECLINED),
        make_booking("other-user", local(MONDAY, 15), user_id="bob"),
        make_booking("ignored", local(MONDAY, 15)),
        make_booking("sunday-late", local(MONDAY - timedelta(days=1), 23, 59)),
        make_booking("tuesday-midnight", local(MONDAY + timedelta(days=1), 0)),
    ],
    ids=lambda booking: booking.id,
)
def test_bookings_per_day_counts_only_confirmed_same_local_day(not_counted: Booking) -> None:
    bookings = [make_booking("b1", local(MONDAY, 8)), not_counted]
    broken = rules_broken(
        make_space(),
        TEN,
        TEN + timedelta(hours=1),
        user=TWO_PER_DAY,
        bookings=bookings,
        ignore=["ignored"],
    )
    assert broken == []


def test_bookings_per_day_uses_the_spaces_local_day_not_utc() -> None:
    # 00:30 in Madrid on Tuesday is still Monday in UTC; Monday's booking must not count.
    space = make_space()
    late = [make_booking("b1", local(MONDAY, 9))]
    tuesday = local(MONDAY + timedelta(days=1), 0, 30)
    one_per_day = make_user(max_bookings_per_day=1)
    assert tuesday.astimezone(UTC).date() == MONDAY
    assert (
        rules_broken(space, tuesday, tuesday + timedelta(hours=1), user=one_per_day, bookings=late)
        == []
    )


def test_zero_bookings_per_day_refuses_everything() -> None:
    user = make_user(max_bookings_per_day=0)
    assert rules_broken(make_space(), TEN, TEN + timedelta(hours=1), user=user) == [
        "maxBookingsPerDay"
    ]


# --- all violations, in order, with specific messages ---------------------------------


def test_every_broken_rule_is_reported_in_rule_key_order() -> None:
    space = make_space(
        opening_hours=WORKING_HOURS,
        min_minutes=30,
        max_minutes=60,
        booking_window_days=1,
        allowed_groups=["finance"],
    )
    user = make_user(["hr"], max_bookings_per_day=0, max_minutes_per_booking=30)
    start = local(MONDAY, 17)
    broken = rules_broken(space, start, start + timedelta(minutes=150), user=user, now=NOW)
    assert broken == [
        "access",
        "bookingWindowDays",
        "openingHours",
        "maxMinutes",
        "maxBookingsPerDay",
        "maxMinutesPerBooking",
    ]
    past = rules_broken(
        space, start, start + timedelta(minutes=5), user=user, now=start + timedelta(hours=1)
    )
    assert past == ["access", "past", "minMinutes", "maxBookingsPerDay"]


def message(space: Space, start: datetime, end: datetime, **kwargs: Any) -> str:
    violations = check_booking(
        space=space,
        user=kwargs.pop("user", make_user()),
        start=start,
        end=end,
        user_bookings=kwargs.pop("bookings", []),
        now=kwargs.pop("now", NOW),
    )
    assert len(violations) == 1, violations
    return violations[0].message


@pytest.mark.parametrize(
    ("space_rules", "start", "end", "expected"),
    [
        (
            {"opening_hours": WORKING_HOURS},
            local(MONDAY, 17),
            local(MONDAY, 19, 30),
            f"Room A is open 08:00{EN}18:00 (Europe/Madrid) on Monday; the booking ends at 19:30.",
        ),
        (
            {"opening_hours": WORKING_HOURS},
            local(MONDAY, 7, 30),
            local(MONDAY, 9),
            f"Room A is open 08:00{EN}18:00 (Europe/Madrid) on Monday; "
            "the booking starts at 07:30.",
        ),
        (
            {"opening_hours": WORKING_HOURS},
            local(MONDAY - timedelta(days=1), 10),
            local(MONDAY - timedelta(days=1), 11),
            "Room A is closed on Sunday (Europe/Madrid); the booking starts at 10:00.",
        ),
        (
            {
                "opening_hours": {
                    "monday": [{"start": "08:00", "end": "24:00"}],
                    "tuesday": [
                        {"start": "08:00", "end": "12:00"},
                        {"start": "13:00", "end": "18:00"},
                    ],
                }
            },
            local(MONDAY, 22),
            local(MONDAY + timedelta(days=1), 2),
            f"Room A is open 08:00{EN}12:00 and 13:00{EN}18:00 (Europe/Madrid) on Tuesday; "
            "the booking continues past midnight into Tuesday until 02:00.",
        ),
        (
            {"opening_hours": WORKING_HOURS},
            local(MONDAY, 17),
            local(MONDAY + timedelta(days=1), 9),
            f"Room A is open 08:00{EN}18:00 (Europe/Madrid) on Monday; "
            "the booking ends at 09:00 on Tuesday.",
        ),
        (
            {"min_minutes": 30},
            TEN,
            TEN + timedelta(minutes=20),
            "Room A must be booked for at least 30 minutes; this booking lasts 20 minutes.",
        ),
        (
            {"max_minutes": 240},
            TEN,
            TEN + timedelta(minutes=300),
            "Room A can be booked for at most 240 minutes; this booking lasts 300 minutes.",
        ),
        (
            {"booking_window_days": 1},
            TEN,
            TEN + timedelta(hours=1),
            "Room A can be booked at most 1 day ahead, so bookings must start before "
            "Thursday 2024-05-02 10:00 (Europe/Madrid); "
            "this one starts on Monday 2024-05-06 10:00.",
        ),
        (
            {"allowed_groups": ["finance", "legal"]},
            TEN,
            TEN + timedelta(hours=1),
            "Room A can only be booked by members of finance or legal; "
            "ana@example.com is not a member of any of them.",
        ),
    ],
)
def test_space_rule_messages_name_the_limit_and_the_booking(
    space_rules: dict[str, Any], start: datetime, end: datetime, expected: str
) -> None:
    assert message(make_space(**space_rules), start, end) == expected


def test_user_rule_and_past_messages() -> None:
    space = make_space()
    assert message(space, TEN, TEN + timedelta(hours=1), now=TEN + timedelta(minutes=15)) == (
        "The booking starts in the past: Monday 2024-05-06 10:00 (Europe/Madrid) "
        "is before now (Monday 2024-05-06 10:15)."
    )
    user = make_user(max_minutes_per_booking=60)
    assert message(space, TEN, TEN + timedelta(minutes=90), user=user) == (
        "ana@example.com can book for at most 60 minutes at a time; this booking lasts 90 minutes."
    )
    user = make_user(max_bookings_per_day=1)
    bookings = [make_booking("b1", local(MONDAY, 8))]
    assert message(space, TEN, TEN + timedelta(hours=1), user=user, bookings=bookings) == (
        "ana@example.com can have at most 1 booking per day and already has 1 on "
        "Monday 2024-05-06 (Europe/Madrid)."
    )
    violations = check_booking(
        space=space, user=None, start=TEN, end=TEN + timedelta(hours=1), user_bookings=[], now=NOW
    )
    assert violations[0].message == (
        "The organizer is not a Bookker user of this company, so they cannot book Room A."
    )


# --- malformed input is not a rule -----------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (TEN, TEN),
        (TEN, TEN - timedelta(minutes=1)),
        (TEN.replace(tzinfo=None), TEN + timedelta(hours=1)),
        (TEN, (TEN + timedelta(hours=1)).replace(tzinfo=None)),
    ],
    ids=["empty", "reversed", "naive start", "naive end"],
)
def test_malformed_ranges_raise_value_error(start: datetime, end: datetime) -> None:
    with pytest.raises(ValueError):
        check_booking(
            space=make_space(), user=make_user(), start=start, end=end, user_bookings=[], now=NOW
        )


@pytest.mark.parametrize(
    "rules",
    [
        {"time_zone": "Mars/Olympus"},
        {"time_zone": "Europe"},
        {"time_zone": ""},
        {"opening_hours": {"mondy": [{"start": "08:00", "end": "18:00"}]}},
        {"opening_hours": {"monday": [{"start": "18:00", "end": "08:00"}]}},
        {"opening_hours": {"monday": [{"start": "08:00", "end": "08:00"}]}},
        {"opening_hours": {"monday": [{"start": "24:00", "end": "24:00"}]}},
        {"min_minutes": 60, "max_minutes": 30},
    ],
)
def test_invalid_space_rules_are_rejected_when_configured(rules: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        SpaceRules(**rules)


def test_space_rules_accept_camel_case_json() -> None:
    rules = SpaceRules.model_validate(
        {
            "timeZone": "America/New_York",
            "openingHours": {"friday": [{"start": "00:00", "end": "24:00"}]},
            "minMinutes": 15,
            "maxMinutes": 15,
            "bookingWindowDays": 0,
            "allowedGroups": ["x"],
        }
    )
    assert rules.zone == ZoneInfo("America/New_York")
    assert rules.opening_hours == {"friday": [TimeRange(start="00:00", end="24:00")]}


def test_very_long_bookings_are_judged_without_walking_every_day() -> None:
    start = local(MONDAY, 0).astimezone(UTC)
    end = start + timedelta(days=365 * 500)
    round_the_clock = {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}
    assert rules_broken(make_space(opening_hours=round_the_clock), start, end, now=start) == []
    del round_the_clock["sunday"]
    violations = check_booking(
        space=make_space(opening_hours=round_the_clock),
        user=make_user(),
        start=start,
        end=end,
        user_bookings=[],
        now=start,
    )
    local_end = end.astimezone(MADRID)
    assert [v.message for v in violations] == [
        "Room A is closed on Sunday (Europe/Madrid); the booking continues past midnight "
        f"into Sunday until {local_end:%H:%M} on {local_end:%A %Y-%m-%d}."
    ]


# --- time zones and DST (table) --------------------------------------------------------

SPRING_MADRID = date(2024, 3, 31)  # 02:00 CET -> 03:00 CEST
AUTUMN_MADRID = date(2024, 10, 27)  # 03:00 CEST -> 02:00 CET


def test_opening_hours_around_a_skipped_hour() -> None:
    # 02:00-03:00 does not exist that night: open 00:00-02:00 and 03:00-24:00 is open
    # all night long.
    space = make_space(
        opening_hours={
            "sunday": [{"start": "00:00", "end": "02:00"}, {"start": "03:00", "end": "24:00"}]
        }
    )
    start = local(SPRING_MADRID, 1, 30).astimezone(UTC)
    end = start + timedelta(hours=1)  # 03:30 CEST
    assert end.astimezone(MADRID).hour == 3
    assert rules_broken(space, start, end, now=start) == []


def test_opening_hours_on_the_repeated_hour() -> None:
    space = make_space(opening_hours={"sunday": [{"start": "00:00", "end": "02:30"}]})
    first_0200 = datetime(2024, 10, 27, 0, 0, tzinfo=UTC)  # 02:00 CEST
    second_0200 = datetime(2024, 10, 27, 1, 0, tzinfo=UTC)  # 02:00 CET
    assert first_0200.astimezone(MADRID).hour == second_0200.astimezone(MADRID).hour == 2
    # The second 02:00-02:20 is inside 00:00-02:30 by the clock on the wall.
    assert (
        rules_broken(space, second_0200, second_0200 + timedelta(minutes=20), now=first_0200) == []
    )
    # From the first 02:00 the clock shows 02:30-02:59 CEST before falling back: closed.
    broken = rules_broken(space, first_0200, first_0200 + timedelta(minutes=80), now=first_0200)
    assert broken == ["openingHours"]


def test_durations_are_elapsed_time_across_dst() -> None:
    space = make_space(min_minutes=90, max_minutes=90)
    spring_start, spring_end = local(SPRING_MADRID, 1, 30), local(SPRING_MADRID, 3, 30)
    assert rules_broken(space, spring_start, spring_end, now=spring_start) == ["minMinutes"]
    autumn_start = datetime(2024, 10, 26, 23, 30, tzinfo=UTC)  # 01:30 CEST
    autumn_end = datetime(2024, 10, 27, 1, 30, tzinfo=UTC)  # 02:30 CET, two hours later
    assert rules_broken(space, autumn_start, autumn_end, now=autumn_start) == ["maxMinutes"]


@pytest.mark.parametrize(
    ("zone_name", "day"),
    [
        ("America/New_York", date(2024, 3, 10)),
        ("America/New_York", date(2024, 11, 3)),
        ("Australia/Sydney", date(2024, 4, 7)),
        ("Australia/Sydney", date(2024, 10, 6)),
        ("Asia/Kolkata", date(2024, 3, 31)),
    ],
)
def test_working_hours_hold_on_dst_days_elsewhere(zone_name: str, day: date) -> None:
    zone = ZoneInfo(zone_name)
    hours = {WEEKDAYS[day.weekday()]: [{"start": "08:00", "end": "18:00"}]}
    space = make_space(time_zone=zone_name, opening_hours=hours)
    start, end = local(day, 8, zone=zone), local(day, 18, zone=zone)
    assert rules_broken(space, start, end, now=start) == []
    assert rules_broken(space, start, end + timedelta(minutes=1), now=start) == ["openingHours"]
    assert rules_broken(
        space, start - timedelta(minutes=1), end, now=start - timedelta(hours=1)
    ) == ["openingHours"]


# --- occurrences of a series -----------------------------------------------------------


def test_occurrences_are_judged_one_by_one_and_accepted_ones_count_per_day() -> None:
    space = make_space(opening_hours=WORKING_HOURS)
    user = make_user(max_bookings_per_day=2)
    occurrences = [
        (local(MONDAY, 7), local(MONDAY, 8)),  # closed: refused, so it does not count
        (local(MONDAY, 9), local(MONDAY, 10)),
        (local(MONDAY, 11), local(MONDAY, 12)),
        (local(MONDAY, 13), local(MONDAY, 14)),  # third accepted one that day: refused
        (local(MONDAY + timedelta(days=1), 9), local(MONDAY + timedelta(days=1), 10)),
    ]
    checks = check_occurrences(
        space=space, user=user, occurrences=occurrences, user_bookings=[], now=NOW
    )
    assert [[v.rule for v in check.violations] for check in checks] == [
        ["openingHours"],
        [],
        [],
        ["maxBookingsPerDay"],
        [],
    ]
    assert [check.accepted for check in checks] == [False, True, True, False, True]
    assert checks[1].start == local(MONDAY, 9).astimezone(UTC)


def test_occurrences_count_existing_bookings_but_not_ignored_ones() -> None:
    user = make_user(max_bookings_per_day=1)
    existing = [
        make_booking("old-occurrence", local(MONDAY, 9)),
        make_booking("other", local(MONDAY + timedelta(days=1), 9)),
    ]
    occurrences = [
        (local(MONDAY, 9), local(MONDAY, 10)),
        (local(MONDAY + timedelta(days=1), 11), local(MONDAY + timedelta(days=1), 12)),
    ]
    checks = check_occurrences(
        space=make_space(),
        user=user,
        occurrences=occurrences,
        user_bookings=existing,
        now=NOW,
        ignore_booking_ids={"old-occurrence"},
    )
    assert [check.accepted for check in checks] == [True, False]


# --- properties ------------------------------------------------------------------------

ZONES = ["Europe/Madrid", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"]
# Days around each zone's 2024 DST changes, plus ordinary days.
INTERESTING_DAYS = [
    date(2024, 3, 30),
    date(2024, 3, 31),
    date(2024, 10, 26),
    date(2024, 10, 27),
    date(2024, 3, 9),
    date(2024, 3, 10),
    date(2024, 11, 2),
    date(2024, 11, 3),
    date(2024, 4, 6),
    date(2024, 4, 7),
    date(2024, 10, 5),
    date(2024, 10, 6),
    date(2024, 6, 15),
    date(2024, 12, 31),
]
FAR_PAST = datetime(2000, 1, 1, tzinfo=UTC)


DST_CHANGES = {
    "Europe/Madrid": [datetime(2024, 3, 31, 1, tzinfo=UTC), datetime(2024, 10, 27, 1, tzinfo=UTC)],
    "America/New_York": [
        datetime(2024, 3, 10, 7, tzinfo=UTC),
        datetime(2024, 11, 3, 6, tzinfo=UTC),
    ],
    "Australia/Sydney": [
        datetime(2024, 4, 6, 16, tzinfo=UTC),
        datetime(2024, 10, 5, 16, tzinfo=UTC),
    ],
}


def test_dst_changes_used_by_the_properties_are_real() -> None:
    for zone_name, changes in DST_CHANGES.items():
        zone = ZoneInfo(zone_name)
        for change in changes:
            before = (change - timedelta(seconds=1)).astimezone(zone).utcoffset()
            assert before != change.astimezone(zone).utcoffset()


@st.composite
def instants(draw: st.DrawFn, zone_name: str, step_minutes: int = 15) -> datetime:
    """An instant on a step-minute grid: half the time within six hours of one of the
    zone's DST changes, otherwise within two days of an interesting local day."""
    steps = st.integers(min_value=-6 * 60 // step_minutes, max_value=6 * 60 // step_minutes)
    if zone_name in DST_CHANGES and draw(st.booleans()):
        change = draw(st.sampled_from(DST_CHANGES[zone_name]))
        return change + timedelta(minutes=step_minutes * draw(steps))
    day = draw(st.sampled_from(INTERESTING_DAYS))
    midnight = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(zone_name)).astimezone(UTC)
    steps = st.integers(min_value=-24 * 60 // step_minutes, max_value=2 * 24 * 60 // step_minutes)
    return midnight + timedelta(minutes=step_minutes * draw(steps))


@st.composite
def day_hours(draw: st.DrawFn) -> list[dict[str, str]]:
    """A day cut at up to four half-hours into touching intervals, most of them kept,
    sometimes with an extra overlapping one: mostly open, with realistic gaps."""
    # Cuts favour 01:00-05:00, where DST changes happen, so those edges get tested.
    cuts = sorted(draw(st.sets(st.integers(2, 10) | st.integers(1, 47), max_size=4)))
    bounds = [0, *cuts, 48]
    intervals = [
        {"start": _hhmm(low * 30), "end": _hhmm(high * 30)}
        for low, high in itertools.pairwise(bounds)
        if draw(st.sampled_from([True, True, True, False]))
    ]
    if draw(st.booleans()):
        low = draw(st.integers(0, 47))
        high = draw(st.integers(low + 1, 48))
        intervals.append({"start": _hhmm(low * 30), "end": _hhmm(high * 30)})
    return intervals


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _open_by_the_wall_clock(
    hours: dict[str, list[dict[str, str]]], instant: datetime, zone: ZoneInfo
) -> bool:
    """Oracle: is some interval of the local weekday showing on the clock at ``instant``?"""
    wall = instant.astimezone(zone)
    minute = wall.hour * 60 + wall.minute
    return any(
        _minutes(r["start"]) <= minute < _minutes(r["end"])
        for r in hours.get(WEEKDAYS[wall.weekday()], [])
    )


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


@PROPERTY
@given(data=st.data(), zone_name=st.sampled_from(ZONES))
def test_opening_hours_match_the_wall_clock_minute_by_minute(
    data: st.DataObject, zone_name: str
) -> None:
    zone = ZoneInfo(zone_name)
    hours = {day: data.draw(day_hours(), label=day) for day in WEEKDAYS}
    start = data.draw(instants(zone_name), label="start")
    quarters = st.integers(1, 16) | st.integers(1, 30 * 60 // 15)  # mostly up to 4 hours
    minutes = data.draw(quarters, label="quarters") * 15
    end = start + timedelta(minutes=minutes)
    always_open = all(
        _open_by_the_wall_clock(hours, start + timedelta(minutes=m), zone) for m in range(minutes)
    )
    broken = rules_broken(
        make_space(time_zone=zone_name, opening_hours=hours), start, end, now=FAR_PAST
    )
    assert ("openingHours" in broken) == (not always_open)


NIGHT_EDGES = [_hhmm(30 * n) for n in range(13)]  # 00:00 ... 06:00


@pytest.mark.parametrize("zone_name", sorted(DST_CHANGES))
def test_opening_hours_near_dst_changes_match_the_wall_clock_exhaustively(zone_name: str) -> None:
    """Every booking on a 15-minute grid within two hours before each change, lasting up
    to three hours, against every opening or closing time between 00:00 and 06:00."""
    zone = ZoneInfo(zone_name)
    hour_sets = [{"start": "00:00", "end": edge} for edge in NIGHT_EDGES[1:]] + [
        {"start": edge, "end": "24:00"} for edge in NIGHT_EDGES
    ]
    for interval in hour_sets:
        hours = {day: [interval] for day in WEEKDAYS}
        space = make_space(time_zone=zone_name, opening_hours=hours)
        for change in DST_CHANGES[zone_name]:
            for start_quarter, quarters in itertools.product(range(-8, 5), range(1, 13)):
                start = change + timedelta(minutes=15 * start_quarter)
                end = start + timedelta(minutes=15 * quarters)
                # Every edge and DST change lies on the 15-minute grid, so sampling
                # quarters is exact.
                always_open = all(
                    _open_by_the_wall_clock(hours, start + timedelta(minutes=15 * q), zone)
                    for q in range(quarters)
                )
                broken = rules_broken(space, start, end, now=FAR_PAST)
                assert ("openingHours" in broken) == (not always_open), (interval, start, end)


@PROPERTY
@given(data=st.data(), zone_name=st.sampled_from(ZONES))
def test_round_the_clock_hours_equal_no_hours_even_across_midnight_and_dst(
    data: st.DataObject, zone_name: str
) -> None:
    all_day = {day: [{"start": "00:00", "end": "24:00"}] for day in WEEKDAYS}
    start = data.draw(instants(zone_name, step_minutes=1))
    end = start + timedelta(minutes=data.draw(st.integers(1, 3 * 24 * 60)))
    space = make_space(time_zone=zone_name, opening_hours=all_day)
    assert rules_broken(space, start, end, now=FAR_PAST) == []


@PROPERTY
@given(
    data=st.data(),
    zone_name=st.sampled_from(ZONES),
    minimum=st.integers(1, 600),
    extra=st.integers(0, 600),
)
def test_duration_limits_are_inclusive_and_in_elapsed_minutes(
    data: st.DataObject, zone_name: str, minimum: int, extra: int
) -> None:
    maximum = minimum + extra
    space = make_space(time_zone=zone_name, min_minutes=minimum, max_minutes=maximum)
    user = make_user(max_minutes_per_booking=maximum)
    start = data.draw(instants(zone_name, step_minutes=1))

    def broken(minutes: int) -> list[str]:
        return rules_broken(
            space, start, start + timedelta(minutes=minutes), user=user, now=FAR_PAST
        )

    assert broken(minimum) == []
    assert broken(maximum) == []
    if minimum > 1:
        assert broken(minimum - 1) == ["minMinutes"]
    assert broken(maximum + 1) == ["maxMinutes", "maxMinutesPerBooking"]


@PROPERTY
@given(
    offset_minutes=st.integers(-3 * 24 * 60, 100 * 24 * 60),
    window=st.integers(0, 90),
)
def test_past_and_window_follow_now(offset_minutes: int, window: int) -> None:
    start = NOW + timedelta(minutes=offset_minutes)
    broken = rules_broken(make_space(booking_window_days=window), start, start + timedelta(hours=1))
    assert ("past" in broken) == (start < NOW)
    assert ("bookingWindowDays" in broken) == (start >= NOW + timedelta(days=window))


STATUSES = st.sampled_from(list(BookingStatus))


@st.composite
def user_bookings(draw: st.DrawFn, zone_name: str) -> list[Booking]:
    count = draw(st.integers(0, 8))
    return [
        make_booking(
            f"b{n}",
            draw(instants(zone_name)),
            user_id=draw(st.sampled_from(["ana", "ana", "bob"])),
            status=draw(STATUSES),
        )
        for n in range(count)
    ]


@PROPERTY
@given(data=st.data(), zone_name=st.sampled_from(ZONES), limit=st.integers(0, 4))
def test_result_does_not_depend_on_the_order_of_user_bookings(
    data: st.DataObject, zone_name: str, limit: int
) -> None:
    bookings = data.draw(user_bookings(zone_name), label="bookings")
    shuffled = data.draw(st.permutations(bookings), label="shuffled")
    ignored = data.draw(st.sets(st.sampled_from([f"b{n}" for n in range(8)])), label="ignored")
    start = data.draw(instants(zone_name), label="start")
    space = make_space(time_zone=zone_name)
    user = make_user(max_bookings_per_day=limit)

    def verdict(ordered: Sequence[Booking]) -> list[Any]:
        return check_booking(
            space=space,
            user=user,
            start=start,
            end=start + timedelta(minutes=30),
            user_bookings=ordered,
            now=FAR_PAST,
            ignore_booking_ids=ignored,
        )

    assert verdict(bookings) == verdict(shuffled)
    same_day = [
        b
        for b in bookings
        if b.status is BookingStatus.CONFIRMED
        and b.user_id == "ana"
        and b.id not in ignored
        and b.start.astimezone(ZoneInfo(zone_name)).date()
        == start.astimezone(ZoneInfo(zone_name)).date()
    ]
    assert ("maxBookingsPerDay" in [v.rule for v in verdict(bookings)]) == (
        len(same_day) + 1 > limit
    )


@PROPERTY
@given(
    data=st.data(),
    zone_name=st.sampled_from(ZONES),
    min_minutes=st.none() | st.integers(1, 120),
    window=st.none() | st.integers(0, 400),
    limit=st.none() | st.integers(0, 2),
    anonymous=st.booleans(),
)
def test_violations_are_unique_known_keys_in_order_with_messages(
    data: st.DataObject,
    zone_name: str,
    min_minutes: int | None,
    window: int | None,
    limit: int | None,
    anonymous: bool,
) -> None:
    space = make_space(
        time_zone=zone_name,
        opening_hours={day: data.draw(day_hours(), label=day) for day in WEEKDAYS},
        min_minutes=min_minutes,
        booking_window_days=window,
        allowed_groups=data.draw(st.lists(st.sampled_from(["a", "b"]), max_size=2)),
    )
    user = (
        None
        if anonymous
        else make_user(data.draw(st.lists(st.sampled_from(["a", "c"]))), max_bookings_per_day=limit)
    )
    start = data.draw(instants(zone_name))
    end = start + timedelta(minutes=data.draw(st.integers(1, 600)))
    violations = check_booking(
        space=space,
        user=user,
        start=start,
        end=end,
        user_bookings=data.draw(user_bookings(zone_name)),
        now=NOW,
    )
    keys = [v.rule for v in violations]
    assert keys == [key for key in RULE_KEYS if key in keys]
    assert all(v.message.endswith(".") and len(v.message) > 20 for v in violations)
    assert ("access" in keys) == (
        user is None
        or bool(
            space.rules.allowed_groups and not set(space.rules.allowed_groups) & set(user.groups)
        )
    )
