"""calendarView/delta through the real msgraph-sdk (it calls ``.../delta()``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from msgraph.generated.models.event import Event
from msgraph.generated.models.event_type import EventType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)

from .conftest import World
from .sdk import assert_typed, attendee, config, dtz, event, parse_graph_time, room, soon
from .test_recurrence import _next_monday, _weekly_10

REMOVED = "@removed"


class Sync:
    """A minimal delta client: follows nextLink pages, keeps the deltaLink."""

    def __init__(self, g: Any, user: str, start: Any, end: Any, page_size: int | None = None):
        self.g, self.user = g, user
        self.start, self.end = start, end
        self.headers = {"Prefer": f"odata.maxpagesize={page_size}"} if page_size else {}
        self.delta_link: str | None = None
        self.pages: list[int] = []

    async def round(self) -> list[Any]:
        builder = self.g.users.by_user_id(self.user).calendar_view.delta
        if self.delta_link is None:
            q = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                start_date_time=self.start.isoformat(), end_date_time=self.end.isoformat()
            )
            page = await builder.get(config(q, self.headers))
        else:
            page = await builder.with_url(self.delta_link).get(config(None, self.headers))
        items: list[Any] = []
        self.pages = []
        while True:
            assert_typed(page)
            items.extend(page.value)
            self.pages.append(len(page.value))
            if page.odata_next_link:
                assert page.odata_delta_link is None
                page = await builder.with_url(page.odata_next_link).get(config(None, self.headers))
                continue
            assert page.odata_delta_link
            self.delta_link = page.odata_delta_link
            return items


def _removed(items: list[Any]) -> set[str]:
    return {i.id for i in items if REMOVED in (i.additional_data or {})}


def _live(items: list[Any]) -> dict[str, Any]:
    return {i.id: i for i in items if REMOVED not in (i.additional_data or {})}


async def test_initial_incremental_paging_and_eviction(world: World) -> None:
    g = world.client()
    start = soon(1, 6)
    window = (start - timedelta(hours=1), start + timedelta(days=20))
    made = []
    for i in range(5):
        made.append(
            await g.users.by_user_id(world.bob).events.post(
                event(f"E{i}", start + timedelta(days=i))
            )
        )
    outside = await g.users.by_user_id(world.bob).events.post(
        event("Outside", start + timedelta(days=40))
    )
    sync = Sync(g, world.bob, *window, page_size=2)
    items = await sync.round()
    assert sync.pages == [2, 2, 1], "maxpagesize=2 pages: nextLink, nextLink, deltaLink"
    assert set(_live(items)) == {m.id for m in made}
    assert outside.id not in _live(items)

    # nothing changed: an empty round
    assert await sync.round() == []

    # create, update, delete, move out of the window
    new = await g.users.by_user_id(world.bob).events.post(event("New", start + timedelta(days=7)))
    await g.users.by_user_id(world.bob).events.by_event_id(made[0].id).patch(Event(subject="E0*"))
    await g.users.by_user_id(world.bob).events.by_event_id(made[1].id).delete()
    far = start + timedelta(days=60)
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(made[2].id)
        .patch(Event(start=dtz(far), end=dtz(far + timedelta(hours=1))))
    )
    items = await sync.round()
    live = _live(items)
    assert set(live) == {new.id, made[0].id}
    assert live[made[0].id].subject == "E0*"
    assert _removed(items) == {made[1].id, made[2].id}
    removed = next(i for i in items if i.id == made[1].id)
    assert removed.additional_data[REMOVED] == {"reason": "deleted"}
    assert await sync.round() == []

    # moving back into the window makes it reappear
    back = start + timedelta(days=2)
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(made[2].id)
        .patch(Event(start=dtz(back), end=dtz(back + timedelta(hours=1))))
    )
    assert set(_live(await sync.round())) == {made[2].id}

    # evicted tokens: 410 SyncStateNotFound, then a full resync works
    old_link = sync.delta_link
    world.emu.evict_delta(world.bob)
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id(world.bob).calendar_view.delta.with_url(old_link).get()
    assert err.value.response_status_code == 410
    assert err.value.error.code.lower() == "syncstatenotfound"
    fresh = Sync(g, world.bob, *window)
    assert len(_live(await fresh.round())) == 5


async def test_delta_returns_occurrences_not_masters(world: World) -> None:
    g = world.client()
    first = _next_monday(10)
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Weekly", first, [room(world.room2)])
    )
    utc_first = parse_graph_time(master.start.date_time)
    sync = Sync(g, world.room2, utc_first - timedelta(days=1), utc_first + timedelta(weeks=4))
    items = await sync.round()
    assert len(items) == 4
    assert {i.type for i in items} == {EventType.Occurrence}
    room_master_id = items[0].series_master_id
    # the room declines one occurrence: it is removed from the room's view
    await g.users.by_user_id(world.room2).events.by_event_id(items[1].id).decline.post(_decline())
    changed = await sync.round()
    assert _removed(changed) == {items[1].id}
    # the organizer moves another occurrence: the room's copy of it becomes an exception
    org_occ = (
        await g.users.by_user_id(world.alice)
        .events.by_event_id(master.id)
        .instances.get(config(_instances_window(utc_first)))
    ).value
    moved = parse_graph_time(org_occ[2].start.date_time) + timedelta(hours=1)
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org_occ[2].id)
        .patch(Event(start=dtz(moved), end=dtz(moved + timedelta(hours=1))))
    )
    changed = await sync.round()
    live = _live(changed)
    assert [e.type for e in live.values()] == [EventType.Exception]
    assert next(iter(live.values())).series_master_id == room_master_id
    # the organizer deletes the series: the room keeps it (RemoveCanceledMeetings is
    # false by default), every remaining occurrence comes back cancelled, none removed
    await g.users.by_user_id(world.alice).events.by_event_id(master.id).delete()
    changed = await sync.round()
    assert _removed(changed) == set()
    cancelled = _live(changed)
    assert set(cancelled) == {items[0].id, items[2].id, items[3].id}
    assert all(e.is_cancelled for e in cancelled.values())
    assert all(e.subject.startswith("Canceled: ") for e in cancelled.values())


def _decline():  # type: ignore[no-untyped-def]
    from msgraph.generated.users.item.events.item.decline.decline_post_request_body import (
        DeclinePostRequestBody,
    )

    return DeclinePostRequestBody(comment="no", send_response=True)


def _instances_window(first):  # type: ignore[no-untyped-def]
    from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
        InstancesRequestBuilder,
    )

    return InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(first - timedelta(days=1)).isoformat(),
        end_date_time=(first + timedelta(weeks=4)).isoformat(),
    )


async def test_attendant_and_propagated_writes_show_in_delta(world: World) -> None:
    g = world.client()
    start = soon(2)
    sync = Sync(g, world.alice, start - timedelta(days=1), start + timedelta(days=5))
    assert await sync.round() == []
    org = await g.users.by_user_id(world.alice).events.post(
        event("With room", start, attendees=[attendee(world.bob), room(world.room1)])
    )
    items = await sync.round()
    assert [i.id for i in items] == [org.id]
    # the version the delta shows already carries the room's acceptance
    statuses = {a.email_address.address: a.status.response.value for a in items[0].attendees}
    assert statuses[world.room1] == "accepted"
    assert items[0].change_key != org.change_key
    log = {"bob": Sync(g, world.bob, start - timedelta(days=1), start + timedelta(days=5))}
    bob_items = await log["bob"].round()
    assert len(bob_items) == 1 and bob_items[0].i_cal_u_id == org.i_cal_u_id
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).patch(Event(subject="x"))
    assert [i.subject for i in await log["bob"].round()] == ["x"]
