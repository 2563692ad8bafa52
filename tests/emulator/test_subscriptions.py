"""Change notifications: subscriptions, handshake, delivery, faults, lifecycle.

Graph calls go through the real msgraph-sdk (raw httpx only for $batch); a real aiohttp
webhook receiver runs on 127.0.0.1 in the test's event loop, so the control API is
called without blocking the loop (``acontrol``/``aflush_notifications``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from msgraph.generated.models.event import Event
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.subscription import Subscription
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

from .conftest import CLIENT_ID, SECRET, TENANT, World
from .sdk import assert_typed, bearer, config, event, room, soon
from .test_delta import Sync
from .test_recurrence import _next_monday, _weekly_10
from .webhooks import Receiver

ITEM_KEYS = {
    "subscriptionId",
    "subscriptionExpirationDateTime",
    "changeType",
    "resource",
    "resourceData",
    "clientState",
    "tenantId",
}
LIFECYCLE_KEYS = {
    "subscriptionId",
    "subscriptionExpirationDateTime",
    "tenantId",
    "clientState",
    "lifecycleEvent",
}
ALL = "created,updated,deleted"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = await Receiver().start()
    try:
        yield r
    finally:
        await r.stop()


def _in(days: float = 3) -> datetime:
    return datetime.now(UTC) + timedelta(days=days)


def _shortly() -> datetime:
    """An expiry under 45 minutes away: Graph raises it to 45 minutes."""
    return datetime.now(UTC) + timedelta(minutes=5)


async def _subscribe(
    g: Any,
    mailbox: str,
    url: str,
    *,
    lifecycle: str | None = None,
    change_type: str = ALL,
    expires: datetime | None = None,
    state: str | None = "secret-state",
    resource: str | None = None,
) -> Subscription:
    return await g.subscriptions.post(
        Subscription(
            change_type=change_type,
            notification_url=url,
            lifecycle_notification_url=lifecycle,
            resource=resource or f"/users/{mailbox}/events",
            expiration_date_time=expires or _in(3),
            client_state=state,
        )
    )


def _guids(world: World) -> dict[str, str]:
    rows = world.emu.control("GET", f"mailboxes?tenantId={TENANT}")["value"]
    return {m["address"]: m["id"] for m in rows}


def _vtime(text: str) -> datetime:
    return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00")


def _raw(world: World) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=world.emu.graph_url,
        verify=world.emu.ssl_context(),
        headers={"Authorization": bearer(world.emu, TENANT, CLIENT_ID, SECRET)},
        timeout=30,
    )


# -- subscriptions and the handshake -----------------------------------------------
async def test_create_validates_both_urls_and_answers_the_subscription(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    url = receiver.url("/notify", "room=1&tag=a%20b")
    life = receiver.url("/life")
    sub = await _subscribe(g, world.room1, url, lifecycle=life)
    assert_typed(sub)
    assert sub.resource == f"/users/{world.room1}/events", "echoed as given"
    assert sub.change_type == ALL and sub.client_state == "secret-state"
    assert sub.notification_url == url and sub.lifecycle_notification_url == life
    assert sub.application_id == CLIENT_ID and sub.creator_id
    assert abs(sub.expiration_date_time - _in(3)) < timedelta(seconds=30)
    # one handshake per URL: POST ?validationToken=<url-encoded opaque token>, text/plain
    assert [h.path for h in receiver.handshakes] == ["/notify", "/life"]
    for h in receiver.handshakes:
        token = h.query["validationToken"]
        assert " " in token and ":" in token, "a token that needs URL decoding"
        assert "%20" in h.raw_query and "%3A" in h.raw_query
        assert h.content_type.startswith("text/plain")
    assert receiver.handshakes[0].raw_query.startswith("room=1&tag=a%20b&validationToken=")
    assert receiver.handshakes[0].query["tag"] == "a b"
    # read back: one, list; another app and another tenant see nothing
    got = await g.subscriptions.by_subscription_id(sub.id).get()
    assert_typed(got)
    assert got.id == sub.id and got.expiration_date_time == sub.expiration_date_time
    listed = await g.subscriptions.get()
    assert [s.id for s in listed.value] == [sub.id]
    other = world.other_client()
    assert (await other.subscriptions.get()).value == []
    with pytest.raises(ODataError) as err:
        await other.subscriptions.by_subscription_id(sub.id).get()
    assert err.value.response_status_code == 404
    # the same app, resource and changeType again: 409; another changeType is fine
    with pytest.raises(ODataError) as err:
        await _subscribe(g, world.room1, url)
    assert err.value.response_status_code == 409
    assert sub.id in err.value.error.message
    await _subscribe(g, world.room1, url, change_type="deleted")
    # id, key and case forms of the resource
    guid = _guids(world)[world.alice]
    for resource in (f"users/{guid}/events", f"Users('{world.alice.upper()}')/Events"):
        made = await _subscribe(g, world.alice, url, resource=resource, change_type="created")
        assert made.resource == resource
        await g.subscriptions.by_subscription_id(made.id).delete()
    with pytest.raises(ODataError) as err:
        await g.subscriptions.by_subscription_id(made.id).get()
    assert err.value.response_status_code == 404


async def test_create_rules_lifetime_client_state_resource_and_urls(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    url = receiver.url()
    now = world.emu.clock_now()
    with pytest.raises(ODataError) as too_far:
        await _subscribe(g, world.alice, url, expires=now + timedelta(days=30))
    assert too_far.value.response_status_code == 400
    assert too_far.value.error.code == "ExtensionError"
    assert too_far.value.error.message == (
        "Subscription expiration can only be 10080 minutes in the future."
    )
    assert (await g.subscriptions.get()).value == [], "refused, not capped"
    raised = await _subscribe(g, world.alice, url, expires=now + timedelta(minutes=5))
    assert abs(raised.expiration_date_time - (now + timedelta(minutes=45))) < timedelta(seconds=30)
    await g.subscriptions.by_subscription_id(raised.id).delete()
    ok_state = await _subscribe(g, world.bob, url, state="s" * 128)
    assert ok_state.client_state == "s" * 128

    async def status(**kw: Any) -> tuple[int, str]:
        with pytest.raises(ODataError) as err:
            await _subscribe(g, kw.pop("mailbox", world.alice), kw.pop("url", url), **kw)
        return err.value.response_status_code, err.value.error.code

    assert (await status(expires=now - timedelta(minutes=1)))[0] == 400
    assert (await status(state="s" * 129))[0] == 400
    assert (await status(change_type="created,moved"))[0] == 400
    assert (await status(resource=f"/users/{world.alice}/messages"))[0] == 400
    assert (await status(resource="me/events"))[0] == 400
    assert (await status(resource="/users/nobody@contoso.com/events"))[0] == 404
    assert (await status(mailbox=world.fabrikam_user))[0] == 403
    assert (await status(url="https://example.com/hook"))[0] == 400
    assert (await status(lifecycle="http://10.1.2.3/life"))[0] == 400
    with pytest.raises(ODataError) as err:
        await g.subscriptions.post(
            Subscription(
                change_type="created",
                notification_url=url,
                resource=f"/users/{world.alice}/events",
                expiration_date_time=_in(1),
                include_resource_data=True,
            )
        )
    assert err.value.response_status_code == 400, "rich notifications are not emulated"
    assert receiver.posts == []


async def test_handshake_wrong_answers_fail_and_create_nothing(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    receiver.handshake.update({"/wrong": "wrong", "/html": "html", "/err": "500"})
    messages = {}
    for path in ("/wrong", "/html", "/err"):
        with pytest.raises(ODataError) as err:
            await _subscribe(g, world.alice, receiver.url(path))
        assert err.value.response_status_code == 400
        assert err.value.error.code == "ValidationError"
        messages[path] = err.value.error.message
    assert "must exactly match validationToken" in messages["/wrong"]
    assert "text/plain" in messages["/html"] and "200 OK" in messages["/err"]
    # a good notificationUrl does not help a failing lifecycleNotificationUrl
    with pytest.raises(ODataError) as err:
        await _subscribe(g, world.alice, receiver.url("/ok"), lifecycle=receiver.url("/wrong"))
    assert err.value.response_status_code == 400
    assert (await g.subscriptions.get()).value == []


async def test_handshake_slower_than_ten_seconds_fails(world: World, receiver: Receiver) -> None:
    g = world.client(retry=False)
    receiver.handshake["/slow"] = "slow"
    started = time.monotonic()
    with pytest.raises(ODataError) as err:
        await _subscribe(g, world.alice, receiver.url("/slow"))
    took = time.monotonic() - started
    assert err.value.response_status_code == 400
    assert "timed out" in err.value.error.message
    assert 9.5 < took < 12, took
    assert (await g.subscriptions.get()).value == []


# -- delivery ---------------------------------------------------------------------
async def test_created_updated_deleted_reach_each_subscription_by_change_type(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    url_all = receiver.url("/all", "tenant=contoso")
    every = await _subscribe(g, world.alice, url_all)
    deletes = await _subscribe(g, world.alice, receiver.url("/deleted"), change_type="deleted")
    world.emu.add_mailbox(TENANT, world.alice, "Alice S.")  # control API: never notified
    await world.emu.aclock_advance(60)
    made = await g.users.by_user_id(world.alice).events.post(event("Plan", soon(1)))
    changed = (
        await g.users.by_user_id(world.alice)
        .events.by_event_id(made.id)
        .patch(Event(subject="Plan B"))
    )
    await g.users.by_user_id(world.alice).events.by_event_id(made.id).delete()
    flushed = await world.emu.aflush_notifications()
    assert flushed["pending"] == 0
    items = receiver.items("/all")
    assert sorted(i["changeType"] for i in items) == ["created", "deleted", "updated"]
    guid = _guids(world)[world.alice]
    path = f"Users/{guid}/Events/{made.id}"
    tags = {i["changeType"]: i["resourceData"].get("@odata.etag") for i in items}
    assert tags["created"] == f'W/"{made.change_key}"'
    assert tags["updated"] == f'W/"{changed.change_key}"'
    for item in items:
        assert set(item) == ITEM_KEYS
        assert item["subscriptionId"] == every.id
        assert item["clientState"] == "secret-state" and item["tenantId"] == TENANT
        assert item["resource"] == path
        assert item["resourceData"]["@odata.type"] == "#Microsoft.Graph.Event"
        assert item["resourceData"]["@odata.id"] == path
        assert item["resourceData"]["id"] == made.id
        assert _vtime(item["subscriptionExpirationDateTime"]) == every.expiration_date_time
    for post in receiver.posts_to("/all"):
        assert post.raw_query == "tenant=contoso", "the notificationUrl's query on every POST"
        assert post.content_type.startswith("application/json")
    only = receiver.items("/deleted")
    assert [(i["changeType"], i["subscriptionId"]) for i in only] == [("deleted", deletes.id)]
    stats = world.emu.stats()["notifications"]
    assert stats["sent"] == 4 and stats["failed"] == stats["dropped"] == 0


async def test_room_mailbox_notifications_include_the_attendants_own_writes(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    await _subscribe(g, world.room1, receiver.url("/room"))
    await _subscribe(g, world.alice, receiver.url("/alice"))
    start = soon(3)
    org = await g.users.by_user_id(world.alice).events.post(
        event("Board", start, attendees=[room(world.room1)])
    )
    await world.emu.aflush_notifications()
    copy = (await g.users.by_user_id(world.room1).events.get()).value[0]
    room_items = receiver.items("/room")
    assert [(i["changeType"], i["resourceData"]["id"]) for i in room_items] == [
        ("created", copy.id)
    ], "the booking attendant created the room's copy"
    assert room_items[0]["resource"] == f"Users/{_guids(world)[world.room1]}/Events/{copy.id}"
    # the organizer's copy: created, then updated when the room's acceptance arrived
    alice_items = receiver.items("/alice")
    assert {i["changeType"] for i in alice_items} == {"created", "updated"}
    assert {i["resourceData"]["id"] for i in alice_items} == {org.id}
    # a conflicting request is declined: no room copy, no room notification
    await g.users.by_user_id(world.bob).events.post(
        event("Clash", start, attendees=[room(world.room1)])
    )
    await world.emu.aflush_notifications()
    assert len(receiver.items("/room")) == 1
    # the organizer deletes: the room keeps its copy, cancelled (RemoveCanceledMeetings
    # false by default), which is an update of that copy
    await g.users.by_user_id(world.alice).events.by_event_id(org.id).delete()
    await world.emu.aflush_notifications()
    assert [(i["changeType"], i["resourceData"]["id"]) for i in receiver.items("/room")][1:] == [
        ("updated", copy.id)
    ]


async def test_occurrence_changes_notify_the_series_master(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url("/series"))
    master = await g.users.by_user_id(world.alice).events.post(
        _weekly_10("Weekly", _next_monday(10), [])
    )
    first = _next_monday(10)
    q = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
        start_date_time=(first - timedelta(days=1)).isoformat(),
        end_date_time=(first + timedelta(days=30)).isoformat(),
    )
    occurrences = (
        await g.users.by_user_id(world.alice).events.by_event_id(master.id).instances.get(config(q))
    ).value
    await world.emu.aflush_notifications()
    assert [(i["changeType"], i["resourceData"]["id"]) for i in receiver.items()] == [
        ("created", master.id)
    ]
    await (
        g.users.by_user_id(world.alice)
        .events.by_event_id(occurrences[1].id)
        .patch(Event(subject="Moved agenda"))
    )
    await g.users.by_user_id(world.alice).events.by_event_id(occurrences[2].id).delete()
    await world.emu.aflush_notifications()
    later = receiver.items()[1:]
    assert later and {(i["changeType"], i["resourceData"]["id"]) for i in later} == {
        ("updated", master.id)
    }, "Outlook notifies the master, never an occurrence id"


async def test_one_post_per_url_across_subscriptions_and_silent_mailboxes(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    url = receiver.url("/shared")
    subs = [await _subscribe(g, m, url) for m in (world.alice, world.bob)]
    await _subscribe(g, world.room2, receiver.url("/quiet"))
    world.emu.set_faults(notificationDelaySeconds=[5, 5], silentMailboxes=[world.room2])
    for who in (world.alice, world.bob):
        await g.users.by_user_id(who).events.post(event(f"For {who}", soon(1)))
    await g.users.by_user_id(world.room2).events.post(event("Room's own", soon(2)))
    assert (await world.emu.aflush_notifications())["sent"] == 0, "not due yet"
    await world.emu.aclock_advance(10)  # the background pump may deliver before the flush
    assert (await world.emu.aflush_notifications())["pending"] == 0
    (post,) = receiver.posts_to("/shared")
    assert {i["subscriptionId"] for i in post.value} == {s.id for s in subs}
    assert receiver.posts_to("/quiet") == [], "silent mailboxes never notify"


# -- faults -----------------------------------------------------------------------
async def test_drop_everything_while_delta_still_shows_the_change(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url())
    world.emu.set_faults(seed=1, notificationDropRate=1.0)
    made = await g.users.by_user_id(world.alice).events.post(event("Lost", soon(1)))
    flushed = await world.emu.aflush_notifications()
    await asyncio.sleep(0.2)
    assert receiver.posts == [] and flushed["pending"] == 0
    assert world.emu.stats()["notifications"]["dropped"] == 1
    sync = Sync(g, world.alice, soon(0), soon(5))
    assert made.id in {e.id for e in await sync.round()}


async def test_duplicate_everything_sends_each_item_twice(world: World, receiver: Receiver) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url())
    world.emu.set_faults(seed=2, notificationDuplicateRate=1.0)
    made = await g.users.by_user_id(world.alice).events.post(event("Twice", soon(1)))
    await g.users.by_user_id(world.alice).events.by_event_id(made.id).delete()
    await world.emu.aflush_notifications()
    kinds = sorted(i["changeType"] for i in receiver.items())
    assert kinds == ["created", "created", "deleted", "deleted"]
    for post in receiver.posts:  # the copy comes in another POST
        kinds_in_post = [i["changeType"] for i in post.value]
        assert len(kinds_in_post) == len(set(kinds_in_post))
    stats = world.emu.stats()["notifications"]
    assert stats["duplicated"] == 2 and stats["sent"] == 4


async def test_reorder_shuffles_a_due_batch_deterministically(
    world: World, receiver: Receiver
) -> None:
    async def run() -> list[int]:
        world.emu.reset()
        world.emu.add_tenant(TENANT, CLIENT_ID, SECRET)
        world.emu.add_mailbox(TENANT, world.alice, "Alice Smith")
        receiver.posts.clear()
        g = world.client()
        await _subscribe(g, world.alice, receiver.url())
        world.emu.set_faults(seed=5, reorder=True, notificationDelaySeconds=[30, 30])
        ids = []
        for n in range(6):
            made = await g.users.by_user_id(world.alice).events.post(event(f"E{n}", soon(1, 8 + n)))
            ids.append(made.id)
        await world.emu.aclock_advance(60)
        await world.emu.aflush_notifications()
        (post,) = receiver.posts
        got = [i["resourceData"]["id"] for i in post.value]
        assert sorted(got) == sorted(ids)
        return [ids.index(x) for x in got]

    first = await run()
    assert first != sorted(first), "the batch is not in change order"
    assert await run() == first, "same seed, same order"


async def test_delay_is_honoured_on_the_virtual_clock(world: World, receiver: Receiver) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url())
    world.emu.set_faults(notificationDelaySeconds=[120, 120])
    await g.users.by_user_id(world.alice).events.post(event("Later", soon(1)))
    first = await world.emu.aflush_notifications()
    assert first["pending"] == 1 and receiver.posts == []
    due = _vtime(first["nextDue"])
    assert timedelta(seconds=115) < due - _vtime(first["now"]) <= timedelta(seconds=120)
    await world.emu.aclock_advance(100)
    assert (await world.emu.aflush_notifications())["sent"] == 0
    await world.emu.aclock_advance(25)
    assert (await world.emu.aflush_notifications())["pending"] == 0
    assert [i["changeType"] for i in receiver.items()] == ["created"]


async def test_a_failing_receiver_gets_retries_with_growing_gaps(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url("/flaky"))
    receiver.answer("/flaky", 500, 500, 500)
    await g.users.by_user_id(world.alice).events.post(event("Retry me", soon(1)))
    result = await world.emu.aflush_notifications()
    failed_at = [_vtime(result["now"])]
    gaps = []
    while result["pending"]:
        due = _vtime(result["nextDue"])
        gaps.append(due - failed_at[-1])
        clock = await world.emu.acontrol("GET", "clock")
        await world.emu.aclock_advance((due - _vtime(clock["now"])).total_seconds() + 0.5)
        result = await world.emu.aflush_notifications()
        failed_at.append(_vtime(result["now"]))
    assert len(receiver.posts_to("/flaky")) == 4, "three 500s, then 202"
    assert gaps[0] >= timedelta(seconds=10)
    assert gaps[1] > gaps[0] * 1.5 and gaps[2] > gaps[1] * 1.5, gaps
    stats = world.emu.stats()["notifications"]
    assert (stats["failed"], stats["retried"], stats["sent"]) == (3, 3, 1)
    assert len({p.body for p in receiver.posts_to("/flaky")}) == 1, "the same item each time"


async def test_a_receiver_down_for_four_hours_loses_the_notification(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    await _subscribe(g, world.alice, receiver.url("/down"), expires=_in(6))
    receiver.answer("/down", *([503] * 100))
    await g.users.by_user_id(world.alice).events.post(event("Gone", soon(1)))
    result = await world.emu.aflush_notifications()
    started = _vtime(result["now"])
    while result["pending"]:
        clock = await world.emu.acontrol("GET", "clock")
        ahead = (_vtime(result["nextDue"]) - _vtime(clock["now"])).total_seconds()
        await world.emu.aclock_advance(max(ahead, 0) + 0.5)
        result = await world.emu.aflush_notifications()
    attempts = len(receiver.posts_to("/down"))
    assert 8 <= attempts <= 20, attempts
    assert _vtime(result["now"]) - started >= timedelta(hours=4)
    stats = world.emu.stats()["notifications"]
    assert stats["dropped"] == 1 and stats["sent"] == 0 and stats["failed"] == attempts


# -- lifetime and lifecycle -------------------------------------------------------
async def test_expiry_without_renewal_stops_notifications(world: World, receiver: Receiver) -> None:
    g = world.client()
    sub = await _subscribe(g, world.alice, receiver.url(), expires=_shortly())  # raised to 45 min
    world.emu.clear_stats()
    await world.emu.aclock_advance(46 * 60)
    with pytest.raises(ODataError) as err:
        await g.subscriptions.by_subscription_id(sub.id).get()
    assert err.value.response_status_code == 404
    assert (await g.subscriptions.get()).value == []
    assert world.emu.stats()["subscriptionWrites"][TENANT]["expired"] == 1
    await g.users.by_user_id(world.alice).events.post(event("Unheard", soon(2)))
    await world.emu.aflush_notifications()
    assert receiver.posts == []


async def test_renewal_extends_via_sdk_and_batch(world: World, receiver: Receiver) -> None:
    g = world.client()
    sub = await _subscribe(g, world.alice, receiver.url(), expires=_shortly())
    renewed = await g.subscriptions.by_subscription_id(sub.id).patch(
        Subscription(expiration_date_time=_in(1))
    )
    assert abs(renewed.expiration_date_time - _in(1)) < timedelta(seconds=30)
    target = (world.emu.clock_now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    async with _raw(world) as http:
        answer = await http.post(
            "/$batch",
            json={
                "requests": [
                    {
                        "id": "1",
                        "method": "PATCH",
                        "url": f"/subscriptions/{sub.id}",
                        "headers": {"Content-Type": "application/json"},
                        "body": {"expirationDateTime": target},
                    },
                    {
                        "id": "2",
                        "method": "PATCH",
                        "url": "/subscriptions/not-a-subscription",
                        "headers": {"Content-Type": "application/json"},
                        "body": {"expirationDateTime": target},
                    },
                ]
            },
        )
        by_id = {r["id"]: r for r in answer.json()["responses"]}
        assert by_id["1"]["status"] == 200 and by_id["2"]["status"] == 404
        assert by_id["1"]["body"]["expirationDateTime"].startswith(target[:16])
        bad = await http.patch(
            f"/subscriptions/{sub.id}", json={"lifecycleNotificationUrl": receiver.url("/x")}
        )
        assert bad.status_code == 400
    await world.emu.aclock_advance(36 * 3600)  # past the first two expiries
    still = await g.subscriptions.by_subscription_id(sub.id).get()
    assert still.expiration_date_time == _vtime(by_id["1"]["body"]["expirationDateTime"])
    # a new notificationUrl is validated first, then used
    moved = await g.subscriptions.by_subscription_id(sub.id).patch(
        Subscription(notification_url=receiver.url("/moved"))
    )
    assert moved.notification_url == receiver.url("/moved")
    assert receiver.handshakes[-1].path == "/moved"
    await g.users.by_user_id(world.alice).events.post(event("Heard", soon(3)))
    await world.emu.aflush_notifications()
    (item,) = receiver.items("/moved")
    assert _vtime(item["subscriptionExpirationDateTime"]) == still.expiration_date_time


async def test_lifetime_beyond_10080_minutes_is_refused_on_the_virtual_clock(
    world: World, receiver: Receiver
) -> None:
    """Create and renew past the maximum fail with 400 ExtensionError (not capped),
    measured on the emulator's clock; up to the maximum is granted as asked."""
    g = world.client()
    url = receiver.url()
    await world.emu.aclock_advance(2 * 24 * 3600)  # Graph's clock is two days ahead
    vnow = world.emu.clock_now()
    longest = vnow + timedelta(minutes=10_080) - timedelta(seconds=30)
    sub = await _subscribe(g, world.alice, url, expires=longest)
    assert abs(sub.expiration_date_time - longest) < timedelta(seconds=1), "granted as asked"
    # eight real days would be refused on the real clock, not on Graph's
    assert _in(8) < vnow + timedelta(minutes=10_080)
    renewed = await g.subscriptions.by_subscription_id(sub.id).patch(
        Subscription(expiration_date_time=_in(8))
    )
    assert abs(renewed.expiration_date_time - _in(8)) < timedelta(seconds=30)

    beyond = world.emu.clock_now() + timedelta(minutes=10_080, seconds=90)
    with pytest.raises(ODataError) as err:
        await _subscribe(g, world.bob, url, expires=beyond)
    assert (err.value.response_status_code, err.value.error.code) == (400, "ExtensionError")
    assert (
        err.value.error.message
        == "Subscription expiration can only be 10080 minutes in the future."
    )
    with pytest.raises(ODataError) as err:
        await g.subscriptions.by_subscription_id(sub.id).patch(
            Subscription(expiration_date_time=beyond)
        )
    assert (err.value.response_status_code, err.value.error.code) == (400, "ExtensionError")
    kept = await g.subscriptions.by_subscription_id(sub.id).get()
    assert kept.expiration_date_time == renewed.expiration_date_time, (
        "a refused renewal changes nothing"
    )
    assert [s.resource for s in (await g.subscriptions.get()).value] == [
        f"/users/{world.alice}/events"
    ]


