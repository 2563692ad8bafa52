"""Events told to Bookker, the pure parts: ids from decisions, data, push back-off,
push destinations (no SSRF), the feed's cursor, Outlook fields and the booking view."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.domain.events import (
    RETRY_FOR,
    EventFacts,
    EventType,
    Origin,
    event_data,
    event_id,
    gives_up,
    retry_delay,
)
from bookker_sync.domain.models import Booking, OutlookRef, Violation
from bookker_sync.domain.outlook_fields import Body, OutlookFields, Sensitivity
from bookker_sync.graph.event_json import fields_patch, outlook_view
from bookker_sync.storage.repositories import BookingRecord
from bookker_sync.sync.booking_view import booking_json
from bookker_sync.sync.errors import BadRequestError
from bookker_sync.sync.events.destination import (
    UnsafeDestinationError,
    allowed_address,
    parse_destination,
    resolve_safe,
)
from bookker_sync.sync.events.feed import decode_cursor, encode_cursor, parse_limit

T0 = datetime(2030, 3, 4, 10, tzinfo=UTC)


def facts(**changes: object) -> EventFacts:
    base: dict[str, object] = {
        "tenant_id": "t", "type": EventType.BOOKING_CREATED, "origin": Origin.OUTLOOK,
        "key": "created", "booking_id": "b1",
    }  # fmt: skip
    base.update(changes)
    return EventFacts(**base)  # type: ignore[arg-type]


def test_the_same_decision_has_the_same_id_and_any_other_another() -> None:
    assert event_id(facts()) == event_id(facts(reason="said differently"))
    others = [
        facts(tenant_id="u"), facts(type=EventType.BOOKING_DECLINED), facts(booking_id="b2"),
        facts(key="v2"),
    ]  # fmt: skip
    assert len({event_id(facts()), *(event_id(f) for f in others)}) == 5


def test_event_data_carries_origin_booking_reason_violations_and_extras() -> None:
    data = event_data(facts(
        booking={"id": "b1"}, reason="Declined by Bookker: closed",
        violations=(Violation(rule="openingHours", message="closed"),),
        extra={"organizer": "a@x.test"},
    ))  # fmt: skip
    assert data == {
        "origin": "outlook", "booking": {"id": "b1"}, "reason": "Declined by Bookker: closed",
        "violations": [{"rule": "openingHours", "message": "closed"}],
        "organizer": "a@x.test",
    }  # fmt: skip
    assert event_data(facts(origin=Origin.SYSTEM)) == {"origin": "system"}
    assert EventType.CONSENT_REQUIRED.cloud_type == "com.bookker.sync.tenant.consent_required"


@given(st.integers(min_value=1, max_value=200))
def test_back_off_grows_and_is_capped(attempts: int) -> None:
    assert retry_delay(attempts) >= retry_delay(max(attempts - 1, 1))
    assert timedelta(seconds=30) <= retry_delay(attempts) <= timedelta(hours=2)


def test_delivery_is_given_up_after_24_hours_of_failures() -> None:
    assert not gives_up(T0, T0 + RETRY_FOR - timedelta(seconds=1))
    assert gives_up(T0, T0 + RETRY_FOR)
    # Tries within the 24 h: enough of them, spread out.
    spent, tries = timedelta(0), 0
    while spent < RETRY_FOR:
        tries += 1
        spent += retry_delay(tries)
    assert 10 <= tries <= 30


@pytest.mark.parametrize(
    ("url", "local", "why"),
    [
        ("http://bookker.example.com/h", False, "https"),
        ("http://127.0.0.1:8080/h", False, "local stack"),
        ("http://localhost:8080/h", False, "local stack"),
        ("http://10.0.0.1/h", True, "https"),
        ("ftp://bookker.example.com/h", False, "https"),
        ("https://u:p@bookker.example.com/h", False, "user info"),
        ("https:///nohost", False, "no host"),
        ("https://bookker.example.com/h#frag", False, "fragment"),
        ("https://bookker.example.com:99999/h", False, "valid URL"),
    ],
)
def test_refused_push_url_forms(url: str, local: bool, why: str) -> None:
    with pytest.raises(UnsafeDestinationError, match=why):
        parse_destination(url, allow_local=local)


def test_allowed_push_url_forms() -> None:
    d = parse_destination("https://Hooks.Example.com/in?x=1", allow_local=False)
    assert (d.host, d.port, d.target) == ("hooks.example.com", 443, "/in?x=1")
    local = parse_destination("http://127.0.0.1:9000/h", allow_local=True)
    assert local.pinned_url(ipaddress.ip_address("127.0.0.1")) == "http://127.0.0.1:9000/h"
    v6 = parse_destination("https://[2001:db8::1]:8443/h", allow_local=False)
    assert v6.pinned_url(ipaddress.ip_address("2001:4860::1")) == "https://[2001:4860::1]:8443/h"


@pytest.mark.parametrize(
    "address",
    ["10.1.2.3", "172.16.0.1", "192.168.1.1", "127.0.0.1", "169.254.169.254", "0.0.0.0",
     "100.64.0.1", "224.0.0.1", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1", "240.0.0.1"],
)  # fmt: skip
def test_private_loopback_link_local_and_reserved_addresses_are_refused(address: str) -> None:
    d = parse_destination("https://hooks.example.com/h", allow_local=True)
    assert not allowed_address(ipaddress.ip_address(address), d, allow_local=True)


def test_public_addresses_and_local_loopback_are_allowed() -> None:
    d = parse_destination("https://hooks.example.com/h", allow_local=False)
    assert allowed_address(ipaddress.ip_address("20.50.2.10"), d, allow_local=False)
    local = parse_destination("http://localhost:9000/h", allow_local=True)
    assert allowed_address(ipaddress.ip_address("127.0.0.1"), local, allow_local=True)
    assert not allowed_address(ipaddress.ip_address("10.0.0.1"), local, allow_local=True)


async def test_literal_addresses_are_checked_without_dns() -> None:
    with pytest.raises(UnsafeDestinationError, match="private"):
        await resolve_safe(parse_destination("https://10.0.0.5/h", allow_local=False),
                           allow_local=False)  # fmt: skip
    d = parse_destination("https://20.50.2.10/h", allow_local=False)
    assert str(await resolve_safe(d, allow_local=False)) == "20.50.2.10"


@given(st.integers(min_value=0, max_value=10**12))
def test_cursor_round_trips(seq: int) -> None:
    assert decode_cursor(encode_cursor(seq)) == seq


@pytest.mark.parametrize("cursor", ["", "nonsense!", "djE6eA", "djI6MQ", "MQ", "djE6LTE"])
def test_foreign_cursors_are_refused(cursor: str) -> None:
    with pytest.raises(BadRequestError):
        decode_cursor(cursor)


@pytest.mark.parametrize("raw", ["0", "1001", "-1", "1.5", "abc", " 5"])
def test_bad_limits_are_refused(raw: str) -> None:
    with pytest.raises(BadRequestError):
        parse_limit(raw)


def test_limits() -> None:
    assert parse_limit(None) == parse_limit("") == 100
    assert parse_limit("1000") == 1000


def test_a_patch_names_only_the_fields_given_and_keeps_the_room_invited() -> None:
    assert fields_patch(OutlookFields(), room_email="r@x.test", location_name="R") == {}
    patch = fields_patch(
        OutlookFields(attendees=("b@x.test", "R@X.test"), is_online_meeting=True,
                      body=Body("html", "<p>hi</p>"), sensitivity=Sensitivity.PRIVATE),
        room_email="r@x.test", location_name="Room",
    )  # fmt: skip
    assert patch == {
        "attendees": [
            {"emailAddress": {"address": "b@x.test"}, "type": "required"},
            {"emailAddress": {"address": "r@x.test", "name": "Room"}, "type": "resource"},
        ],
        "isOnlineMeeting": True, "onlineMeetingProvider": "teamsForBusiness",
        "body": {"contentType": "html", "content": "<p>hi</p>"}, "sensitivity": "private",
    }  # fmt: skip


EVENT = {
    "bodyPreview": "Agenda", "body": {"contentType": "text", "content": "Agenda"},
    "isOnlineMeeting": True, "onlineMeeting": {"joinUrl": "https://teams.example/j/1"},
    "sensitivity": "normal", "showAs": "busy", "categories": ["Blue"],
    "reminderMinutesBeforeStart": 15,
    "attendees": [
        {"emailAddress": {"address": "Bob@x.test"}, "type": "required",
         "status": {"response": "none"}},
        {"emailAddress": {"address": "r@x.test"}, "type": "resource",
         "status": {"response": "accepted"}},
    ],
}  # fmt: skip


def record(event: dict[str, object], **outlook: object) -> BookingRecord:
    booking = Booking(
        id="b1", tenant_id="t", space_id="s", user_id="u", start=T0,
        end=T0 + timedelta(hours=1), outlook=OutlookRef(**outlook), created_at=T0, updated_at=T0,
    )  # fmt: skip
    return BookingRecord(booking=booking, organizer_event=event, synced_at=T0)


def test_the_booking_shows_its_outlook_event_and_sync_state() -> None:
    view = outlook_view(EVENT, "r@x.test")
    assert view.attendees == ("bob@x.test",) and view.room_response == "accepted"
    out = booking_json(record(EVENT, organizer_event_id="e1", resource_mailbox="r@x.test"))
    assert out["attendees"] == ["bob@x.test"]
    assert out["onlineMeeting"] == {"joinUrl": "https://teams.example/j/1"}
    assert out["body"] == {"contentType": "text", "content": "Agenda"}
    assert out["sync"] == {"state": "synced", "roomResponse": "accepted",
                           "lastSyncedAt": T0.isoformat()}  # fmt: skip
    assert "outlookEvent" not in out


def test_private_meetings_show_nothing_of_their_content() -> None:
    private = {**EVENT, "sensitivity": "private"}
    out = booking_json(record(private, organizer_event_id="e1"), expand_outlook=False)
    assert out["sensitivity"] == "private" and out["subject"] == "Private meeting"
    for hidden in ("attendees", "bodyPreview", "onlineMeeting", "body", "categories"):
        assert hidden not in out


def test_sync_state_pending_until_the_room_answers_and_failed_on_a_refused_write() -> None:
    waiting = {**EVENT, "attendees": [
        {"emailAddress": {"address": "r@x.test"}, "type": "resource",
         "status": {"response": "none"}}]}  # fmt: skip
    out = booking_json(record(waiting, organizer_event_id="e1", resource_mailbox="r@x.test"))
    assert out["sync"]["state"] == "pending" and out["sync"]["roomResponse"] == "none"
    assert booking_json(record(EVENT))["sync"]["state"] == "pending"  # no Outlook event yet
    failed = record(EVENT, organizer_event_id="e1").model_copy(update={"sync_error": "refused"})
    assert booking_json(failed)["sync"]["state"] == "failed"
