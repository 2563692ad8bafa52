"""Room mailboxes and their booking attendant, through the real msgraph-sdk."""

from __future__ import annotations

from datetime import timedelta

import pytest
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import (
    DeclinePostRequestBody,
)

from .conftest import World
from .sdk import assert_typed, attendee, dtz, event, room, soon


def _room_status(ev: Event, address: str) -> ResponseType | None:
    for a in ev.attendees or []:
        if a.email_address.address.lower() == address.lower():
            return a.status.response
    return None


async def _room_events(g, address):  # type: ignore[no-untyped-def]
    return (await g.users.by_user_id(address).events.get()).value


async def test_room_accepts_when_free_and_replaces_subject(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("Secret plans", soon(1), attendees=[room(world.room1)])
    )
    copies = await _room_events(g, world.room1)
    assert len(copies) == 1
    copy = copies[0]
    assert copy.response_status.response == ResponseType.Accepted
    assert copy.subject == "Alice Smith", "deleteSubject: the organizer's name replaces it"
    assert copy.body.content == "", "deleteComments (Exchange default)"
    assert copy.i_cal_u_id == org.i_cal_u_id
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _room_status(mine, world.room1) == ResponseType.Accepted
    # a room that keeps subjects (deleteSubject false)
    await g.users.by_user_id(world.alice).events.post(
        event("Kept subject", soon(1), attendees=[room(world.room2)])
    )
    assert [e.subject for e in await _room_events(g, world.room2)] == ["Kept subject"]


async def test_a_subject_change_re_saves_the_rooms_copy_that_hides_it(world: World) -> None:
    """The room's copy shows the organizer's name, not the subject, yet the attendant
    processes the organizer's update: the copy gets a new changeKey (a sync reading it
    can tell the meeting changed and read the organizer's event)."""
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("First title", soon(1), attendees=[room(world.room1)])
    )
    [before] = await _room_events(g, world.room1)
    patch = Event(subject="Second title")
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).patch(patch)
    [after] = await _room_events(g, world.room1)
    assert after.subject == before.subject == "Alice Smith"
    assert after.change_key != before.change_key
    assert (after.start.date_time, after.end.date_time) == (
        before.start.date_time, before.end.date_time,
    )  # fmt: skip


async def test_room_declines_a_conflict(world: World) -> None:
    g = world.client()
    start = soon(2)
    await g.users.by_user_id(world.alice).events.post(
        event("First", start, attendees=[room(world.room1)])
    )
    late = await g.users.by_user_id(world.bob).events.post(
        event("Overlapping", start + timedelta(minutes=30), attendees=[room(world.room1)])
    )
    copies = await _room_events(g, world.room1)
    assert [c.subject for c in copies] == ["Alice Smith"], "the declined request left no copy"
    bob = await g.users.by_user_id(world.bob).events.by_event_id(late.id).get()
    assert _room_status(bob, world.room1) == ResponseType.Declined
    # back-to-back is not a conflict
    ok = await g.users.by_user_id(world.bob).events.post(
        event("Next", start + timedelta(hours=1), attendees=[room(world.room1)])
    )
    ok = await g.users.by_user_id(world.bob).events.by_event_id(ok.id).get()
    assert _room_status(ok, world.room1) == ResponseType.Accepted


async def test_room_declines_outside_its_booking_window(world: World) -> None:
    g = world.client()
    far = await g.users.by_user_id(world.alice).events.post(
        event("Too far", soon(10), attendees=[room(world.small_room)])
    )
    near = await g.users.by_user_id(world.alice).events.post(
        event("Near", soon(2), attendees=[room(world.small_room)])
    )
    far = await g.users.by_user_id(world.alice).events.by_event_id(far.id).get()
    near = await g.users.by_user_id(world.alice).events.by_event_id(near.id).get()
    assert _room_status(far, world.small_room) == ResponseType.Declined
    assert _room_status(near, world.small_room) == ResponseType.Accepted
    # the window moves with the virtual clock: 5 days later, the far one fits
    world.emu.clock_advance(5 * 86400)
    again = await g.users.by_user_id(world.alice).events.post(
        event("Now in window", soon(10, 15), attendees=[room(world.small_room)])
    )
    again = await g.users.by_user_id(world.alice).events.by_event_id(again.id).get()
    assert _room_status(again, world.small_room) == ResponseType.Accepted


