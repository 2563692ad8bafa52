"""Bookker's booking rules as pure functions.

``check_booking`` judges one booking and returns *every* broken rule, each with its
rule key and a message that end users read (it becomes the comment of an Outlook
decline), so messages name the space, the limit and the offending value in the
space's local time.

Time semantics, decided once here:

- Durations (``minMinutes``, ``maxMinutes``, ``maxMinutesPerBooking``) are real
  elapsed time, so a 02:00-04:00 booking on a spring-forward night lasts 60 minutes.
- Opening hours are wall-clock times in ``space.rules.time_zone``: the space is open
  at an instant when the local clock then shows a time inside one of the intervals of
  that local weekday. A booking is allowed when the space is open during all of it;
  intervals that touch (08:00-12:00 + 12:00-18:00, or 22:00-24:00 + next day
  00:00-06:00) therefore join into one.
- "Per day" means the local calendar day, in the space's time zone, of the start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from bookker_sync.domain.models import WEEKDAYS, Booking, BookingStatus, Space, User, Violation

RULE_KEYS: Final[tuple[str, ...]] = (
    "access",
    "past",
    "bookingWindowDays",
    "openingHours",
    "minMinutes",
    "maxMinutes",
    "maxBookingsPerDay",
    "maxMinutesPerBooking",
)
"""Every rule key, in the order violations are reported."""

_DAY: Final = timedelta(days=1)
_WHOLE_DAY: Final = (timedelta(0), _DAY)  # an opening interval 00:00-24:00
_EN_DASH: Final = "\N{EN DASH}"  # between the two times of an interval in messages


@dataclass(frozen=True)
class OccurrenceCheck:
    """The verdict on one occurrence of a series; ``violations`` is empty when accepted."""

    start: datetime
    end: datetime
    violations: tuple[Violation, ...]

    @property
    def accepted(self) -> bool:
        return not self.violations


def check_booking(
    *,
    space: Space,
    user: User | None,
    start: datetime,
    end: datetime,
    user_bookings: Sequence[Booking],
    now: datetime,
    ignore_booking_ids: Collection[str] = (),
) -> list[Violation]:
    """Every rule that booking ``space`` from ``start`` to ``end`` would break.

    ``user`` is None when the organizer (an Outlook user) is not a Bookker user of the
    tenant; user rules then do not apply and the ``access`` rule fails.
    ``user_bookings`` are the user's bookings in any space (only confirmed ones count);
    ``ignore_booking_ids`` leaves out the booking being changed. Raises ValueError if
    a time is naive or ``end`` is not after ``start`` (a malformed request, not a rule).
    """
    per_day = _bookings_per_local_day(space, user, user_bookings, ignore_booking_ids)
    return _violations(_request(space, user, start, end, now, per_day))


def check_occurrences(
    *,
    space: Space,
    user: User | None,
    occurrences: Sequence[tuple[datetime, datetime]],
    user_bookings: Sequence[Booking],
    now: datetime,
    ignore_booking_ids: Collection[str] = (),
) -> list[OccurrenceCheck]:
    """Judge a series occurrence by occurrence, in the given order.

    Each occurrence is checked on its own (a violating one does not sink the series);
    occurrences accepted earlier in the list count towards ``maxBookingsPerDay`` of
    later ones, as they will be stored too.
    """
    per_day = _bookings_per_local_day(space, user, user_bookings, ignore_booking_ids)
    checks = []
    for start, end in occurrences:
        request = _request(space, user, start, end, now, per_day)
        violations = tuple(_violations(request))
        if not violations:
            per_day[request.local_day] += 1
        checks.append(OccurrenceCheck(request.start, request.end, violations))
    return checks


# --- the request being judged ------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    space: Space
    user: User | None
    start: datetime  # UTC
    end: datetime  # UTC
    now: datetime  # UTC
    zone: ZoneInfo
    other_bookings_per_day: Counter[date]  # the user's other confirmed ones, by local day

    @property
    def minutes(self) -> float:
        return (self.end - self.start).total_seconds() / 60

    @property
    def local_day(self) -> date:
        return self.local(self.start).date()

    def local(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone)


def _request(
    space: Space,
    user: User | None,
    start: datetime,
    end: datetime,
    now: datetime,
    other_bookings_per_day: Counter[date],
) -> _Request:
    start_utc, end_utc, now_utc = _utc(start, "start"), _utc(end, "end"), _utc(now, "now")
    if end_utc <= start_utc:
        raise ValueError("the booking must end after it starts")
    zone = space.rules.zone
    return _Request(space, user, start_utc, end_utc, now_utc, zone, other_bookings_per_day)


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must carry a UTC offset")
    return value.astimezone(UTC)


def _bookings_per_local_day(
    space: Space, user: User | None, bookings: Sequence[Booking], ignore_ids: Collection[str]
) -> Counter[date]:
    """How many confirmed bookings ``user`` has on each local day (of the space's zone)."""
    if user is None:
        return Counter()
    ignored, zone = set(ignore_ids), space.rules.zone
    return Counter(
        booking.start.astimezone(zone).date()
        for booking in bookings
        if booking.status is BookingStatus.CONFIRMED
        and booking.user_id == user.id
        and booking.id not in ignored
    )


def _violations(request: _Request) -> list[Violation]:
    found = (rule(request) for rule in _RULES)
    return [violation for violation in found if violation is not None]


# --- the rules, one function each --------------------------------------------------


def _check_access(request: _Request) -> Violation | None:
    space, user = request.space, request.user
    if user is None:
        return Violation(
            rule="access",
            message=f"The organizer is not a Bookker user of this company, "
            f"so they cannot book {space.name}.",
        )
    allowed = space.rules.allowed_groups
    if not allowed or set(allowed) & set(user.groups):
        return None
    return Violation(
        rule="access",
        message=f"{space.name} can only be booked by members of {_either(allowed)}; "
        f"{user.email} is not a member of any of them.",
    )


def _check_past(request: _Request) -> Violation | None:
    if request.start >= request.now:
        return None
    return Violation(
        rule="past",
        message=f"The booking starts in the past: {_when(request.local(request.start))} "
        f"({request.zone.key}) is before now ({_when(request.local(request.now))}).",
    )


def _check_booking_window(request: _Request) -> Violation | None:
    days = request.space.rules.booking_window_days
    if days is None:
        return None
    horizon = request.now + timedelta(days=days)
    if request.start < horizon:
        return None
    return Violation(
        rule="bookingWindowDays",
        message=f"{request.space.name} can be booked at most {_count(days, 'day')} ahead, "
        f"so bookings must start before {_when(request.local(horizon))} "
        f"({request.zone.key}); this one starts on {_when(request.local(request.start))}.",
    )


def _check_opening_hours(request: _Request) -> Violation | None:
    if request.space.rules.opening_hours is None or _always_open(request):
        return None
    # Not open round the clock: a booking longer than a week fails within eight days,
    # so this loop stays short however long the booking is.
    for piece in _local_pieces(request.start, request.end, request.zone):
        open_intervals = _open_intervals(request, WEEKDAYS[piece.day.weekday()])
        if not any(_contains(interval, piece) for interval in open_intervals):
            return Violation(
                rule="openingHours",
                message=_opening_hours_message(request, piece, open_intervals),
            )
    return None


def _check_min_minutes(request: _Request) -> Violation | None:
    minimum = request.space.rules.min_minutes
    if minimum is None or request.minutes >= minimum:
        return None
    return Violation(
        rule="minMinutes",
        message=f"{request.space.name} must be booked for at least "
        f"{_count(minimum, 'minute')}; this booking lasts {_minutes(request.minutes)}.",
    )


def _check_max_minutes(request: _Request) -> Violation | None:
    maximum = request.space.rules.max_minutes
    if maximum is None or request.minutes <= maximum:
        return None
    return Violation(
        rule="maxMinutes",
        message=f"{request.space.name} can be booked for at most "
        f"{_count(maximum, 'minute')}; this booking lasts {_minutes(request.minutes)}.",
    )


def _check_bookings_per_day(request: _Request) -> Violation | None:
    user = request.user
    if user is None or user.rules.max_bookings_per_day is None:
        return None
    limit, day = user.rules.max_bookings_per_day, request.local_day
    same_day = request.other_bookings_per_day[day]
    if same_day + 1 <= limit:  # + this booking
        return None
    if limit == 0:
        message = f"{user.email} is not allowed to make bookings (0 bookings per day)."
    else:
        message = (
            f"{user.email} can have at most {_count(limit, 'booking')} per day and already "
            f"has {same_day} on {_day_name(day)} {day.isoformat()} ({request.zone.key})."
        )
    return Violation(rule="maxBookingsPerDay", message=message)


def _check_minutes_per_booking(request: _Request) -> Violation | None:
    user = request.user
    if user is None or user.rules.max_minutes_per_booking is None:
        return None
    maximum = user.rules.max_minutes_per_booking
    if request.minutes <= maximum:
        return None
    return Violation(
        rule="maxMinutesPerBooking",
        message=f"{user.email} can book for at most {_count(maximum, 'minute')} at a time; "
        f"this booking lasts {_minutes(request.minutes)}.",
    )


_RULES: Final[tuple[Callable[[_Request], Violation | None], ...]] = (
    _check_access,
    _check_past,
    _check_booking_window,
    _check_opening_hours,
    _check_min_minutes,
    _check_max_minutes,
    _check_bookings_per_day,
    _check_minutes_per_booking,
)


# --- opening hours -------------------------------------------------------------------


@dataclass(frozen=True)
class _LocalPiece:
    """A stretch of the booking within one local day and one UTC offset.

    Within it the local clock runs evenly from ``start`` to ``end`` (offsets from local
    midnight; ``end`` is exclusive and at most 24 h), so checking its two ends is
    enough even on DST days.
    """

    day: date
    start: timedelta
    end: timedelta


def _local_pieces(start: datetime, end: datetime, zone: ZoneInfo) -> Iterator[_LocalPiece]:
    cursor = start
    while cursor < end:
        piece_end = min(end, _next_local_midnight(cursor, zone))
        piece_end = _next_offset_change(cursor, piece_end, zone) or piece_end
        local = cursor.astimezone(zone)
        since_midnight = _since_midnight(local)
        yield _LocalPiece(local.date(), since_midnight, since_midnight + (piece_end - cursor))
        cursor = piece_end


def _next_local_midnight(instant: datetime, zone: ZoneInfo) -> datetime:
    next_day = instant.astimezone(zone).date() + _DAY
    # fold=0 maps a midnight skipped by DST to the moment the clocks jump (RFC 5545).
    midnight = datetime.combine(next_day, datetime.min.time(), tzinfo=zone).astimezone(UTC)
    # Where the clocks fall back across midnight the local date repeats; never stall.
    return midnight if midnight > instant else instant + _DAY


def _next_offset_change(after: datetime, before: datetime, zone: ZoneInfo) -> datetime | None:
    """The first instant in (after, before) where the zone's UTC offset changes, if any.

    zoneinfo does not expose its transitions, so bisect on whole seconds (transitions
    fall on whole seconds). Assumes at most one change in the span (at most a day).
    """

    def offset(instant: datetime) -> timedelta | None:
        return instant.astimezone(zone).utcoffset()

    base = after.replace(microsecond=0)
    initial = offset(base)
    if offset(before - timedelta(microseconds=1)) == initial:
        return None
    low, high = 0, int((before - base).total_seconds()) + 1
    while high - low > 1:
        middle = (low + high) // 2
        if offset(base + timedelta(seconds=middle)) == initial:
            low = middle
        else:
            high = middle
    change = base + timedelta(seconds=high)
    return change if after < change < before else None


def _always_open(request: _Request) -> bool:
    return all(_open_intervals(request, weekday) == [_WHOLE_DAY] for weekday in WEEKDAYS)


def _open_intervals(request: _Request, weekday: str) -> list[tuple[timedelta, timedelta]]:
    """The weekday's opening intervals, sorted, with touching or overlapping ones joined."""
    hours = request.space.rules.opening_hours or {}
    ranges = sorted(
        (timedelta(minutes=r.start_minute), timedelta(minutes=r.end_minute))
        for r in hours.get(weekday, [])
    )
    merged: list[tuple[timedelta, timedelta]] = []
    for start, end in ranges:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _contains(interval: tuple[timedelta, timedelta], piece: _LocalPiece) -> bool:
    return interval[0] <= piece.start and piece.end <= interval[1]


def _opening_hours_message(
    request: _Request, piece: _LocalPiece, intervals: list[tuple[timedelta, timedelta]]
) -> str:
    name, zone, weekday = request.space.name, request.zone.key, _day_name(piece.day)
    timing = _failing_part(request, piece, intervals)
    if not intervals:
        return f"{name} is closed on {weekday} ({zone}); the booking {timing}."
    hours = _all([f"{_clock(start)}{_EN_DASH}{_clock(end)}" for start, end in intervals])
    return f"{name} is open {hours} ({zone}) on {weekday}; the booking {timing}."


def _failing_part(
    request: _Request, piece: _LocalPiece, intervals: list[tuple[timedelta, timedelta]]
) -> str:
    """The part of the booking outside opening hours, in words: its start, its end or
    the part after midnight."""
    start, end = request.local(request.start), request.local(request.end)
    if piece.day != start.date():
        return (
            f"continues past midnight into {_day_name(piece.day)} until {_clock_on(end, piece.day)}"
        )
    starts_inside = any(low <= piece.start < high for low, high in intervals)
    if piece.start == _since_midnight(start) and not starts_inside:
        return f"starts at {_clock_of(start)}"
    return f"ends at {_clock_on(end, piece.day)}"


def _clock_on(local: datetime, day: date) -> str:
    """The clock time of ``local``, naming its weekday when it is not on ``day`` and also
    its date when it is not the day after."""
    if local.date() == day:
        return _clock_of(local)
    if local.date() == day + _DAY:
        return f"{_clock_of(local)} on {_day_name(local.date())}"
    return f"{_clock_of(local)} on {_day_name(local.date())} {local.date().isoformat()}"


def _since_midnight(local: datetime) -> timedelta:
    naive = local.replace(tzinfo=None)
    return naive - datetime.combine(naive.date(), datetime.min.time())


# --- wording ---------------------------------------------------------------------------


def _day_name(day: date) -> str:
    return WEEKDAYS[day.weekday()].capitalize()


def _clock(since_midnight: timedelta) -> str:
    minutes = int(since_midnight.total_seconds()) // 60
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _clock_of(local: datetime) -> str:
    return local.strftime("%H:%M")


def _when(local: datetime) -> str:
    return f"{_day_name(local.date())} {local.date().isoformat()} {_clock_of(local)}"


def _count(number: int, unit: str) -> str:
    return f"{number} {unit}" if number == 1 else f"{number} {unit}s"


def _minutes(minutes: float) -> str:
    whole = round(minutes)
    return _count(whole, "minute") if abs(minutes - whole) < 1e-9 else f"{minutes:.1f} minutes"


def _either(items: Sequence[str]) -> str:
    return _joined(items, "or")


def _all(items: Sequence[str]) -> str:
    return _joined(items, "and")


def _joined(items: Sequence[str], conjunction: str) -> str:
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"
