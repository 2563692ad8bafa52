"""Errors a person can act on: an address with no mailbox is a 422 naming it (not a 502
from deep inside Graph), a bidirectional space is refused when its room mailbox doesn't
exist (checked through Graph when it is PUT, not failing later in the background), a
rule violation is a sentence naming each rule, and validation messages carry no
library prefixes ("Value error, ...")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.functions_host import Stack


def _slot(hours: int = 1) -> dict[str, str]:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(hours=hours)).isoformat()}


def test_space_put_checks_its_room_mailbox_exists(stack: Stack) -> None:
    t = stack.new_tenant()
    room = t.address("atrium")
    path = f"tenants/{t.id}/spaces/atrium"
    r = stack.api("PUT", path, {"name": "Atrium", "resourceEmail": room})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "MailboxNotFound" and room in error["message"], error
    # Nothing was stored: once the room exists, the same PUT creates the space.
    stack.emulator.add_mailbox(t.graph_tenant_id, room, "Atrium", "room")
    r = stack.api("PUT", path, {"name": "Atrium", "resourceEmail": room})
    assert r.status_code == 201, r.text


def test_unidirectional_space_needs_no_room_mailbox(stack: Stack) -> None:
    t = stack.new_tenant("unidirectional")
    r = stack.api("PUT", f"tenants/{t.id}/spaces/desk-7",
                  {"name": "Desk 7", "resourceEmail": t.address("desk-7")})  # fmt: skip
    assert r.status_code == 201, r.text


def test_booking_for_a_user_without_a_mailbox_is_a_422_naming_it(stack: Stack) -> None:
    t = stack.new_tenant()
    t.add_space("focus")
    email = t.add_user("carol", mailbox=False)  # a Bookker user, no mailbox in Graph
    r = stack.api("POST", f"tenants/{t.id}/bookings",
                  {"spaceId": "focus", "userId": "carol", **_slot()})  # fmt: skip
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == "MailboxNotFound", error
    assert f"mailbox {email} not found" in error["message"], error
    assert t.bookings() == []


def test_a_rule_violation_reads_as_a_sentence_naming_each_rule(stack: Stack) -> None:
    t = stack.new_tenant()
    t.add_space("focus", rules={"maxMinutes": 60})
    t.add_user("alice", rules={"maxMinutesPerBooking": 90})
    r = stack.api("POST", f"tenants/{t.id}/bookings",
                  {"spaceId": "focus", "userId": "alice", **_slot(hours=2)})  # fmt: skip
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    start = "The booking breaks 2 rules (maxMinutes, maxMinutesPerBooking). "
    assert message.startswith(start), message
    assert "maxMinutes: " in message and "maxMinutesPerBooking: " in message, message
    assert "at most 60 minutes" in message and message.endswith("."), message
    assert "breaks maxMinutes" not in message


def test_validation_messages_have_no_library_prefix(stack: Stack) -> None:
    t = stack.new_tenant()
    r = stack.api("PUT", f"tenants/{t.id}/spaces/x",
                  {"name": "X", "rules": {"timeZone": "Mars/Olympus"}})  # fmt: skip
    assert r.status_code == 400, r.text
    body = r.json()
    assert "rules.timeZone: unknown time zone 'Mars/Olympus'" in body["error"]["message"], body
    assert "Value error" not in r.text, body