async def test_organizer_update_propagates_and_room_re_evaluates(world: World) -> None:
    g = world.client()
    start = soon(3)
    blocker = await g.users.by_user_id(world.bob).events.post(
        event("Blocker", start + timedelta(hours=3), attendees=[room(world.room2)])
    )
    assert blocker
    org = await g.users.by_user_id(world.alice).events.post(
        event("Movable", start, attendees=[room(world.room2)])
    )
    # a subject change reaches the room copy (room2 keeps subjects)
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(Event(subject="Movable v2"))
    )
    assert {e.subject for e in await _room_events(g, world.room2)} == {"Blocker", "Movable v2"}
    # moving onto the blocker: the room declines and drops its copy
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(Event(start=dtz(start + timedelta(hours=3)), end=dtz(start + timedelta(hours=4))))
    )
    assert {e.subject for e in await _room_events(g, world.room2)} == {"Blocker"}
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _room_status(mine, world.room2) == ResponseType.Declined
    # moving to a free slot: accepted again, with a fresh copy at the new time
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(Event(start=dtz(start + timedelta(hours=5)), end=dtz(start + timedelta(hours=6))))
    )
    copies = {e.subject: e for e in await _room_events(g, world.room2)}
    assert set(copies) == {"Blocker", "Movable v2"}
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _room_status(mine, world.room2) == ResponseType.Accepted
    assert copies["Movable v2"].start.date_time.startswith(
        (start + timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    )


async def test_room_decline_via_api_removes_copy_and_tells_organizer(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("To release", soon(2), attendees=[attendee(world.bob), room(world.room1)])
    )
    copy = (await _room_events(g, world.room1))[0]
    # the SDK sends a PascalCase body: {"Comment": ..., "SendResponse": ...}
    await (
        g.users.by_user_id(world.room1)
        .events.by_event_id(copy.id)
        .decline.post(DeclinePostRequestBody(comment="Space closed", send_response=True))
    )
    assert await _room_events(g, world.room1) == []
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _room_status(mine, world.room1) == ResponseType.Declined
    assert _room_status(mine, world.bob) == ResponseType.None_
    # the organizer cannot answer their own meeting
    with pytest.raises(ODataError) as err:
        await (
            g.users.by_user_id(world.alice)
            .events.by_event_id(org.id)
            .decline.post(DeclinePostRequestBody(comment="x"))
        )
    assert err.value.response_status_code == 400


async def test_organizer_delete_cancels_copies(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("Doomed", soon(2), attendees=[attendee(world.bob), room(world.room1)])
    )
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).delete()
    kept = await _room_events(g, world.room1)
    assert len(kept) == 1 and kept[0].is_cancelled, "RemoveCanceledMeetings is false by default"
    assert kept[0].subject == "Canceled: Alice Smith"
    bob = await _room_events(g, world.bob)
    assert len(bob) == 1 and bob[0].is_cancelled


async def test_list_rooms(world: World) -> None:
    g = world.client()
    rooms = await g.places.graph_room.get()  # the SDK asks for /places/graph.room
    assert_typed(rooms)
    got = {r.email_address: (r.display_name, r.capacity) for r in rooms.value}
    assert got == {
        world.room1: ("Room 1", 8),
        world.room2: ("Room 2", 4),
        world.small_room: ("Small Room", None),
    }
    other = await world.other_client().places.graph_room.get()
    assert other.value == [], "rooms are per tenant"
