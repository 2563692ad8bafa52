"""Every room decline reaches the room's recent declines (status page / CLI), whatever
decided it: an Outlook request Bookker refused, a release (system action), and Bookker
cancelling a booking that was made in Outlook."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from tests.e2e.test_inbound_sync import OPEN, M, sync
from tests.support.cli import cli_env, run_cli
from tests.support.functions_host import Stack, wait_for
from tests.support.outlook import Outlook


def recent_declines(stack: Stack, tenant_id: str, tmp_path: Path) -> list[str]:
    result = run_cli("status", tenant_id, "--json", env=cli_env(stack), cwd=tmp_path)
    assert result.code == 0, result.err
    rooms = json.loads(result.out)["tenants"][0]["rooms"]
    return [d["reason"] for room in rooms for d in room["recentDeclines"]]


def test_inbound_release_and_bookker_cancellation_declines_are_all_recorded(
    stack: Stack, tmp_path: Path
):
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    # 1. inbound: Outlook request outside opening hours → declined by Bookker's rules
    outlook.book_room(alice, room, M + timedelta(hours=20), M + timedelta(hours=21), "late")
    # 2. an Outlook booking that Bookker will cancel through the API
    outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "ok")
    sync(stack, t.id, room)
    [from_outlook] = t.bookings(status="confirmed")
    r = stack.api("DELETE", f"tenants/{t.id}/bookings/{from_outlook['id']}")
    assert r.status_code == 204, r.text
    # 3. a Bookker booking released (system action): the room declines its copy
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice",
        "start": (M + timedelta(hours=13)).isoformat(), "end": (M + timedelta(hours=14)).isoformat(),
    })  # fmt: skip
    assert r.status_code == 201, r.text
    sync(stack, t.id, room)  # the room copy is recorded
    r = stack.api(
        "POST", f"tenants/{t.id}/bookings/{r.json()['id']}/release", {"reason": "Nobody came"}
    )
    assert r.status_code == 202, r.text

    def all_three() -> list[str] | None:
        reasons = recent_declines(stack, t.id, tmp_path)
        wanted = ("is open 08:00", "Cancelled in Bookker", "Nobody came")
        found = all(any(w.lower() in r.lower() for r in reasons) for w in wanted)
        return reasons if found else None

    try:
        wait_for(all_three, timeout=30)
    except AssertionError:
        raise AssertionError(recent_declines(stack, t.id, tmp_path)) from None


def test_declines_and_reverts_say_whose_meeting(stack: Stack, tmp_path: Path):
    """Each decline names the organizer and the meeting (subject, times); a move put
    back to the booked times is listed too, with the times the organizer asked for."""
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room1", rules=OPEN)
    outlook = Outlook(stack, t)
    sync(stack, t.id, room)
    late = (M + timedelta(hours=20), M + timedelta(hours=21))
    outlook.book_room(alice, room, *late, "Late review")
    event = outlook.book_room(alice, room, M + timedelta(hours=9), M + timedelta(hours=10), "Sync")
    sync(stack, t.id, room)
    assert len(t.bookings(status="confirmed")) == 1
    moved = (M + timedelta(hours=19), M + timedelta(hours=20))  # after 18:00: not allowed
    outlook.move(alice, event["id"], *moved)
    sync(stack, t.id, room)
    result = run_cli("status", t.id, "--json", env=cli_env(stack), cwd=tmp_path)
    [room_status] = json.loads(result.out)["tenants"][0]["rooms"]
    by_kind = {d["kind"]: d for d in room_status["recentDeclines"]}
    declined, reverted = by_kind["decline"], by_kind["revert"]
    assert alice in declined["organizer"] and declined["subject"]
    assert (declined["start"][:16], declined["end"][:16]) == tuple(
        m.isoformat()[:16] for m in late
    ), declined
    assert alice in reverted["organizer"] and reverted["subject"] == "Sync", reverted
    assert (reverted["start"][:16], reverted["end"][:16]) == tuple(
        m.isoformat()[:16] for m in moved
    ), reverted
    assert "is open 08:00" in reverted["reason"], reverted
    # The CLI's table says the same for people.
    table = run_cli("status", t.id, env=cli_env(stack), cwd=tmp_path).out
    assert "Recent declines and reverts" in table and "moved back" in table
    assert "declined" in table and alice in table