async def test_each_lifecycle_event_arrives_with_the_documented_shape(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    sub = await _subscribe(g, world.room1, receiver.url("/n"), lifecycle=receiver.url("/life"))
    bare = await _subscribe(g, world.alice, receiver.url("/bare"), state=None)
    events = ["missed", "reauthorizationRequired", "somethingNewFromGraph", "subscriptionRemoved"]
    for name in events:
        queued = await world.emu.alifecycle(sub.id, name)
        assert queued["url"] == receiver.url("/life")
    await world.emu.alifecycle(bare.id, "missed")
    await world.emu.aflush_notifications()
    items = receiver.items("/life")
    assert sorted(i["lifecycleEvent"] for i in items) == sorted(events)
    for item in items:
        assert set(item) == LIFECYCLE_KEYS
        assert item["subscriptionId"] == sub.id and item["tenantId"] == TENANT
        assert item["clientState"] == "secret-state"
        assert _vtime(item["subscriptionExpirationDateTime"]) == sub.expiration_date_time
    (fallback,) = receiver.items("/bare")
    assert fallback["lifecycleEvent"] == "missed" and fallback["clientState"] is None
    assert receiver.items("/n") == []
    with pytest.raises(ODataError) as err:  # subscriptionRemoved deleted it
        await g.subscriptions.by_subscription_id(sub.id).get()
    assert err.value.response_status_code == 404
    missing = world.emu.http.post(
        "/_emulator/subscriptions/nope/lifecycle", json={"lifecycleEvent": "missed"}
    )
    assert missing.status_code == 404
    await g.subscriptions.by_subscription_id(bare.id).reauthorize.post()  # 204


async def test_reauthorization_required_comes_before_expiry(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    sub = await _subscribe(
        g, world.alice, receiver.url("/n"), lifecycle=receiver.url("/life"), expires=_shortly()
    )
    await world.emu.aclock_advance(10 * 60)
    await world.emu.aflush_notifications()
    assert receiver.items("/life") == [], "not within 15 minutes of creation"
    await world.emu.aclock_advance(6 * 60)
    await world.emu.aflush_notifications()
    assert [i["lifecycleEvent"] for i in receiver.items("/life")] == ["reauthorizationRequired"]
    await g.subscriptions.by_subscription_id(sub.id).reauthorize.post()
    await world.emu.aclock_advance(10 * 60)
    await world.emu.aflush_notifications()
    assert len(receiver.items("/life")) == 1, "reauthorized: quiet for 15 minutes"
    await world.emu.aclock_advance(6 * 60)
    await world.emu.aflush_notifications()
    assert len(receiver.items("/life")) == 2


# -- limits -----------------------------------------------------------------------
async def test_subscription_writes_are_limited_per_app_per_tenant(
    world: World, receiver: Receiver
) -> None:
    g = world.client(retry=False)
    sub = await _subscribe(g, world.alice, receiver.url())  # write 1
    target = (world.emu.clock_now() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")

    def patch(n: int) -> dict[str, Any]:
        return {
            "id": str(n),
            "method": "PATCH",
            "url": f"/subscriptions/{sub.id}",
            "headers": {"Content-Type": "application/json"},
            "body": {"expirationDateTime": target},
        }

    async with _raw(world) as http:
        statuses: list[int] = []
        for start in range(0, 499, 20):  # writes 2..500
            batch = [patch(n) for n in range(start, min(start + 20, 499))]
            answer = await http.post("/$batch", json={"requests": batch})
            statuses += [r["status"] for r in answer.json()["responses"]]
        assert statuses == [200] * 499
        answer = await http.post("/$batch", json={"requests": [patch(0)]})
        (over,) = answer.json()["responses"]
        assert over["status"] == 429
        assert over["body"]["error"]["code"] == "TooManyRequests"
        retry_after = {k.lower(): v for k, v in over["headers"].items()}["retry-after"]
        assert 1 <= int(retry_after) <= 20
    with pytest.raises(ODataError) as err:
        await g.subscriptions.by_subscription_id(sub.id).delete()
    assert err.value.response_status_code == 429
    # stats see every write the app attempted (inner batch requests one by one, the
    # refused ones too), in the busiest real 20 s window, per tenant
    writes = world.emu.stats()["subscriptionWrites"][TENANT]
    assert writes["total"] == 502 and writes["peakPer20Seconds"] == 502
    assert writes["expired"] == 0
    # reauthorize has its own budget
    await g.subscriptions.by_subscription_id(sub.id).reauthorize.post()


# -- slow endpoints ---------------------------------------------------------------
async def test_a_slow_endpoint_gets_new_notifications_ten_minutes_late(
    world: World, receiver: Receiver
) -> None:
    g = world.client()
    # two URLs, one endpoint (throttling ignores the query string)
    for who in (world.alice, world.bob):
        await _subscribe(g, who, receiver.url("/ep", f"who={who}"))
    receiver.slow["/ep"] = deque([3.3, 3.3])  # both first POSTs outlast the 3 s allowance
    for who in (world.alice, world.bob):
        await g.users.by_user_id(who).events.post(event("Slow", soon(1)))
    first = await world.emu.aflush_notifications()
    assert first["failed"] + world.emu.stats()["notifications"]["failed"] >= 2
    for n in range(8):  # 8 quick answers: 2 of 10 answers were slow (20 % > 10 %)
        await g.users.by_user_id(world.alice).events.post(event(f"Quick {n}", soon(2, 8 + n)))
        await world.emu.aflush_notifications()
    late = await g.users.by_user_id(world.bob).events.post(event("Throttled", soon(3)))
    assert (await world.emu.aflush_notifications())["pending"] == 3, "2 retries + the new one"

    def delivered() -> bool:
        return late.id in {i["resourceData"]["id"] for i in receiver.items("/ep")}

    await world.emu.aclock_advance(9 * 60)  # the retries go, the new one waits
    assert (await world.emu.aflush_notifications())["pending"] == 1
    assert not delivered(), "a slow endpoint gets new notifications 10 minutes late"
    await world.emu.aclock_advance(60 + 1)
    assert (await world.emu.aflush_notifications())["pending"] == 0
    assert delivered()


def test_endpoint_states_follow_the_documented_thresholds() -> None:
    from emulators.graph.notifications import (
        FIRST_TIMEOUT,
        MIN_SAMPLE,
        RETRY_TIMEOUT,
        EndpointHealth,
        backoff,
    )

    t0 = datetime(2030, 1, 1, tzinfo=UTC)
    h = EndpointHealth()
    for _ in range(MIN_SAMPLE - 1):
        h.record("e", t0, 0.1, timed_out=False, timeout=FIRST_TIMEOUT)
    h.record("e", t0, 3.0, timed_out=True, timeout=FIRST_TIMEOUT)
    assert h.state("e", t0) == "ok", "10 % is not more than 10 %"
    h.record("e", t0, 3.0, timed_out=True, timeout=FIRST_TIMEOUT)
    assert h.state("e", t0) == "slow"
    assert h.state("other", t0) == "ok"
    for _ in range(2):
        h.record("e", t0, 10.0, timed_out=True, timeout=RETRY_TIMEOUT)
    assert h.state("e", t0) == "drop", "2 of 13 answers outlasted the 10 s retry allowance"
    assert h.state("e", t0 + timedelta(minutes=10)) == "ok", "the window moved on"
    few = EndpointHealth()
    for _ in range(MIN_SAMPLE - 1):
        few.record("e", t0, 12.0, timed_out=True, timeout=RETRY_TIMEOUT)
    assert few.state("e", t0) == "ok", "too few answers to judge"
    gaps = [backoff(n).total_seconds() for n in range(1, 12)]
    assert gaps[:4] == [15, 30, 60, 120] and max(gaps) == 1800


async def test_the_apps_requested_lifetime_survives_clock_skew(
    world: World, receiver: Receiver
) -> None:
    """Our clock 30 minutes ahead of Graph's: asking for the full 10,080 minutes is
    refused, the app's capped request (with its safety margin) is granted, on create
    and on renew."""
    from bookker_sync.graph.errors import GraphError
    from bookker_sync.graph.subscriptions import LONGEST_REQUEST, SubscriptionsApi, capped_expiry
    from bookker_sync.graph.transport import GraphTransport
    from bookker_sync.settings import load_settings
    from bookker_sync.sync.subscriptions.ensure import expiry

    api = SubscriptionsApi(GraphTransport(world.client(), max_concurrency=4, max_retries=0))
    ours = world.emu.clock_now() + timedelta(minutes=30)
    full = ours + timedelta(minutes=10_080)
    urls = {
        "notification_url": receiver.url("/api/graph/notifications"),
        "lifecycle_url": receiver.url("/api/graph/lifecycle"),
        "client_state": "c" * 64,
    }
    with pytest.raises(GraphError) as err:
        await api.create(world.room1, expires_at=full, **urls)
    assert (err.value.status, err.value.code) == (400, "ExtensionError")
    asked = capped_expiry(ours, full)
    assert asked == ours + LONGEST_REQUEST < full
    # what the app asks for with its default SUBSCRIPTION_LIFETIME_MINUTES (10080)
    settings = load_settings(
        {
            "GRAPH_CLIENT_ID": CLIENT_ID,
            "GRAPH_CLIENT_SECRET": SECRET,
            "WEBHOOK_BASE_URL": "https://localhost/api",
            "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        }
    )
    assert settings.sync.subscription_lifetime_minutes == 10_080
    assert expiry(SimpleNamespace(settings=settings), ours) == asked  # type: ignore[arg-type]
    created = await api.create(world.room1, expires_at=asked, **urls)
    assert abs(created.expires_at - asked) < timedelta(seconds=1)
    await world.emu.aclock_advance(3 * 24 * 3600)
    ours = world.emu.clock_now() + timedelta(minutes=30)
    with pytest.raises(GraphError):
        await api.renew(created.id, ours + timedelta(minutes=10_080))
    renewed = await api.renew(created.id, capped_expiry(ours, ours + timedelta(minutes=10_080)))
    assert abs(renewed.expires_at - (ours + LONGEST_REQUEST)) < timedelta(seconds=1)


async def test_the_apps_own_subscription_calls_work(world: World, receiver: Receiver) -> None:
    """bookker_sync's create (POST) and renewal (PATCH inside $batch), as the app sends them."""
    from bookker_sync.graph.batch import BatchItem, send_batch
    from bookker_sync.graph.subscriptions import GATE, SubscriptionsApi
    from bookker_sync.graph.transport import GraphTransport

    transport = GraphTransport(world.client(), max_concurrency=4, max_retries=2)
    api = SubscriptionsApi(transport)
    created = await api.create(
        world.room1,
        notification_url=receiver.url("/api/graph/notifications"),
        lifecycle_url=receiver.url("/api/graph/lifecycle"),
        client_state="c" * 64,
        expires_at=_in(7) - timedelta(minutes=1),
    )
    assert created.resource == f"/users/{world.room1}/events"
    assert [s.id for s in await api.list_all()] == [created.id]
    later = (_in(6)).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    results = await send_batch(
        transport,
        GATE,
        [BatchItem(id="0", method="PATCH", url=f"/subscriptions/{created.id}",
                   body={"expirationDateTime": later})],
    )  # fmt: skip
    assert results[0].ok and results[0].body["expirationDateTime"].startswith(later[:19])
    await api.reauthorize(created.id)
    assert (await api.get(created.id)).expires_at == _vtime(results[0].body["expirationDateTime"])
    await api.delete(created.id)
    assert await api.get(created.id) is None
    await api.delete(created.id)  # already gone: the app treats 404 as done
