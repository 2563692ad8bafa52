"""patternedRecurrence → occurrence start times (python-dateutil rrule).

Graph's pattern types (learn.microsoft.com/graph/api/resources/recurrencepattern):
daily, weekly, absoluteMonthly, relativeMonthly, absoluteYearly, relativeYearly;
range types (…/recurrencerange): endDate (inclusive), noEnd, numbered.

Occurrences are computed in the series' time zone (``recurrenceTimeZone``, else the
time zone of ``start``) on the wall-clock time of ``start``, starting on
``range.startDate``; like Exchange, a start date that does not fit the pattern is
not an occurrence itself (dateutil behaves the same way). ``absoluteMonthly`` /
``absoluteYearly`` on a day the month lacks fall on the month's last day, as in
Outlook.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Literal

from dateutil import rrule

from . import timezones
from .errors import GraphError, bad_request

PATTERN_TYPES = (
    "daily",
    "weekly",
    "absoluteMonthly",
    "relativeMonthly",
    "absoluteYearly",
    "relativeYearly",
)
RANGE_TYPES = ("endDate", "noEnd", "numbered")
DAYS = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
INDEXES = {"first": 1, "second": 2, "third": 3, "fourth": 4, "last": -1}
_RR_DAYS = {
    "monday": rrule.MO,
    "tuesday": rrule.TU,
    "wednesday": rrule.WE,
    "thursday": rrule.TH,
    "friday": rrule.FR,
    "saturday": rrule.SA,
    "sunday": rrule.SU,
}
NO_END_DATE = "0001-01-01"
# Safety net for unbounded expansion (a daily noEnd series over a huge window).
MAX_EXPANSION = 20_000


def _ci_get(d: dict[str, Any], key: str) -> Any:
    for k, v in d.items():
        if k.lower() == key.lower():
            return v
    return None


def _enum(value: Any, allowed: tuple[str, ...], what: str) -> str:
    if not isinstance(value, str):
        raise bad_request(f"Invalid value for {what}.", "ErrorInvalidRequest")
    for a in allowed:
        if a.lower() == value.lower():
            return a
    raise bad_request(f"'{value}' is not a valid value for {what}.", "ErrorInvalidRequest")


def _int(value: Any, default: int) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request("Recurrence numbers must be integers.", "ErrorInvalidRequest")
    return value


def normalize(raw: Any, default_tz: str) -> dict[str, Any]:
    """Validate a client's patternedRecurrence and give it Graph's full shape."""
    if not isinstance(raw, dict):
        raise bad_request("recurrence must be an object.", "ErrorInvalidRequest")
    pattern = _ci_get(raw, "pattern")
    rng = _ci_get(raw, "range")
    if not isinstance(pattern, dict) or not isinstance(rng, dict):
        raise bad_request("recurrence needs a pattern and a range.", "ErrorInvalidRequest")
    ptype = _enum(_ci_get(pattern, "type"), PATTERN_TYPES, "recurrence pattern type")
    interval = _int(_ci_get(pattern, "interval"), 1)
    if interval < 1:
        raise bad_request("The recurrence interval must be positive.", "ErrorInvalidRequest")
    days_raw = _ci_get(pattern, "daysOfWeek") or []
    if not isinstance(days_raw, list):
        raise bad_request("daysOfWeek must be a list.", "ErrorInvalidRequest")
    days = [_enum(d, DAYS, "daysOfWeek") for d in days_raw]
    first_day = _enum(_ci_get(pattern, "firstDayOfWeek") or "sunday", DAYS, "firstDayOfWeek")
    index = _enum(_ci_get(pattern, "index") or "first", tuple(INDEXES), "index")
    month = _int(_ci_get(pattern, "month"), 0)
    day_of_month = _int(_ci_get(pattern, "dayOfMonth"), 0)
    if ptype in ("weekly", "relativeMonthly", "relativeYearly") and not days:
        raise bad_request(f"A {ptype} recurrence needs daysOfWeek.", "ErrorInvalidRequest")
    if ptype in ("absoluteMonthly", "absoluteYearly") and not 1 <= day_of_month <= 31:
        raise bad_request(f"A {ptype} recurrence needs dayOfMonth.", "ErrorInvalidRequest")
    if ptype in ("absoluteYearly", "relativeYearly") and not 1 <= month <= 12:
        raise bad_request(f"A {ptype} recurrence needs month.", "ErrorInvalidRequest")

    rtype = _enum(_ci_get(rng, "type"), RANGE_TYPES, "recurrence range type")
    start_raw = _ci_get(rng, "startDate")
    try:
        start_date = date.fromisoformat(str(start_raw))
    except ValueError as exc:
        raise bad_request("The recurrence range needs a startDate.", "ErrorInvalidRequest") from exc
    end_date = NO_END_DATE
    count = 0
    if rtype == "endDate":
        try:
            end = date.fromisoformat(str(_ci_get(rng, "endDate")))
        except ValueError as exc:
            raise bad_request("An endDate range needs an endDate.", "ErrorInvalidRequest") from exc
        if end < start_date:
            raise bad_request("The recurrence endDate is before its startDate.")
        end_date = end.isoformat()
    elif rtype == "numbered":
        count = _int(_ci_get(rng, "numberOfOccurrences"), 0)
        if count < 1:
            raise bad_request("A numbered range needs numberOfOccurrences.", "ErrorInvalidRequest")
    rec_tz = _ci_get(rng, "recurrenceTimeZone") or default_tz
    try:
        timezones.resolve(str(rec_tz))
    except timezones.UnknownTimeZone as exc:
        raise unsupported_tz(str(rec_tz)) from exc
    return {
        "pattern": {
            "type": ptype,
            "interval": interval,
            "month": month,
            "dayOfMonth": day_of_month,
            "daysOfWeek": days,
            "firstDayOfWeek": first_day,
            "index": index,
        },
        "range": {
            "type": rtype,
            "startDate": start_date.isoformat(),
            "endDate": end_date,
            "recurrenceTimeZone": str(rec_tz),
            "numberOfOccurrences": count,
        },
    }


def unsupported_tz(name: str) -> GraphError:
    # github.com/microsoftgraph/microsoft-graph-docs/issues/4758 shows this exact answer.
    return GraphError(
        400,
        "TimeZoneNotSupportedException",
        "A valid TimeZone value must be specified. "
        f"The following TimeZone value is not supported: '{name}'.",
    )


@dataclass(frozen=True)
class SeriesShape:
    """What expansion needs from a series master."""

    recurrence: dict[str, Any]
    start: datetime  # UTC instant of the master's start
    duration: timedelta


def _month_day_rule(day: int) -> dict[str, Any]:
    if day <= 28:
        return {"bymonthday": day}
    # "day 31" in a 30-day month → the 30th: the last existing day among 28..day.
    return {"bymonthday": list(range(28, day + 1)), "bysetpos": -1}


def _rule(shape: SeriesShape) -> tuple[rrule.rrule, tzinfo]:
    rec = shape.recurrence
    pat, rng = rec["pattern"], rec["range"]
    tz = timezones.resolve(rng["recurrenceTimeZone"])
    local_start = shape.start.astimezone(tz)
    dtstart = datetime.combine(date.fromisoformat(rng["startDate"]), local_start.time())
    kw: dict[str, Any] = {"dtstart": dtstart, "interval": pat["interval"]}
    wkst = _RR_DAYS[pat["firstDayOfWeek"]]
    ptype = pat["type"]
    freq: Literal[0, 1, 2, 3, 4, 5, 6]
    if ptype == "daily":
        freq = rrule.DAILY
    elif ptype == "weekly":
        freq = rrule.WEEKLY
        kw["byweekday"] = [_RR_DAYS[d] for d in pat["daysOfWeek"]]
        kw["wkst"] = wkst
    elif ptype == "absoluteMonthly":
        freq = rrule.MONTHLY
        kw.update(_month_day_rule(pat["dayOfMonth"]))
    elif ptype == "relativeMonthly":
        freq = rrule.MONTHLY
        kw["byweekday"] = [_RR_DAYS[d] for d in pat["daysOfWeek"]]
        kw["bysetpos"] = INDEXES[pat["index"]]
    elif ptype == "absoluteYearly":
        freq = rrule.YEARLY
        kw["bymonth"] = pat["month"]
        kw.update(_month_day_rule(pat["dayOfMonth"]))
    else:  # relativeYearly
        freq = rrule.YEARLY
        kw["bymonth"] = pat["month"]
        kw["byweekday"] = [_RR_DAYS[d] for d in pat["daysOfWeek"]]
        kw["bysetpos"] = INDEXES[pat["index"]]
    if rng["type"] == "endDate":
        kw["until"] = datetime.combine(date.fromisoformat(rng["endDate"]), time(23, 59, 59))
    elif rng["type"] == "numbered":
        kw["count"] = rng["numberOfOccurrences"]
    return rrule.rrule(freq, **kw), tz


def _to_utc(local_naive: datetime, tz: tzinfo) -> datetime:
    return local_naive.replace(tzinfo=tz).astimezone(UTC)


def iter_starts(shape: SeriesShape) -> Iterator[datetime]:
    """Every occurrence's original start (UTC), in order; unbounded for noEnd."""
    rule, tz = _rule(shape)
    for n, local in enumerate(rule):
        if n >= MAX_EXPANSION:
            return
        yield _to_utc(local, tz)


def starts_between(
    shape: SeriesShape, window_start: datetime, window_end: datetime
) -> list[datetime]:
    """Original starts of occurrences overlapping [window_start, window_end)."""
    out: list[datetime] = []
    for start in iter_starts(shape):
        if start >= window_end:
            break
        if start + shape.duration > window_start or (
            shape.duration == timedelta(0) and start >= window_start
        ):
            out.append(start)
    return out


def is_occurrence(shape: SeriesShape, original_start: datetime) -> bool:
    for start in iter_starts(shape):
        if start == original_start:
            return True
        if start > original_start:
            return False
    return False


def last_start(shape: SeriesShape) -> datetime | None:
    """The last occurrence's start, or None for a series without end."""
    if shape.recurrence["range"]["type"] == "noEnd":
        return None
    last: datetime | None = None
    for start in iter_starts(shape):
        last = start
    return last
