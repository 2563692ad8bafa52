"""Every rule has a failing and a passing case through the API, and recurring bookings
become one Outlook series with a booking per occurrence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.test_bookings_api import user_events
from tests.support.functions_host import Stack


def monday(weeks_ahead: int = 1) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today + timedelta(days=(7 - today.weekday()) % 7 + 7 * weeks_ahead)


def iso(moment: datetime) -> str:
    return moment.isoformat()


M = monday()
CASES = [
    # rule, space rules, user rules, user groups, (start, end) failing, (start, end) passing
    ("access", {"allowedGroups": ["finance"]}, None, ["sales"], None, ["finance"]),
    ("openingHours", {"timeZone": "UTC", "openingHours": {"monday": [
        {"start": "08:00", "end": "18:00"}]}}, None, [],
        (M + timedelta(hours=17), M + timedelta(hours=19)),
        (M + timedelta(hours=9), M + timedelta(hours=10))),
    ("minMinutes", {"minMinutes": 30}, None, [],
        (M + timedelta(hours=9), M + timedelta(hours=9, minutes=15)),
        (M + timedelta(hours=9), M + timedelta(hours=9, minutes=30))),
    ("maxMinutes", {"maxMinutes": 60}, None, [],
        (M + timedelta(hours=9), M + timedelta(hours=11)),
        (M + timedelta(hours=9), M + timedelta(hours=10))),
    ("bookingWindowDays", {"bookingWindowDays": 30}, None, [],
        (M + timedelta(days=60, hours=9), M + timedelta(days=60, hours=10)),
        (M + timedelta(hours=9), M + timedelta(hours=10))),
    ("maxMinutesPerBooking", {}, {"maxMinutesPerBooking": 45}, [],
        (M + timedelta(hours=9), M + timedelta(hours=10)),
        (M + timedelta(hours=9), M + timedelta(hours=9, minutes=45))),
    ("past", {}, None, [],
        (datetime.now(UTC) - timedelta(hours=3), datetime.now(UTC) - timedelta(hours=2)),
        (M + timedelta(hours=9), M + timedelta(hours=10))),
]  # fmt: skip


@pytest.mark.parametrize(
    "rule,space_rules,user_rules,groups,bad,good", CASES, ids=[c[0] for c in CASES]
)
def test_rule_fails_then_passes(stack: Stack, rule, space_rules, user_rules, groups, bad, good):
    t = stack.new_tenant("unidirectional")
    t.add_user("ana", groups=groups, rules=user_rules)
    t.add_space("room", rules=space_rules, room=False)
    default = (M + timedelta(hours=9), M + timedelta(hours=10))
    start, end = bad or default
    r = stack.api(
        "POST",
        f"tenants/{t.id}/bookings",
        {"spaceId": "room", "userId": "ana", "start": iso(start), "end": iso(end)},
    )
    expected = 403 if rule == "access" else 422
    assert r.status_code == expected, r.text
    body = r.json()
    assert body["error"]["code"] in ("Forbidden", "RuleViolation")
    assert [e["rule"] for e in body["errors"]] == [rule]
    assert body["errors"][0]["message"]
    assert t.bookings() == []
    if rule == "access":
        t.add_user("ana", groups=good)
        start, end = default
    else:
        start, end = good
    r = stack.api(
        "POST",
        f"tenants/{t.id}/bookings",
        {"spaceId": "room", "userId": "ana", "start": iso(start), "end": iso(end)},
    )
    assert r.status_code == 201, r.text


def test_max_bookings_per_day(stack: Stack):
    t = stack.new_tenant("unidirectional")
    t.add_user("ana", rules={"maxBookingsPerDay": 1})
    t.add_space("a", room=False)
    t.add_space("b", room=False)
    first = {
        "spaceId": "a",
        "userId": "ana",
        "start": iso(M + timedelta(hours=9)),
        "end": iso(M + timedelta(hours=10)),
    }
    assert stack.api("POST", f"tenants/{t.id}/bookings", first).status_code == 201
    second = {**first, "spaceId": "b"}
    r = stack.api("POST", f"tenants/{t.id}/bookings", second)
    assert r.status_code == 422 and r.json()["errors"][0]["rule"] == "maxBookingsPerDay"
    next_day = {
        **second,
        "start": iso(M + timedelta(days=1, hours=9)),
        "end": iso(M + timedelta(days=1, hours=10)),
    }
    assert stack.api("POST", f"tenants/{t.id}/bookings", next_day).status_code == 201


def test_overlap_409_and_bad_input_400_404(stack: Stack):
    t = stack.new_tenant("unidirectional")
    t.add_user("ana")
    t.add_space("room", room=False)
    body = {
        "spaceId": "room",
        "userId": "ana",
        "start": iso(M + timedelta(hours=9)),
        "end": iso(M + timedelta(hours=10)),
    }
    assert stack.api("POST", f"tenants/{t.id}/bookings", body).status_code == 201
    r = stack.api(
        "POST",
        f"tenants/{t.id}/bookings",
        {
            **body,
            "start": iso(M + timedelta(hours=9, minutes=30)),
            "end": iso(M + timedelta(hours=10, minutes=30)),
        },
    )
    assert r.status_code == 409 and r.json()["error"]["code"] == "Conflict"
    for bad in (
        {**body, "start": "tomorrow"},
        {**body, "end": iso(M)},
        {**body, "start": "2030-01-01T10:00:00"},
        {"spaceId": "room"},
    ):
        r = stack.api("POST", f"tenants/{t.id}/bookings", bad)
        assert r.status_code == 400, (bad, r.text)
        assert r.json()["error"]["message"]
    r = stack.http.post(f"/api/tenants/{t.id}/bookings", content=b"{not json")
    assert r.status_code == 400 and r.json()["error"]["code"] == "BadRequest"
    assert (
        stack.api("POST", f"tenants/{t.id}/bookings", {**body, "spaceId": "nope"}).status_code
        == 404
    )
    assert stack.api("GET", f"tenants/{t.id}/bookings/nope").status_code == 404
    assert stack.api("GET", "tenants/unknown-tenant/bookings").status_code == 404


def test_weekly_recurring_booking_is_one_outlook_series(stack: Stack):
    t = stack.new_tenant("bidirectional")
    alice = t.add_user("alice")
    room = t.add_space("room1", rules={"timeZone": "Europe/Madrid"})
    r = stack.api("POST", f"tenants/{t.id}/bookings", {
        "spaceId": "room1", "userId": "alice", "subject": "Weekly sync",
        "start": iso(M + timedelta(hours=9)), "end": iso(M + timedelta(hours=10)),
        "recurrence": {"pattern": "weekly", "count": 4},
    })  # fmt: skip
    assert r.status_code == 201, r.text
    series = r.json()
    assert len(series["value"]) == 4
    assert len({b["seriesId"] for b in series["value"]}) == 1
    assert len({b["outlook"]["iCalUId"] for b in series["value"]}) == 4  # per occurrence
    masters = [e for e in user_events(stack, t, alice) if e.get("type") == "seriesMaster"]
    assert len(masters) == 1 and masters[0]["recurrence"]["pattern"]["type"] == "weekly"
    ids = {b["outlook"]["organizerEventId"] for b in series["value"]}
    assert len(ids) == 4 and masters[0]["id"] not in ids
    # one occurrence can be cancelled on its own
    first = series["value"][0]["id"]
    assert stack.api("DELETE", f"tenants/{t.id}/bookings/{first}").status_code == 204
    statuses = sorted(b["status"] for b in t.bookings())
    assert statuses == ["cancelled", "confirmed", "confirmed", "confirmed"]
    assert room
