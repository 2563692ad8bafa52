"""Recurring series: expansion rules (unit) and per-occurrence meeting semantics (SDK)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from msgraph.generated.models.day_of_week import DayOfWeek
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_type import EventType
from msgraph.generated.models.patterned_recurrence import PatternedRecurrence
from msgraph.generated.models.recurrence_pattern import RecurrencePattern
from msgraph.generated.models.recurrence_pattern_type import RecurrencePatternType
from msgraph.generated.models.recurrence_range import RecurrenceRange
from msgraph.generated.models.recurrence_range_type import RecurrenceRangeType
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import (
    DeclinePostRequestBody,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

from emulators.graph import recurrence
from emulators.graph.errors import GraphError

from .conftest import World
from .sdk import assert_typed, attendee, config, dtz, event, parse_graph_time, room

MADRID = ZoneInfo("Europe/Madrid")


def _expand(raw: dict, start: datetime, minutes: int = 60, tz: str = "UTC") -> list[datetime]:
    rec = recurrence.normalize(raw, tz)
    shape = recurrence.SeriesShape(rec, start, timedelta(minutes=minutes))
    return list(recurrence.iter_starts(shape))


def _pat(ptype: str, **kw: object) -> dict:
    return {"type": ptype, "interval": 1, **kw}


@pytest.mark.parametrize(
    ("pattern", "rng", "expected"),
    [
        (
            _pat("daily", interval=2),
            {"type": "numbered", "numberOfOccurrences": 3},
            ["2025-01-06", "2025-01-08", "2025-01-10"],
        ),
        (
            _pat("weekly", daysOfWeek=["monday", "thursday"]),
            {"type": "endDate", "endDate": "2025-01-16"},
            ["2025-01-06", "2025-01-09", "2025-01-13", "2025-01-16"],
        ),
        (
            _pat("weekly", interval=2, daysOfWeek=["monday"], firstDayOfWeek="monday"),
            {"type": "numbered", "numberOfOccurrences": 3},
            ["2025-01-06", "2025-01-20", "2025-02-03"],
        ),
        (
            _pat("absoluteMonthly", dayOfMonth=31),
            {"type": "numbered", "numberOfOccurrences": 4},
            ["2025-01-31", "2025-02-28", "2025-03-31", "2025-04-30"],
        ),
        (
            _pat("relativeMonthly", daysOfWeek=["friday"], index="last"),
            {"type": "numbered", "numberOfOccurrences": 3},
            ["2025-01-31", "2025-02-28", "2025-03-28"],
        ),
        (
            _pat("relativeMonthly", daysOfWeek=["tuesday"], index="second"),
            {"type": "numbered", "numberOfOccurrences": 2},
            ["2025-01-14", "2025-02-11"],
        ),
        (
            _pat("absoluteYearly", dayOfMonth=29, month=2),
            {"type": "numbered", "numberOfOccurrences": 3},
            ["2025-02-28", "2026-02-28", "2027-02-28"],
        ),
        (
            _pat("relativeYearly", daysOfWeek=["thursday"], index="fourth", month=11),
            {"type": "numbered", "numberOfOccurrences": 2},
            ["2025-11-27", "2026-11-26"],
        ),
    ],
)
def test_pattern_expansion(pattern: dict, rng: dict, expected: list[str]) -> None:
    raw = {"pattern": pattern, "range": {"startDate": "2025-01-06", **rng}}
    starts = _expand(raw, datetime(2025, 1, 6, 9, tzinfo=UTC))
    assert [s.date().isoformat() for s in starts] == expected
    assert all(s.hour == 9 for s in starts)


def test_no_end_series_is_unbounded_but_windowed() -> None:
    raw = {"pattern": _pat("daily"), "range": {"type": "noEnd", "startDate": "2025-01-01"}}
    rec = recurrence.normalize(raw, "UTC")
    assert rec["range"]["endDate"] == "0001-01-01"
    shape = recurrence.SeriesShape(rec, datetime(2025, 1, 1, 8, tzinfo=UTC), timedelta(hours=1))
    got = recurrence.starts_between(
        shape, datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 4, tzinfo=UTC)
    )
    assert [g.day for g in got] == [1, 2, 3]
    assert recurrence.last_start(shape) is None


def test_windows_time_zone_keeps_wall_clock_across_dst() -> None:
    raw = {
        "pattern": _pat("weekly", daysOfWeek=["friday"]),
        "range": {"type": "numbered", "numberOfOccurrences": 3, "startDate": "2025-03-21"},
    }
    start = datetime(2025, 3, 21, 10, tzinfo=MADRID).astimezone(UTC)
    starts = _expand(raw, start, tz="Romance Standard Time")
    assert [s.astimezone(MADRID).hour for s in starts] == [10, 10, 10]
    assert [s.hour for s in starts] == [9, 9, 8], "CEST began on 30 March 2025"


def test_invalid_recurrence_is_a_graph_400() -> None:
    with pytest.raises(GraphError) as err:
        recurrence.normalize(
            {"pattern": _pat("weekly"), "range": {"type": "noEnd", "startDate": "2025-01-01"}},
            "UTC",
        )
    assert err.value.status == 400
    with pytest.raises(GraphError) as err:
        recurrence.normalize(
            {
                "pattern": _pat("daily"),
                "range": {
                    "type": "noEnd",
                    "startDate": "2025-01-01",
                    "recurrenceTimeZone": "Nowhere/Land",
                },
            },
            "UTC",
        )
    assert err.value.code == "TimeZoneNotSupportedException"


def _next_monday(hour: int) -> datetime:
    today = datetime.now(MADRID).date()
    monday = today + timedelta(days=7 - today.weekday())
    return datetime(monday.year, monday.month, monday.day, hour)


def _weekly_10(subject: str, first_local: datetime, attendees: list) -> Event:  # type: ignore[type-arg]
    return Event(
        subject=subject,
        start=dtz(first_local, "Romance Standard Time"),
        end=dtz(first_local + timedelta(hours=1), "Romance Standard Time"),
        attendees=attendees,
        recurrence=PatternedRecurrence(
            pattern=RecurrencePattern(
                type=RecurrencePatternType.Weekly,
                interval=1,
                days_of_week=[DayOfWeek.Monday],
                first_day_of_week=DayOfWeek.Monday,
            ),
            range=RecurrenceRange(
                type=RecurrenceRangeType.Numbered,
                start_date=date(first_local.year, first_local.month, first_local.day),
                number_of_occurrences=10,
            ),
        ),
    )


def _status(ev: Event, address: str) -> ResponseType | None:
    for a in ev.attendees or []:
        if a.email_address.address == address:
            return a.status.response
    return None


async def test_weekly_series_with_room_decline_and_moved_occurrence(world: World) -> None:
    g = world.client()
    first = _next_monday(10)
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Weekly", first, [attendee(world.bob), room(world.room2)])
    )
    assert_typed(master)
    assert master.type == EventType.SeriesMaster
    assert master.recurrence.range.number_of_occurrences == 10
    window = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(first - timedelta(days=1)).isoformat() + "+01:00",
        end_date_time=(first + timedelta(weeks=11)).isoformat() + "+01:00",
    )

    async def instances(user: str, master_id: str) -> list[Event]:
        got = (
            await g.users.by_user_id(user)
            .events.by_event_id(master_id)
            .instances.get(config(window))
        )
        assert_typed(got)
        return list(got.value)

    org = await instances(world.alice, master.id)
    assert len(org) == 10
    assert {o.type for o in org} == {EventType.Occurrence}
    assert {o.series_master_id for o in org} == {master.id}
    assert len({o.i_cal_u_id for o in org}) == 10, "iCalUId differs per occurrence"
    assert all(parse_graph_time(o.start.date_time).astimezone(MADRID).hour == 10 for o in org)
    room_master = (await g.users.by_user_id(world.room2).events.get()).value[0]
    assert room_master.response_status.response == ResponseType.Accepted
    room_occ = await instances(world.room2, room_master.id)
    assert [o.i_cal_u_id for o in room_occ] == [o.i_cal_u_id for o in org]
    assert {o.id for o in room_occ}.isdisjoint({o.id for o in org})

    # the room declines occurrence 3 (Bookker: a system action on the room calendar)
    await (
        g.users.by_user_id(world.room2)
        .events.by_event_id(room_occ[2].id)
        .decline.post(DeclinePostRequestBody(comment="Closed that day", send_response=True))
    )
    # the organizer moves occurrence 6 by two hours
    moved_start = parse_graph_time(org[5].start.date_time) + timedelta(hours=2)
    moved = (
        await g.users.by_user_id(world.alice)
        .events.by_event_id(org[5].id)
        .patch(Event(start=dtz(moved_start), end=dtz(moved_start + timedelta(hours=1))))
    )
    assert moved.type == EventType.Exception and moved.id == org[5].id

    org = await instances(world.alice, master.id)
    assert len(org) == 10
    by_uid = {o.i_cal_u_id: o for o in org}
    declined = by_uid[room_occ[2].i_cal_u_id]
    assert declined.type == EventType.Exception
    assert _status(declined, world.room2) == ResponseType.Declined
    assert _status(org[0], world.room2) == ResponseType.Accepted
    assert parse_graph_time(by_uid[room_occ[5].i_cal_u_id].start.date_time) == moved_start

    room_occ = await instances(world.room2, room_master.id)
    assert len(room_occ) == 9, "the declined occurrence left the room's calendar"
    room_moved = next(o for o in room_occ if o.i_cal_u_id == moved.i_cal_u_id)
    assert room_moved.type == EventType.Exception
    assert parse_graph_time(room_moved.start.date_time) == moved_start
    assert room_moved.response_status.response == ResponseType.Accepted
    bob_master = (await g.users.by_user_id(world.bob).events.get()).value[0]
    bob_occ = await instances(world.bob, bob_master.id)
    assert len(bob_occ) == 10
    assert (
        parse_graph_time(
            next(o for o in bob_occ if o.i_cal_u_id == moved.i_cal_u_id).start.date_time
        )
        == moved_start
    )

    # calendarView expands occurrences and exceptions, never the master
    cv = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time=window.start_date_time, end_date_time=window.end_date_time, top=50
    )
    view = await g.users.by_user_id(world.alice).calendar_view.get(config(cv))
    assert len(view.value) == 10
    assert EventType.SeriesMaster not in {e.type for e in view.value}


async def test_moving_an_occurrence_onto_a_booking_is_declined_by_the_room(world: World) -> None:
    g = world.client()
    first = _next_monday(9)
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Standup", first, [room(world.room1)])
    )
    window = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(first - timedelta(days=1)).isoformat() + "Z",
        end_date_time=(first + timedelta(weeks=11)).isoformat() + "Z",
    )
    org = (
        await g.users.by_user_id(world.alice)
        .events.by_event_id(master.id)
        .instances.get(config(window))
    ).value
    target = parse_graph_time(org[1].start.date_time) + timedelta(hours=4)
    await g.users.by_user_id(world.bob).events.post(
        event("Blocker", target, attendees=[room(world.room1)])
    )
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org[1].id)
        .patch(Event(start=dtz(target), end=dtz(target + timedelta(hours=1))))
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org[1].id).get()
    assert _status(mine, world.room1) == ResponseType.Declined
    assert _status(org[0], world.room1) == ResponseType.Accepted
    room_master = next(
        e
        for e in (await g.users.by_user_id(world.room1).events.get()).value
        if e.type == EventType.SeriesMaster
    )
    room_occ = (
        await g.users.by_user_id(world.room1)
        .events.by_event_id(room_master.id)
        .instances.get(config(window))
    ).value
    assert len(room_occ) == 9


async def test_series_conflict_declines_the_whole_series(world: World) -> None:
    g = world.client()
    first = _next_monday(14)
    blocker_start = (first + timedelta(weeks=4)).replace(tzinfo=MADRID).astimezone(UTC)
    await g.users.by_user_id(world.bob).events.post(
        event("Blocker", blocker_start, attendees=[room(world.room1)])
    )
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Clash", first, [room(world.room1)])
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(master.id).get()
    assert _status(mine, world.room1) == ResponseType.Declined
    subjects = [e.subject for e in (await g.users.by_user_id(world.room1).events.get()).value]
    assert subjects == ["Bob Jones"]
