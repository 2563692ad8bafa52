"""Room calendar-processing defaults beyond conflicts and the booking window, through the
real msgraph-sdk: RemoveCanceledMeetings (false) and MaximumDurationInMinutes (1440).

learn.microsoft.com/powershell/module/exchange/set-calendarprocessing
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from msgraph.generated.models.event import Event
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import (
    CancelPostRequestBody,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

from .conftest import TENANT, World
from .sdk import attendee, config, dtz, event, parse_graph_time, room, soon
from .test_delta import REMOVED, Sync
from .test_recurrence import _next_monday, _weekly_10
from .webhooks import Receiver

STRICT_ROOM = "strict@contoso.com"
PURGING_ROOM = "purging@contoso.com"
ENDLESS_ROOM = "endless@contoso.com"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


def _status(ev: Event, address: str) -> ResponseType | None:
    for a in ev.attendees or []:
        if a.email_address.address.lower() == address.lower():
            return a.status.response
    return None


async def _events(g: Any, address: str) -> list[Event]:
    return list((await g.users.by_user_id(address).events.get()).value)


async def _view(g: Any, address: str, start: datetime, end: datetime) -> list[Event]:
    q = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time=start.isoformat(), end_date_time=end.isoformat()
    )
    return list((await g.users.by_user_id(address).calendar_view.get(config(q))).value)


async def _watch(g: Any, address: str, url: str) -> None:
    await g.subscriptions.post(
        Subscription(
            change_type="created,updated,deleted",
            notification_url=url,
            resource=f"/users/{address}/events",
            expiration_date_time=datetime.now(UTC) + timedelta(days=2),
            client_state="room-policy",
        )
    )


def _changes(receiver: Receiver, path: str) -> list[tuple[str, str]]:
    return [(i["changeType"], i["resourceData"]["id"]) for i in receiver.items(path)]


def test_policy_defaults_and_validation(world: World) -> None:
    rooms = world.emu.control("GET", f"mailboxes?tenantId={TENANT}")["value"]
    policy = next(m for m in rooms if m["address"] == world.room1)["policy"]
    assert policy["removeCanceledMeetings"] is False
    assert policy["maximumDurationInMinutes"] == 1440
    assert policy["deleteSubject"] is True, "AddOrganizerToSubject/DeleteSubject default"
    bad = [
        {"removeCanceledMeetings": "yes"},
        {"maximumDurationInMinutes": -1},
        {"maximumDurationInMinutes": 1.5},
    ]
    for p in bad:
        resp = world.emu.http.post(
            "/_emulator/mailboxes",
            json={"tenantId": TENANT, "address": "x@contoso.com", "kind": "room", "policy": p},
        )
        assert resp.status_code == 400, p


# -- RemoveCanceledMeetings -------------------------------------------------------
async def test_cancelled_meeting_stays_on_the_room_calendar_as_an_update(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    start = soon(2)
    window = (start - timedelta(days=1), start + timedelta(days=2))
    org = await g.users.by_user_id(world.alice).events.post(
        event("Budget", start, attendees=[attendee(world.bob), room(world.room1)])
    )
    sync = Sync(g, world.room1, *window)
    (copy,) = await sync.round()
    assert not copy.is_cancelled and copy.subject == "Alice Smith"
    await _watch(g, world.room1, receiver.url("/room"))

    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .cancel.post(CancelPostRequestBody(comment="No budget left"))
    )
    # the room's copy is kept, cancelled, under the same id
    (kept,) = await _events(g, world.room1)
    assert kept.id == copy.id and kept.i_cal_u_id == org.i_cal_u_id
    assert kept.is_cancelled and kept.subject == "Canceled: Alice Smith"
    assert [e.id for e in await _view(g, world.room1, *window)] == [copy.id]
    # delta reports it as a change, not a removal
    (changed,) = await sync.round()
    assert changed.id == copy.id and changed.is_cancelled
    assert REMOVED not in (changed.additional_data or {})
    # one "updated" notification for the room's copy
    await world.emu.aflush_notifications()
    assert _changes(receiver, "/room") == [("updated", copy.id)]
    # attendees keep their cancelled copy too
    (bobs,) = await _events(g, world.bob)
    assert bobs.is_cancelled and bobs.subject == "Canceled: Budget"
    # the cancelled meeting no longer makes the room busy
    again = await g.users.by_user_id(world.bob).events.post(
        event("Rebooked", start, attendees=[room(world.room1)])
    )
    mine = await g.users.by_user_id(world.bob).events.by_event_id(again.id).get()
    assert _status(mine, world.room1) == ResponseType.Accepted


async def test_remove_canceled_meetings_policy_deletes_the_room_copy(
    world: World, receiver: Receiver
) -> None:
    world.emu.add_mailbox(
        TENANT, PURGING_ROOM, "Purging Room", "room", {"removeCanceledMeetings": True}
    )
    g = world.client()
    start = soon(2)
    window = (start - timedelta(days=1), start + timedelta(days=2))
    org = await g.users.by_user_id(world.alice).events.post(
        event("Short-lived", start, attendees=[room(PURGING_ROOM), room(world.room1)])
    )
    sync = Sync(g, PURGING_ROOM, *window)
    (copy,) = await sync.round()
    await _watch(g, PURGING_ROOM, receiver.url("/purging"))
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).delete()
    assert await _events(g, PURGING_ROOM) == []
    (gone,) = await sync.round()
    assert gone.id == copy.id and REMOVED in (gone.additional_data or {})
    await world.emu.aflush_notifications()
    assert _changes(receiver, "/purging") == [("deleted", copy.id)]
    # the default room beside it keeps its cancelled copy
    (kept,) = await _events(g, world.room1)
    assert kept.is_cancelled


async def test_cancelled_series_stays_on_the_room_calendar(world: World) -> None:
    g = world.client()
    first = _next_monday(10)
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Weekly", first, [room(world.room1)])
    )
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(master.id)
        .cancel.post(CancelPostRequestBody(comment="Series over"))
    )
    (room_master,) = await _events(g, world.room1)
    assert room_master.is_cancelled and room_master.subject == "Canceled: Alice Smith"
    utc_first = parse_graph_time(master.start.date_time)
    q = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(utc_first - timedelta(days=1)).isoformat(),
        end_date_time=(utc_first + timedelta(weeks=3)).isoformat(),
    )
    occurrences = (
        await g.users.by_user_id(world.room1)
        .events.by_event_id(room_master.id)
        .instances.get(config(q))
    ).value
    assert len(occurrences) == 3 and all(o.is_cancelled for o in occurrences)


# -- MaximumDurationInMinutes -----------------------------------------------------
async def test_room_declines_meetings_longer_than_1440_minutes(world: World) -> None:
    g = world.client()
    start = soon(3)
    long = await g.users.by_user_id(world.alice).events.post(
        event("Offsite", start, minutes=1441, attendees=[room(world.room1)])
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(long.id).get()
    assert _status(mine, world.room1) == ResponseType.Declined
    assert await _events(g, world.room1) == [], "a declined request leaves no room copy"
    # exactly the maximum is fine
    day = await g.users.by_user_id(world.alice).events.post(
        event("Full day", start + timedelta(days=3), minutes=1440, attendees=[room(world.room1)])
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(day.id).get()
    assert _status(mine, world.room1) == ResponseType.Accepted
    # stretching an accepted meeting past the maximum: declined, the copy goes
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(day.id)
        .patch(Event(end=dtz(start + timedelta(days=4, minutes=30))))
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(day.id).get()
    assert _status(mine, world.room1) == ResponseType.Declined
    assert await _events(g, world.room1) == []


async def test_maximum_duration_is_per_mailbox_and_zero_means_unlimited(world: World) -> None:
    world.emu.add_mailbox(
        TENANT, STRICT_ROOM, "Strict Room", "room", {"maximumDurationInMinutes": 120}
    )
    world.emu.add_mailbox(
        TENANT, ENDLESS_ROOM, "Endless Room", "room", {"maximumDurationInMinutes": 0}
    )
    g = world.client()
    start = soon(3)
    three_hours = await g.users.by_user_id(world.alice).events.post(
        event("Workshop", start, minutes=180, attendees=[room(STRICT_ROOM), room(ENDLESS_ROOM)])
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(three_hours.id).get()
    assert _status(mine, STRICT_ROOM) == ResponseType.Declined
    assert _status(mine, ENDLESS_ROOM) == ResponseType.Accepted
    week = await g.users.by_user_id(world.alice).events.post(
        event("Fair", start + timedelta(days=1), minutes=7 * 1440, attendees=[room(ENDLESS_ROOM)])
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(week.id).get()
    assert _status(mine, ENDLESS_ROOM) == ResponseType.Accepted


async def test_maximum_duration_applies_to_each_instance_of_a_series(world: World) -> None:
    world.emu.add_mailbox(
        TENANT, STRICT_ROOM, "Strict Room", "room", {"maximumDurationInMinutes": 90}
    )
    g = world.client()
    first = _next_monday(10)
    long_series = _weekly_10("Long weekly", first, [room(STRICT_ROOM)])
    long_series.end = dtz(first + timedelta(hours=2), "Romance Standard Time")
    declined = await g.users.by_user_id(world.alice).events.post(long_series)
    mine = await g.users.by_user_id(world.alice).events.by_event_id(declined.id).get()
    assert _status(mine, STRICT_ROOM) == ResponseType.Declined
    assert await _events(g, STRICT_ROOM) == []
    # an hour-long series is accepted; stretching one occurrence declines that one only
    await g.users.by_user_id(world.alice).events.by_event_id(declined.id).delete()
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Weekly", first, [room(STRICT_ROOM)])
    )
    utc_first = parse_graph_time(master.start.date_time)
    q = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(utc_first - timedelta(days=1)).isoformat(),
        end_date_time=(utc_first + timedelta(weeks=3)).isoformat(),
    )
    occ = (
        await g.users.by_user_id(world.alice).events.by_event_id(master.id).instances.get(config(q))
    ).value
    second = parse_graph_time(occ[1].start.date_time)
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(occ[1].id)
        .patch(Event(end=dtz(second + timedelta(hours=3))))
    )
    after = (
        await g.users.by_user_id(world.alice).events.by_event_id(master.id).instances.get(config(q))
    ).value
    assert [_status(o, STRICT_ROOM) for o in after] == [
        ResponseType.Accepted,
        ResponseType.Declined,
        ResponseType.Accepted,
    ]
    (room_master,) = await _events(g, STRICT_ROOM)
    room_occ = (
        await g.users.by_user_id(STRICT_ROOM)
        .events.by_event_id(room_master.id)
        .instances.get(config(q))
    ).value
    assert len(room_occ) == 2, "the too-long occurrence left the room's series"
