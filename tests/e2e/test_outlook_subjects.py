"""A booking made in Outlook keeps the organizer's subject (not the room copy's, which
Exchange replaces with the organizer's name), follows later renames, and a private
meeting stays private: through the stack (API + emulator + host), syncs by hand."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.repositories import Repositories
from tests.e2e.test_arbitration import faults, next_monday, sync
from tests.support.functions_host import Stack, Tenant
from tests.support.outlook import Outlook


def organizer_reads(stack: Stack, mailbox: str) -> int:
    """Graph reads of the organizer's events (by id, or by iCalUId)."""
    return sum(
        row["count"] for row in stack.emulator.stats()["requests"]
        if row["method"] == "GET" and (row.get("mailbox") or "").lower() == mailbox
        and row["route"] in ("/users/{id}/events", "/users/{id}/events/{eventId}")
    )  # fmt: skip


def meeting(start: Any, subject: str, room: str, **extra: Any) -> dict[str, Any]:
    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
                "timeZone": "UTC"},
        "attendees": [{"emailAddress": {"address": room}, "type": "resource"}],
        **extra,
    }  # fmt: skip


def stored_text(stack: Stack, t: Tenant) -> str:
    """Every booking record of the tenant as stored (JSON)."""

    async def read() -> str:
        clients = build_clients(StorageSettings(connection_string=stack.azurite.connection_string))
        try:
            records = await Repositories(clients.tables).bookings.list(t.id)
            return "\n".join(r.model_dump_json() for r in records)
        finally:
            await clients.close()

    return asyncio.run(read())


def test_the_organizers_subject_is_kept_and_follows_renames(stack: Stack) -> None:
    t = stack.new_tenant()
    bob = t.add_user("bob")
    room = t.add_space("room1")
    assert room is not None
    outlook = Outlook(stack, t)
    start = next_monday(stack) + timedelta(hours=9)
    with faults(stack, silentMailboxes=[room]):
        sync(stack, t.id, room)
        event = outlook.call("POST", f"users/{bob}/events", meeting(start, "Quarterly plan", room))
        [copy] = outlook.events(room)
        assert copy["subject"] != "Quarterly plan"  # the room shows the organizer's name
        sync(stack, t.id, room)
        [booking] = t.bookings()
        assert booking["source"] == "outlook" and booking["subject"] == "Quarterly plan"
        sync(stack, t.id, room)
        # once per booking, not per sync: nothing changed, nothing is read
        before = organizer_reads(stack, bob)
        sync(stack, t.id, room)
        sync(stack, t.id, room)
        assert organizer_reads(stack, bob) == before
        # a rename in Outlook reaches Bookker (one read: the room's copy changed version)
        outlook.call("PATCH", f"users/{bob}/events/{event['id']}", {"subject": "Plan v2"})
        sync(stack, t.id, room)
        [booking] = t.bookings()
        assert booking["subject"] == "Plan v2"
        assert organizer_reads(stack, bob) == before + 1


def test_a_private_meeting_stays_private_in_bookker(stack: Stack) -> None:
    t = stack.new_tenant()
    bob = t.add_user("bob")
    room = t.add_space("room1", policy={"deleteSubject": False})  # the room keeps subjects
    assert room is not None
    outlook = Outlook(stack, t)
    start = next_monday(stack) + timedelta(hours=9)
    with faults(stack, silentMailboxes=[room]):
        sync(stack, t.id, room)
        outlook.call("POST", f"users/{bob}/events",
                     meeting(start, "Layoffs round 2", room, sensitivity="private"))  # fmt: skip
        later = outlook.call("POST", f"users/{bob}/events",
                             meeting(start + timedelta(hours=2), "Team lunch", room))  # fmt: skip
        sync(stack, t.id, room)
        subjects = sorted(b["subject"] for b in t.bookings())
        assert subjects == ["Private meeting", "Team lunch"]
        # made private afterwards: the subject goes too
        outlook.call("PATCH", f"users/{bob}/events/{later['id']}",
                     {"sensitivity": "private", "subject": "Lunch with the candidate"})  # fmt: skip
        sync(stack, t.id, room)
        assert [b["subject"] for b in t.bookings()] == ["Private meeting", "Private meeting"]
        listed = stack.api("GET", f"tenants/{t.id}/bookings").text
        page = stack.api("GET", "status", params={"tenant": t.id}).text
        stored = stored_text(stack, t)
        for secret in ("Layoffs", "candidate"):
            assert secret not in listed and secret not in page and secret not in stored
