"""URL and body forms Graph accepts besides the ones the SDK happens to send (raw HTTP)."""

from __future__ import annotations

from datetime import timedelta

import httpx

from .conftest import CLIENT_ID, SECRET, TENANT, World
from .sdk import bearer, soon


def _http(world: World) -> httpx.Client:
    return httpx.Client(
        base_url=world.emu.graph_url,
        verify=world.emu.ssl_context(),
        headers={"authorization": bearer(world.emu, TENANT, CLIENT_ID, SECRET)},
        timeout=30,
    )


def _body(subject: str, attendees: list[str] = ()) -> dict:  # type: ignore[assignment]
    start = soon(2)
    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {
            "dateTime": (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S"),
            "timeZone": "UTC",
        },
        "attendees": [
            {"emailAddress": {"address": a}, "type": "Resource" if "room" in a else "Required"}
            for a in attendees
        ],
    }


def test_user_key_forms_delta_parentheses_and_place_aliases(world: World) -> None:
    with _http(world) as http:
        made = http.post(f"/users/{world.alice}/events", json=_body("Forms"))
        assert made.status_code == 201
        ev_id = made.json()["id"]
        mb_id = next(
            m["id"]
            for m in world.emu.control("GET", "mailboxes")["value"]
            if m["address"] == world.alice
        )
        for path in (
            f"/users/{world.alice.upper()}/events/{ev_id}",
            f"/users('{world.alice}')/events/{ev_id}",
            f"/users/{mb_id}/calendar/events/{ev_id}",
            f"users/{world.alice.replace('@', '%40')}/events/{ev_id}",
        ):
            r = http.get(path)
            assert r.status_code == 200, path
            assert r.json()["id"] == ev_id
        window = {"startDateTime": soon(0).isoformat(), "endDateTime": soon(5).isoformat()}
        for path in ("calendarView/delta", "calendarView/delta()", "calendar/calendarView/delta"):
            r = http.get(f"/users/{world.alice}/{path}", params=window)
            assert r.status_code == 200, path
            assert "@odata.deltaLink" in r.json()
            assert [e["id"] for e in r.json()["value"]] == [ev_id]
        for path in ("/places/microsoft.graph.room", "/places/graph.room"):
            r = http.get(path)
            assert r.status_code == 200
            assert {p["emailAddress"] for p in r.json()["value"]} >= {world.room1}
            assert all(p["@odata.type"] == "#microsoft.graph.room" for p in r.json()["value"])
        r = http.get("/me/events")
        assert r.status_code == 400
        r = http.get(f"/users/{world.alice}/nonsense")
        assert r.status_code == 400 and "nonsense" in r.json()["error"]["message"]
        assert r.json()["error"]["innerError"]["request-id"] == r.headers["request-id"]


def test_lowercase_headers_and_both_body_casings(world: World) -> None:
    with _http(world) as http:
        made = http.post(
            f"/users/{world.alice}/events",
            json=_body("Casing", [world.room1, world.room2]),
            headers={"prefer": 'outlook.timezone="Tokyo Standard Time"'},
        )
        assert made.status_code == 201
        assert made.json()["start"]["timeZone"] == "Tokyo Standard Time"
        room1 = http.get(f"/users/{world.room1}/events").json()["value"][0]
        room2 = http.get(f"/users/{world.room2}/events").json()["value"][0]
        r = http.post(
            f"/users/{world.room1}/events/{room1['id']}/decline",
            json={"Comment": "PascalCase", "SendResponse": True},
        )
        assert r.status_code == 202 and r.content == b""
        r = http.post(
            f"/users/{world.room2}/events/{room2['id']}/microsoft.graph.decline",
            json={"comment": "camelCase", "sendResponse": True},
        )
        assert r.status_code == 202
        org = http.get(f"/users/{world.alice}/events/{made.json()['id']}").json()
        assert {a["status"]["response"] for a in org["attendees"]} == {"declined"}
        bad = http.post(
            f"/users/{world.alice}/events",
            content=b"{nope",
            headers={"content-type": "application/json"},
        )
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "BadRequest"


def test_occurrence_delete_and_cancel_remove_it_everywhere(world: World) -> None:
    first = soon(1, 7)
    body = _body("Daily", [world.bob, world.room1])
    body["start"]["dateTime"] = first.strftime("%Y-%m-%dT%H:%M:%S")
    body["end"]["dateTime"] = (first + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%S")
    body["recurrence"] = {
        "pattern": {"type": "daily", "interval": 1},
        "range": {
            "type": "numbered",
            "numberOfOccurrences": 5,
            "startDate": first.date().isoformat(),
        },
    }
    window = {
        "startDateTime": (first - timedelta(days=1)).isoformat(),
        "endDateTime": (first + timedelta(days=6)).isoformat(),
    }
    with _http(world) as http:
        master = http.post(f"/users/{world.alice}/events", json=body).json()
        occ = http.get(
            f"/users/{world.alice}/events/{master['id']}/instances", params=window
        ).json()["value"]
        assert len(occ) == 5
        assert http.delete(f"/users/{world.alice}/events/{occ[1]['id']}").status_code == 204
        r = http.post(f"/users/{world.alice}/events/{occ[3]['id']}/cancel", json={"Comment": "x"})
        assert r.status_code == 202
        gone = {occ[1]["iCalUId"], occ[3]["iCalUId"]}
        for user in (world.alice, world.bob, world.room1):
            view = http.get(f"/users/{user}/calendarView", params=window).json()["value"]
            assert len(view) == 3, user
            assert not gone & {e["iCalUId"] for e in view}
        assert http.get(f"/users/{world.alice}/events/{occ[1]['id']}").status_code == 404
