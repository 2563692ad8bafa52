"""Graph's time values and event JSON: one strict parser, a typed view, nothing lost."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime

import pytest

from bookker_sync.domain.models import Booking, BookingSource
from bookker_sync.domain.remote import EventType, Response
from bookker_sync.graph.batch import BatchResult
from bookker_sync.graph.event_json import EXTENSION_NAME, parse_event
from bookker_sync.graph.graph_times import (
    UnknownTimeZoneError,
    graph_local_datetime,
    parse_graph_datetime,
    parse_instant,
    resolve_time_zone,
)
from bookker_sync.graph.graph_types import GraphEvent
from bookker_sync.graph.room_writes import decline_item
from bookker_sync.graph.subscriptions import granted_expiry, renew_item
from bookker_sync.storage.repositories import BookingRecord


def dtz(date_time: str, zone: str | None) -> dict[str, str]:
    return {"dateTime": date_time} if zone is None else {"dateTime": date_time, "timeZone": zone}


@pytest.mark.parametrize(
    ("zone", "expected"),
    [
        # Windows names, as Outlook writes them (winter: CET is UTC+1, EST is UTC-5)
        ("W. Europe Standard Time", datetime(2031, 1, 14, 9, tzinfo=UTC)),
        ("w. europe standard time", datetime(2031, 1, 14, 9, tzinfo=UTC)),
        ("Romance Standard Time", datetime(2031, 1, 14, 9, tzinfo=UTC)),
        ("Eastern Standard Time", datetime(2031, 1, 14, 15, tzinfo=UTC)),
        # IANA names
        ("Europe/Madrid", datetime(2031, 1, 14, 9, tzinfo=UTC)),
        ("America/New_York", datetime(2031, 1, 14, 15, tzinfo=UTC)),
        # UTC in the spellings Graph uses; absent means UTC (what we ask for)
        ("UTC", datetime(2031, 1, 14, 10, tzinfo=UTC)),
        ("Coordinated Universal Time", datetime(2031, 1, 14, 10, tzinfo=UTC)),
        ("Etc/UTC", datetime(2031, 1, 14, 10, tzinfo=UTC)),
        (None, datetime(2031, 1, 14, 10, tzinfo=UTC)),
    ],
)
def test_date_time_time_zone_maps_windows_iana_and_utc(
    zone: str | None, expected: datetime
) -> None:
    parsed = parse_graph_datetime(dtz("2031-01-14T10:00:00.0000000", zone))
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


def test_summer_time_follows_the_zone() -> None:
    parsed = parse_graph_datetime(dtz("2031-07-14T10:00:00.0000000", "W. Europe Standard Time"))
    assert parsed == datetime(2031, 7, 14, 8, tzinfo=UTC)  # CEST is UTC+2


@pytest.mark.parametrize("zone", ["Mars Standard Time", "Europe/Atlantis", "Europe", "+01:00"])
def test_unknown_time_zone_is_an_error_not_utc(zone: str) -> None:
    with pytest.raises(UnknownTimeZoneError) as caught:
        parse_graph_datetime(dtz("2031-01-14T10:00:00.0000000", zone))
    assert caught.value.name == zone
    with pytest.raises(UnknownTimeZoneError):
        resolve_time_zone(zone)


def test_unknown_zone_in_an_event_fails_its_parse() -> None:
    with pytest.raises(UnknownTimeZoneError):
        parse_event({"id": "e1", "start": dtz("2031-01-14T10:00:00", "Nowhere Time")})


def test_absent_date_time_is_none() -> None:
    assert parse_graph_datetime(None) is None
    assert parse_graph_datetime({"timeZone": "UTC"}) is None


def test_seven_fraction_digits_and_z_are_accepted() -> None:
    assert parse_graph_datetime(dtz("2031-01-14T10:00:00.1234567Z", "UTC")) == datetime(
        2031, 1, 14, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_instant("2031-01-14T10:00:00.1234567Z") == datetime(
        2031, 1, 14, 10, 0, 0, 123456, tzinfo=UTC
    )
    assert parse_instant("not a time") is None
    assert parse_instant(None) is None


def test_local_date_time_round_trips_through_the_parser() -> None:
    moment = datetime(2031, 7, 14, 8, tzinfo=UTC)
    local = graph_local_datetime(moment, "Europe/Madrid")
    assert local == {"dateTime": "2031-07-14T10:00:00.0000000", "timeZone": "Europe/Madrid"}
    assert parse_graph_datetime(local) == moment
    with pytest.raises(UnknownTimeZoneError):
        graph_local_datetime(moment, "Europe/Atlantis")


EVENT = {
    "@odata.etag": 'W/"abc"',
    "id": "AAMk=/+1",
    "iCalUId": "uid-1",
    "changeKey": "ck-1",
    "subject": "Planning",
    "start": {"dateTime": "2031-01-14T10:00:00.0000000", "timeZone": "W. Europe Standard Time"},
    "end": {"dateTime": "2031-01-14T11:00:00.0000000", "timeZone": "W. Europe Standard Time"},
    "organizer": {"emailAddress": {"address": "ana@contoso.com", "name": "Ana"}},
    "attendees": [
        {
            "type": "resource",
            "status": {"response": "accepted", "time": "2031-01-01T00:00:00Z"},
            "emailAddress": {"address": "Room1@contoso.com", "name": "Room 1"},
        }
    ],
    "type": "occurrence",
    "seriesMasterId": "master-1",
    "responseStatus": {"response": "accepted"},
    "lastModifiedDateTime": "2031-01-10T08:00:00.1234567Z",
    "extensions": [{"extensionName": EXTENSION_NAME, "bookingId": "bk-1"}],
    # Fields we don't read (some not even documented yet) must survive untouched.
    "onlineMeeting": {"joinUrl": "https://example.invalid/j/1"},
    "futureField": [1, {"nested": None}, "x"],
    "hideAttendees": False,
}


def test_graph_event_reads_typed_fields_and_keeps_the_whole_json() -> None:
    original = copy.deepcopy(EVENT)
    event = GraphEvent(EVENT)
    assert event.id == "AAMk=/+1"
    assert (event.i_cal_uid, event.change_key, event.series_master_id) == (
        "uid-1",
        "ck-1",
        "master-1",
    )
    assert event.start == datetime(2031, 1, 14, 9, tzinfo=UTC)
    assert event.end == datetime(2031, 1, 14, 10, tzinfo=UTC)
    assert event.modified == datetime(2031, 1, 10, 8, 0, 0, 123456, tzinfo=UTC)
    assert not event.removed
    assert event.raw == original
    assert original == EVENT  # reading never mutates


def test_parse_event_keeps_unknown_fields_in_raw() -> None:
    remote = parse_event(GraphEvent(copy.deepcopy(EVENT)))
    assert remote.raw == EVENT
    assert remote.type is EventType.OCCURRENCE
    assert remote.response is Response.ACCEPTED
    assert remote.attendee("room1@CONTOSO.com") is not None


def test_removed_delta_item() -> None:
    item = GraphEvent({"id": "e1", "@removed": {"reason": "deleted"}})
    assert item.removed
    remote = parse_event(item)
    assert remote.removed and remote.id == "e1" and remote.raw == item.raw


def test_stored_event_round_trips_losslessly() -> None:
    booking = Booking(
        id="bk-1",
        tenant_id="t1",
        space_id="s1",
        user_id="u1",
        start=datetime(2031, 1, 14, 9, tzinfo=UTC),
        end=datetime(2031, 1, 14, 10, tzinfo=UTC),
        source=BookingSource.OUTLOOK,
        created_at=datetime(2031, 1, 1, tzinfo=UTC),
        updated_at=datetime(2031, 1, 1, tzinfo=UTC),
    )
    record = BookingRecord(booking=booking, resource_event=GraphEvent(EVENT).raw)
    stored = json.loads(json.dumps(record.model_dump(mode="json", by_alias=True)))
    again = BookingRecord.model_validate(stored)
    assert again.resource_event == EVENT
    assert json.dumps(again.resource_event, sort_keys=True) == json.dumps(EVENT, sort_keys=True)


def test_batch_items_are_built_in_graph() -> None:
    decline = decline_item("0", "room@contoso.com", "AAMk=/+1", "Taken")
    assert (decline.method, decline.url) == (
        "POST",
        "/users/room@contoso.com/events/AAMk%3D%2F%2B1/decline",
    )
    assert decline.body == {"comment": "Taken", "sendResponse": True}
    renew = renew_item("2", "sub-1", datetime(2031, 1, 14, 9, tzinfo=UTC))
    assert (renew.method, renew.url) == ("PATCH", "/subscriptions/sub-1")
    assert renew.body == {"expirationDateTime": "2031-01-14T09:00:00.0000000Z"}
    granted = BatchResult("2", 200, {"expirationDateTime": "2031-01-13T09:00:00Z"})
    assert granted_expiry(granted) == datetime(2031, 1, 13, 9, tzinfo=UTC)
    assert granted_expiry(BatchResult("2", 200, None)) is None


@pytest.mark.parametrize("sensitivity", ["private", "confidential", "Private"])
def test_a_private_events_subject_and_body_are_neither_parsed_nor_kept(sensitivity: str) -> None:
    raw = {
        "id": "e1", "changeKey": "ck", "subject": "Layoffs", "sensitivity": sensitivity,
        "body": {"contentType": "text", "content": "names"}, "bodyPreview": "names",
        "start": {"dateTime": "2031-03-04T10:00:00", "timeZone": "UTC"},
        "end": {"dateTime": "2031-03-04T11:00:00", "timeZone": "UTC"},
    }  # fmt: skip
    remote = parse_event(raw)
    assert remote.private and remote.subject == ""
    assert "Layoffs" not in json.dumps(remote.raw) and "names" not in json.dumps(remote.raw)
    assert remote.raw["sensitivity"] == sensitivity and remote.raw["changeKey"] == "ck"
    assert raw["subject"] == "Layoffs"  # the caller's JSON is left alone
    normal = parse_event({**raw, "sensitivity": "normal"})
    assert not normal.private and normal.subject == "Layoffs"
