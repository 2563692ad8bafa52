"""Events through the real msgraph-sdk: copies, ids, versions, queries, errors."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from kiota_abstractions.api_error import APIError
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.open_type_extension import OpenTypeExtension
from msgraph.generated.models.response_type import ResponseType
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.accept.accept_post_request_body import (
    AcceptPostRequestBody,
)
from msgraph.generated.users.item.events.item.event_item_request_builder import (
    EventItemRequestBuilder,
)

from .conftest import CLIENT_ID, SECRET, TENANT, World
from .sdk import assert_typed, attendee, bearer, config, event, parse_graph_time, room, soon

EXT_NAME = "com.bookker.sync"
EXT_ID = f"Microsoft.OutlookServices.OpenTypeExtension.{EXT_NAME}"


async def test_meeting_copies_have_own_ids_and_shared_icaluid(world: World) -> None:
    g = world.client()
    start = soon(2)
    created = await g.users.by_user_id(world.alice).events.post(
        event("Planning", start, attendees=[attendee(world.bob), room(world.room1)])
    )
    assert_typed(created)
    assert created.is_organizer and created.type.value == "singleInstance"
    assert created.change_key and created.additional_data["@odata.etag"] == (
        f'W/"{created.change_key}"'
    )
    bob = (await g.users.by_user_id(world.bob).events.get()).value
    rooms = (await g.users.by_user_id(world.room1).events.get()).value
    assert_typed(bob)
    assert_typed(rooms)
    assert len(bob) == len(rooms) == 1
    ids = {created.id, bob[0].id, rooms[0].id}
    assert len(ids) == 3, "each mailbox has its own copy with its own id"
    assert {created.i_cal_u_id, bob[0].i_cal_u_id, rooms[0].i_cal_u_id} == {created.i_cal_u_id}
    assert not bob[0].is_organizer
    assert bob[0].organizer.email_address.address == world.alice
    assert bob[0].response_status.response == ResponseType.NotResponded
    assert rooms[0].response_status.response == ResponseType.Accepted
    assert parse_graph_time(bob[0].start.date_time) == start
    # the organizer sees the room's answer (it changed the organizer's copy)
    mine = await g.users.by_user_id(world.alice).events.by_event_id(created.id).get()
    status = {a.email_address.address: a.status.response for a in mine.attendees}
    assert status == {world.bob: ResponseType.None_, world.room1: ResponseType.Accepted}
    assert mine.change_key != created.change_key


async def test_transaction_id_dedupes_a_retried_post(world: World) -> None:
    g = world.client()
    body = event("Retried", soon(3), transaction_id="booking-42")
    first = await g.users.by_user_id(world.alice).events.post(body)
    again = await g.users.by_user_id(world.alice).events.post(
        event("Retried", soon(3), transaction_id="booking-42")
    )
    assert again.id == first.id
    listed = await g.users.by_user_id(world.alice).events.get()
    assert [e.id for e in listed.value] == [first.id]
    assert listed.value[0].transaction_id == "booking-42"
    other = await g.users.by_user_id(world.alice).events.post(
        event("Other", soon(3), transaction_id="booking-43")
    )
    assert other.id != first.id


async def test_change_key_and_etag_change_on_every_write(world: World) -> None:
    g = world.client()
    ev = await g.users.by_user_id(world.alice).events.post(event("v1", soon(4)))
    keys = [ev.change_key]
    for subject in ("v2", "v3"):
        ev = (
            await g.users.by_user_id(world.alice)
            .events.by_event_id(ev.id)
            .patch(Event(subject=subject))
        )
        assert_typed(ev)
        keys.append(ev.change_key)
        assert ev.additional_data["@odata.etag"] == f'W/"{ev.change_key}"'
    assert len(set(keys)) == 3
    assert ev.last_modified_date_time >= ev.created_date_time
    # a stale If-Match is refused like Exchange does
    async with httpx.AsyncClient(verify=world.emu.ssl_context()) as http:
        stale = await http.patch(
            f"{world.emu.graph_url}/users/{world.alice}/events/{ev.id}",
            json={"subject": "v4"},
            headers={"Authorization": await _token(world), "If-Match": f'W/"{keys[0]}"'},
        )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ErrorIrresolvableConflict"


async def _token(world: World) -> str:
    return bearer(world.emu, TENANT, CLIENT_ID, SECRET)


async def test_filter_select_top_paging_and_timezone(world: World) -> None:
    g = world.client()
    start = soon(5, 8)
    made = []
    for i in range(5):
        made.append(
            await g.users.by_user_id(world.alice).calendar.events.post(
                event(f"E{i}", start + timedelta(hours=i))
            )
        )
    # $filter on iCalUId finds the one event
    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        filter=f"iCalUId eq '{made[2].i_cal_u_id}'", select=["subject", "iCalUId", "start"]
    )
    found = await g.users.by_user_id(world.alice).events.get(config(q))
    assert [e.subject for e in found.value] == ["E2"]
    only = found.value[0]
    assert only.body is None and only.attendees is None, "$select trims the other fields"
    assert only.id == made[2].id
    # $top pages with @odata.nextLink; the SDK follows it with with_url
    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        top=2, orderby=["start/dateTime"], filter="startswith(subject,'E') and isAllDay eq false"
    )
    page = await g.users.by_user_id(world.alice).events.get(config(q))
    subjects = [e.subject for e in page.value]
    while page.odata_next_link:
        page = await g.users.by_user_id(world.alice).events.with_url(page.odata_next_link).get()
        assert_typed(page)
        subjects += [e.subject for e in page.value]
    assert subjects == ["E0", "E1", "E2", "E3", "E4"]
    # Prefer: outlook.timezone shows start/end in that zone, with its name
    cv = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
        start_date_time=(start - timedelta(hours=1)).isoformat(),
        end_date_time=(start + timedelta(hours=1, minutes=30)).isoformat(),
    )
    view = await g.users.by_user_id(world.alice).calendar_view.get(
        config(cv, {"Prefer": 'outlook.timezone="Pacific Standard Time"'})
    )
    assert_typed(view)
    assert [e.subject for e in view.value] == ["E0", "E1"]
    assert view.value[0].start.time_zone == "Pacific Standard Time"
    assert view.value[0].original_start_time_zone == "UTC"
    local = parse_graph_time(view.value[0].start.date_time)
    assert start - local in (timedelta(hours=7), timedelta(hours=8))


async def test_open_extension_post_get_and_expand(world: World) -> None:
    g = world.client()
    ev = await g.users.by_user_id(world.alice).events.post(event("Booked", soon(6)))
    ext = OpenTypeExtension(
        extension_name=EXT_NAME,
        additional_data={"bookingId": "b-1", "tenantId": "t-1", "spaceId": "s-1"},
    )
    posted = await g.users.by_user_id(world.alice).events.by_event_id(ev.id).extensions.post(ext)
    assert posted.id == EXT_ID
    got = (
        await g.users.by_user_id(world.alice)
        .events.by_event_id(ev.id)
        .extensions.by_extension_id(EXT_ID)
        .get()
    )
    assert isinstance(got, OpenTypeExtension)
    assert got.extension_name == EXT_NAME and got.additional_data["bookingId"] == "b-1"
    q = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
        expand=[f"extensions($filter=id eq '{EXT_ID}')"]
    )
    full = await g.users.by_user_id(world.alice).events.by_event_id(ev.id).get(config(q))
    assert_typed(full)
    assert [x.id for x in full.extensions] == [EXT_ID]
    assert full.extensions[0].additional_data["spaceId"] == "s-1"
    assert full.change_key != ev.change_key, "adding an extension is a write"
    q = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
        expand=["extensions($filter=id eq 'Microsoft.OutlookServices.OpenTypeExtension.x')"]
    )
    none = await g.users.by_user_id(world.alice).events.by_event_id(ev.id).get(config(q))
    assert none.extensions == []
    # extensions can also be created with the event
    inline = Event(
        subject="Inline",
        start=ev.start,
        end=ev.end,
        extensions=[
            OpenTypeExtension(extension_name=EXT_NAME, additional_data={"bookingId": "b-2"})
        ],
    )
    made = await g.users.by_user_id(world.alice).events.post(inline)
    q = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(expand=["extensions"])
    back = await g.users.by_user_id(world.alice).events.by_event_id(made.id).get(config(q))
    assert back.extensions[0].additional_data["bookingId"] == "b-2"


async def test_graph_shaped_errors(world: World) -> None:
    g = world.client()
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id(world.alice).events.by_event_id("AAMkAnope").get()
    e = err.value
    assert e.response_status_code == 404
    assert e.error.code == "ErrorItemNotFound"
    assert e.error.inner_error.request_id and e.error.inner_error.date
    assert_typed(e.error)
    # another mailbox's event id is not found in this mailbox
    ev = await g.users.by_user_id(world.bob).events.post(event("Bob's", soon(2)))
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id(world.alice).events.by_event_id(ev.id).get()
    assert err.value.response_status_code == 404
    # unknown user
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id("nobody@contoso.com").events.get()
    assert err.value.error.code == "ErrorInvalidUser"
    # unknown property and unknown time zone
    bad = event("Bad tz", soon(2), tz="Mars/Olympus")
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id(world.alice).events.post(bad)
    assert err.value.error.code == "TimeZoneNotSupportedException"
    with pytest.raises(APIError):
        await g.users.by_user_id(world.alice).events.post(
            Event(subject="x", additional_data={"noSuchProperty": 1})
        )


async def test_organizer_changes_propagate_and_responses_flow_back(world: World) -> None:
    g = world.client()
    start = soon(3)
    org = await g.users.by_user_id(world.alice).events.post(
        event("Sync", start, attendees=[attendee(world.bob)])
    )
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .patch(
            Event(
                subject="Sync (moved)",
                start=event("", start + timedelta(hours=2)).start,
                end=event("", start + timedelta(hours=3)).start,
            )
        )
    )
    bob = (await g.users.by_user_id(world.bob).events.get()).value[0]
    assert bob.subject == "Sync (moved)"
    assert parse_graph_time(bob.start.date_time) == start + timedelta(hours=2)
    # bob accepts: the organizer's attendee list shows it
    await (
        g.users.by_user_id(world.bob)
        .events.by_event_id(bob.id)
        .accept.post(AcceptPostRequestBody(comment="ok", send_response=True))
    )
    mine = await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    assert mine.attendees[0].status.response == ResponseType.Accepted
    bob2 = await g.users.by_user_id(world.bob).events.by_event_id(bob.id).get()
    assert bob2.response_status.response == ResponseType.Accepted
    # the organizer cancels: bob's copy is cancelled
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(org.id)
        .cancel.post(_cancel_body("sorry"))
    )
    bob3 = await g.users.by_user_id(world.bob).events.by_event_id(bob.id).get()
    assert bob3.is_cancelled and bob3.subject.startswith("Canceled: ")
    with pytest.raises(ODataError):
        await g.users.by_user_id(world.alice).events.by_event_id(org.id).get()
    # an attendee cannot cancel
    with pytest.raises(ODataError) as err:
        await (
            g.users.by_user_id(world.bob).events.by_event_id(bob.id).cancel.post(_cancel_body("no"))
        )
    assert err.value.response_status_code == 400


def _cancel_body(comment: str):  # type: ignore[no-untyped-def]
    from msgraph.generated.users.item.events.item.cancel.cancel_post_request_body import (
        CancelPostRequestBody,
    )

    return CancelPostRequestBody(comment=comment)


async def test_propagation_delay_runs_on_the_virtual_clock(world: World) -> None:
    world.emu.set_faults(propagationDelaySeconds=600)
    g = world.client()
    await g.users.by_user_id(world.alice).events.post(
        event("Later", soon(2), attendees=[attendee(world.bob)])
    )
    assert (await g.users.by_user_id(world.bob).events.get()).value == []
    world.emu.clock_advance(599)
    assert (await g.users.by_user_id(world.bob).events.get()).value == []
    world.emu.clock_advance(2)
    bob = (await g.users.by_user_id(world.bob).events.get()).value
    assert [e.subject for e in bob] == ["Later"]


async def test_icaluid_lookup_and_paging_in_a_full_mailbox(world: World) -> None:
    """A look-up by iCalUId among hundreds of events (answered without serialising the
    whole mailbox) gives what the full filter gives: the one copy, and nothing when
    another clause excludes it; $top pages through every event once."""
    items = [
        {"subject": f"N{i:03d}", "start": {"dateTime": f"2030-01-{1 + i // 24:02d}T{i % 24:02d}:00:00",
         "timeZone": "UTC"}, "end": {"dateTime": f"2030-01-{1 + i // 24:02d}T{i % 24:02d}:30:00",
         "timeZone": "UTC"}}
        for i in range(300)
    ]  # fmt: skip
    world.emu.control("POST", "bulk/events", {"mailbox": world.alice, "items": items})
    g = world.client()
    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        top=100, select=["subject", "iCalUId"]
    )
    page = await g.users.by_user_id(world.alice).events.get(config(q))
    listed = list(page.value)
    while page.odata_next_link:
        page = await g.users.by_user_id(world.alice).events.with_url(page.odata_next_link).get()
        listed += page.value
    assert sorted(e.subject for e in listed) == [f"N{i:03d}" for i in range(300)]
    target = next(e for e in listed if e.subject == "N217")
    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        filter=f"iCalUId eq '{target.i_cal_u_id}'", top=2
    )
    found = await g.users.by_user_id(world.alice).events.get(config(q))
    assert [(e.subject, e.id) for e in found.value] == [("N217", target.id)]
    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
        filter=f"iCalUId eq '{target.i_cal_u_id}' and subject eq 'other'"
    )
    found = await g.users.by_user_id(world.alice).events.get(config(q))
    assert found.value == []
