"""More meeting semantics: attendee list changes, response kinds, sendResponse=false."""

from __future__ import annotations

from msgraph.generated.models.event import Event
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.users.item.events.item.decline.decline_post_request_body import (
    DeclinePostRequestBody,
)
from msgraph.generated.users.item.events.item.tentatively_accept.tentatively_accept_post_request_body import (
    TentativelyAcceptPostRequestBody,
)

from .conftest import World
from .sdk import attendee, event, room, soon


def _statuses(ev: Event) -> dict[str, ResponseType]:
    return {a.email_address.address: a.status.response for a in ev.attendees or []}


async def test_adding_and_removing_attendees(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("Growing", soon(2), attendees=[attendee(world.bob)])
    )
    assert (await g.users.by_user_id(world.room1).events.get()).value == []
    # adding a room: it receives the request and answers
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(Event(attendees=[attendee(world.bob), room(world.room1)]))
    )
    assert len((await g.users.by_user_id(world.room1).events.get()).value) == 1
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _statuses(mine)[world.room1] == ResponseType.Accepted
    # removing bob and the room: both copies are cancelled (a room keeps cancelled
    # meetings unless RemoveCanceledMeetings is set)
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).patch(Event(attendees=[]))
    kept = (await g.users.by_user_id(world.room1).events.get()).value
    assert len(kept) == 1 and kept[0].is_cancelled
    bob = (await g.users.by_user_id(world.bob).events.get()).value
    assert len(bob) == 1 and bob[0].is_cancelled
    # inviting the room again: it answers anew and its copy is live again
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(Event(attendees=[room(world.room1)]))
    )
    again = (await g.users.by_user_id(world.room1).events.get()).value
    assert len(again) == 1 and not again[0].is_cancelled
    assert again[0].id == kept[0].id and again[0].subject == "Alice Smith"
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _statuses(mine)[world.room1] == ResponseType.Accepted


async def test_response_kinds_and_send_response_false(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("Answers", soon(2), attendees=[attendee(world.bob)])
    )
    bob = (await g.users.by_user_id(world.bob).events.get()).value[0]
    assert bob.show_as.value == "tentative"
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(bob.id)
        .tentatively_accept.post(
            TentativelyAcceptPostRequestBody(comment="maybe", send_response=False)
        )
    )
    bob = await g.users.by_user_id(world.bob).events.by_event_id(bob.id).get()
    assert bob.response_status.response == ResponseType.TentativelyAccepted
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _statuses(mine)[world.bob] == ResponseType.None_, "no response was sent"
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(bob.id)
        .decline.post(DeclinePostRequestBody(comment="can't", send_response=True))
    )
    assert (await g.users.by_user_id(world.bob).events.get()).value == []
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert _statuses(mine)[world.bob] == ResponseType.Declined


async def test_attendee_edits_stay_local_and_organizer_edits_win(world: World) -> None:
    g = world.client()
    org = await g.users.by_user_id(world.alice).events.post(
        event("Shared", soon(2), attendees=[attendee(world.bob)])
    )
    bob = (await g.users.by_user_id(world.bob).events.get()).value[0]
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(bob.id)
        .patch(Event(categories=["Mine"], subject="Bob's own title"))
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert mine.subject == "Shared"
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).patch(Event(subject="New"))
    bob = await g.users.by_user_id(world.bob).events.by_event_id(bob.id).get()
    assert bob.subject == "New" and bob.categories == ["Mine"]


async def test_online_meeting_link_is_created_and_kept(world: World) -> None:
    """learn.microsoft.com/graph/outlook-calendar-online-meetings: isOnlineMeeting true
    makes Outlook create the Teams meeting (onlineMeeting.joinUrl); later changes to
    isOnlineMeeting are ignored and the meeting stays online."""
    g = world.client()
    body = event("Teams", soon(2), attendees=[attendee(world.bob)])
    body.is_online_meeting = True
    org = await g.users.by_user_id(world.alice).events.post(body)
    assert org.is_online_meeting and org.online_meeting and org.online_meeting.join_url
    link = org.online_meeting.join_url
    assert link.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert org.online_meeting_provider and org.online_meeting_provider.value == "teamsForBusiness"
    bob = (await g.users.by_user_id(world.bob).events.get()).value
    assert bob[0].online_meeting and bob[0].online_meeting.join_url == link
    item = g.users.by_user_id(world.alice).events.by_event_id(org.id)
    await item.patch(Event(subject="Teams (renamed)", is_online_meeting=False))
    again = await item.get()
    assert again.is_online_meeting and again.online_meeting.join_url == link
    plain = await g.users.by_user_id(world.alice).events.post(event("Plain", soon(3)))
    assert not plain.is_online_meeting and plain.online_meeting is None
