"""Bookings carry what Outlook events carry (attendees, body, Teams meeting, ...), and a
tenant's data can be read, removed and erased, through the real stack."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

from azure.data.tables.aio import TableServiceClient

from bookker_sync.storage.chunking import decode_document
from tests.e2e.test_events import Receiver, feed, new_secret, push_to, settle, types
from tests.e2e.test_inbound_sync import OPEN, M, sync
from tests.support.cli import cli_env, run_cli
from tests.support.functions_host import Stack, Tenant, wait_for
from tests.support.outlook import Outlook


def iso(hours: int) -> str:
    return (M + timedelta(hours=hours)).isoformat()


def test_a_teams_meeting_booked_in_bookker_keeps_its_link_and_people_across_a_patch(
    stack: Stack,
) -> None:
    t = stack.new_tenant()
    alice = t.add_user("alice")
    bob = t.address("bob")
    stack.emulator.add_mailbox(t.graph_tenant_id, bob, "Bob", "user")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": iso(9), "end": iso(10),
        "subject": "Design review", "attendees": [bob],
        "body": {"contentType": "text", "content": "Agenda: the new wing"},
        "isOnlineMeeting": True, "sensitivity": "normal", "showAs": "busy",
        "categories": ["Blue"], "reminderMinutesBeforeStart": 10,
    })  # fmt: skip
    assert r.status_code == 201, r.text
    made = r.json()
    link = made["onlineMeeting"]["joinUrl"]
    assert link.startswith("https://teams.microsoft.com/l/meetup-join/")
    assert made["attendees"] == [bob] and made["isOnlineMeeting"] is True
    assert made["body"] == {"contentType": "text", "content": "Agenda: the new wing"}
    assert made["categories"] == ["Blue"] and made["reminderMinutesBeforeStart"] == 10
    # A Bookker PATCH that names only the subject keeps the Teams link and the people.
    r = stack.api("PATCH", f"tenants/{t.id}/bookings/{made['id']}", {"subject": "Review (v2)"})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["subject"] == "Review (v2)"
    assert patched["onlineMeeting"]["joinUrl"] == link and patched["attendees"] == [bob]
    outlook = Outlook(stack, t)
    organizer = outlook.get(alice, made["outlook"]["organizerEventId"])
    assert organizer["onlineMeeting"]["joinUrl"] == link
    assert {a["emailAddress"]["address"] for a in organizer["attendees"]} == {bob, room}
    assert organizer["body"]["content"] == "Agenda: the new wing"
    # Bob got the invitation with the same link.
    [bobs] = outlook.events(bob)
    assert bobs["onlineMeeting"]["joinUrl"] == link
    # ?expand=outlook: the organizer's event as stored and, once synced, the room's copy.
    sync(stack, t.id, room)

    def expanded() -> dict[str, Any] | None:
        r = stack.api("GET", f"tenants/{t.id}/bookings/{made['id']}?expand=outlook")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body if body["roomEvent"] else None

    full = wait_for(expanded, timeout=30)
    assert full["outlookEvent"]["onlineMeeting"]["joinUrl"] == link
    assert full["roomEvent"]["responseStatus"]["response"] == "accepted"
    assert full["sync"] == {"state": "synced", "roomResponse": "accepted",
                            "lastSyncedAt": full["sync"]["lastSyncedAt"]}  # fmt: skip
    assert full["sync"]["lastSyncedAt"]
    plain = stack.api("GET", f"tenants/{t.id}/bookings/{made['id']}").json()
    assert "outlookEvent" not in plain and "roomEvent" not in plain
    assert stack.api("GET", f"tenants/{t.id}/bookings/{made['id']}?expand=x").status_code == 400
    # A PATCH naming attendees replaces the people, and the room stays invited.
    r = stack.api("PATCH", f"tenants/{t.id}/bookings/{made['id']}", {"attendees": []})
    assert r.status_code == 200 and r.json()["attendees"] == []
    organizer = outlook.get(alice, made["outlook"]["organizerEventId"])
    assert [a["emailAddress"]["address"] for a in organizer["attendees"]] == [room]
    assert organizer["onlineMeeting"]["joinUrl"] == link


def test_outlook_bookings_show_people_body_and_link_but_private_ones_do_not(
    stack: Stack,
) -> None:
    t = stack.new_tenant()
    alice = t.add_user("alice")
    bob = t.address("bob")
    stack.emulator.add_mailbox(t.graph_tenant_id, bob, "Bob", "user")
    room = t.add_space("room1", rules=OPEN, policy={"deleteComments": False})
    assert room is not None
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    for hour, sensitivity in ((9, "normal"), (11, "private")):
        event = outlook.book_room(alice, room, M + timedelta(hours=hour),
                                  M + timedelta(hours=hour + 1), f"{sensitivity} one")  # fmt: skip
        outlook.call("PATCH", f"users/{alice}/events/{event['id']}", {
            "attendees": [{"emailAddress": {"address": room}, "type": "resource"},
                          {"emailAddress": {"address": bob}, "type": "required"}],
            "body": {"contentType": "text", "content": f"Secret plans {hour}"},
            "isOnlineMeeting": True, "sensitivity": sensitivity,
        })  # fmt: skip
    settle(stack, t.id, room, ["booking.created", "booking.created"])
    public, private = t.bookings()
    assert public["attendees"] == [bob] and public["onlineMeeting"]["joinUrl"]
    assert "Secret plans 9" in public["bodyPreview"]
    assert private["sensitivity"] == "private"
    for hidden in ("attendees", "bodyPreview", "onlineMeeting", "body"):
        assert hidden not in private
    pushed = [e["data"]["booking"] for e in feed(stack, t.id)]
    assert "attendees" not in next(b for b in pushed if b["id"] == private["id"])


def test_spaces_and_users_are_read_listed_and_removed(stack: Stack) -> None:
    t = stack.new_tenant()
    t.add_user("alice")
    t.add_user("bob")
    room = t.add_space("room1", rules=OPEN)
    t.add_space("desk7", room=False)
    assert [s["id"] for s in stack.api("GET", f"tenants/{t.id}/spaces").json()["value"]] == [
        "desk7", "room1"
    ]  # fmt: skip
    assert stack.api("GET", f"tenants/{t.id}/spaces/room1").json()["resourceEmail"] == room
    assert [u["id"] for u in stack.api("GET", f"tenants/{t.id}/users").json()["value"]] == [
        "alice", "bob"
    ]  # fmt: skip
    tenant = stack.api("GET", f"tenants/{t.id}").json()
    assert tenant["id"] == t.id and tenant["mode"] == "bidirectional"
    assert stack.api("DELETE", f"tenants/{t.id}/users/bob").status_code == 204
    assert stack.api("GET", f"tenants/{t.id}/users/bob").status_code == 404
    assert stack.api("DELETE", f"tenants/{t.id}/users/bob").status_code == 404
    # A space with a future booking is kept unless forced; forced, the booking is
    # cancelled in Bookker and the room declines it in Outlook, with the reason.
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": iso(9), "end": iso(10),
    })  # fmt: skip
    assert r.status_code == 201, r.text
    booking = r.json()
    r = stack.api("DELETE", f"tenants/{t.id}/spaces/room1")
    assert r.status_code == 409 and r.json()["error"]["bookings"] == [booking["id"]]
    assert stack.api("DELETE", f"tenants/{t.id}/spaces/room1?force=maybe").status_code == 400
    r = stack.api("DELETE", f"tenants/{t.id}/spaces/room1?force=true")
    assert r.status_code == 204, r.text
    assert stack.api("GET", f"tenants/{t.id}/spaces/room1").status_code == 404
    gone = stack.api("GET", f"tenants/{t.id}/bookings/{booking['id']}").json()
    assert gone["status"] == "cancelled"
    assert gone["statusReason"] == "The space was removed from Bookker"
    cancelled = [e for e in feed(stack, t.id) if e["type"].endswith("booking.cancelled")]
    assert cancelled and cancelled[0]["data"]["origin"] == "system"
    assert stack.api("DELETE", f"tenants/{t.id}/spaces/desk7").status_code == 204


def tenant_rows(stack: Stack, tenant_id: str) -> list[str]:
    """Every row of any table in the storage account that names the tenant: in a key or
    anywhere in its (decoded) document."""

    async def scan() -> list[str]:
        service = TableServiceClient.from_connection_string(stack.azurite.connection_string)
        found: list[str] = []
        async with service:
            async for table in service.list_tables():
                client = service.get_table_client(table.name)
                async for entity in client.list_entities():
                    try:
                        text = json.dumps(decode_document(entity))
                    except Exception:
                        text = str(dict(entity))
                    keys = f"{entity['PartitionKey']}/{entity['RowKey']}"
                    if tenant_id in keys or tenant_id in text:
                        found.append(f"{table.name}: {keys}")
        return found

    return asyncio.run(scan())


def populated_tenant(stack: Stack, receiver: Receiver) -> tuple[Tenant, str]:
    t = stack.new_tenant()
    push_to(stack, t, receiver.url, new_secret())
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    assert room is not None
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "1:1")
    outlook.book_room(alice, room, M + timedelta(hours=20), M + timedelta(hours=21), "late")
    settle(stack, t.id, room, ["booking.created", "booking.rejected"])
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "start": iso(13), "end": iso(14),
    })  # fmt: skip
    assert r.status_code == 201, r.text
    wait_for(lambda: len(receiver.posts) >= 2, timeout=30)
    # The room's subscription is made by the lifecycle queue: it may still be on its way.
    wait_for(lambda: Outlook(stack, t).call("GET", "subscriptions")["value"], timeout=30)
    return t, room


def test_offboarding_leaves_no_row_of_the_tenant_and_no_subscription(stack: Stack) -> None:
    receiver = Receiver()
    try:
        t, _ = populated_tenant(stack, receiver)
        other, _ = populated_tenant(stack, receiver)
    finally:
        receiver.stop()
    assert tenant_rows(stack, t.id)
    r = stack.api("DELETE", f"tenants/{t.id}")
    assert r.status_code == 400 and "confirm" in r.json()["error"]["message"]
    r = stack.api("DELETE", f"tenants/{t.id}?confirm={other.id}")
    assert r.status_code == 400
    r = stack.api("DELETE", f"tenants/{t.id}?confirm={t.id}")
    assert r.status_code == 200, r.text
    assert r.json()["subscriptionsDeleted"] == 1
    assert tenant_rows(stack, t.id) == []
    assert Outlook(stack, t).call("GET", "subscriptions")["value"] == []
    assert stack.api("GET", f"tenants/{t.id}").status_code == 404
    # The other tenant is untouched.
    assert types(feed(stack, other.id)) == ["booking.created", "booking.rejected"]
    assert len(other.bookings()) == 2
    assert Outlook(stack, other).call("GET", "subscriptions")["value"]


def test_cli_offboard_with_a_progress_bar(stack: Stack, tmp_path: Path) -> None:
    receiver = Receiver()
    try:
        t, _ = populated_tenant(stack, receiver)
    finally:
        receiver.stop()
    env = cli_env(stack)
    refused = run_cli("offboard", t.id, env=env, cwd=tmp_path)
    assert refused.code == 2 and "--confirm" in refused.err
    done = run_cli("offboard", t.id, "--confirm", t.id, env=env, cwd=tmp_path)
    assert done.code == 0, done.err
    assert "offboarded" in done.out and "bookings" in done.out
    assert tenant_rows(stack, t.id) == []
    assert Outlook(stack, t).call("GET", "subscriptions")["value"] == []
