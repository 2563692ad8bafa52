"""Writes that Graph applies while the client sees a failure (503, 504, no answer, a
freeze), and the msgraph-sdk's retries over them."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError

from .conftest import CLIENT_ID, SECRET, TENANT, World
from .sdk import bearer, event, soon

EVENTS = "/users/{id}/events"


def _raw(world: World, timeout: float = 30) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=world.emu.graph_url,
        verify=world.emu.ssl_context(),
        headers={"Authorization": bearer(world.emu, TENANT, CLIENT_ID, SECRET)},
        timeout=timeout,
    )


def _body(subject: str, **extra: Any) -> dict[str, Any]:
    start = soon(2)
    return {
        "subject": subject,
        "start": {"dateTime": start.strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"},
        "end": {"dateTime": start.strftime("%Y-%m-%dT10:%M:%S"), "timeZone": "UTC"},
        **extra,
    }


async def _subjects(world: World, mailbox: str) -> list[str]:
    listed = await world.client().users.by_user_id(mailbox).events.get()
    return sorted(e.subject for e in listed.value)


def _statuses(world: World, route: str = EVENTS) -> dict[int, int]:
    rows = [r for r in world.emu.stats()["requests"] if r["route"] == route]
    return {r["status"]: r["count"] for r in rows}


async def test_event_exists_after_the_client_saw_a_503(world: World) -> None:
    rule = world.emu.control(
        "POST", "faults/next", {"route": f"POST {EVENTS}", "mailbox": world.alice}
    )
    assert rule == {"method": "POST", "route": EVENTS, "mailbox": world.alice, "count": 1,
                    "answer": 503, "timeoutSeconds": 0.0}  # fmt: skip
    g = world.client(retry=False)
    await g.users.by_user_id(world.bob).events.post(event("Bob's", soon(2)))  # not targeted
    with pytest.raises(ODataError) as err:
        await g.users.by_user_id(world.alice).events.post(event("Applied anyway", soon(2)))
    assert err.value.response_status_code == 503
    assert err.value.error.code == "serviceNotAvailable"
    assert err.value.response_headers["retry-after"] == "1"
    assert await _subjects(world, world.alice) == ["Applied anyway"]
    assert world.emu.control("GET", "faults/next") == {"value": []}  # spent
    await g.users.by_user_id(world.alice).events.post(event("Answered", soon(3)))


async def test_sdk_retry_with_transaction_id_creates_no_duplicate(world: World) -> None:
    g = world.client()  # the default RetryHandler retries 503 for POST too
    world.emu.control("POST", "faults/next", {"method": "POST", "route": EVENTS, "count": 1})
    world.emu.clear_stats()
    created = await g.users.by_user_id(world.alice).events.post(
        event("Booking 42", soon(2), transaction_id="bookker-42")
    )
    assert created.subject == "Booking 42"
    assert await _subjects(world, world.alice) == ["Booking 42"]
    assert _statuses(world)[503] == 1 and _statuses(world)[201] == 1
    # Without a transactionId the same retry makes a second event.
    world.emu.control("POST", "faults/next", {"method": "POST", "route": EVENTS})
    await g.users.by_user_id(world.bob).events.post(event("No id", soon(2)))
    assert await _subjects(world, world.bob) == ["No id", "No id"]


async def test_applied_then_fail_rate_is_seeded_and_every_write_lands(world: World) -> None:
    async def run() -> list[int]:
        world.emu.set_faults(seed=7, appliedThenFailRate=0.5)
        async with _raw(world) as http:
            out = []
            for i in range(10):
                resp = await http.post(f"/users/{world.alice}/events", json=_body(f"e{i}"))
                out.append(resp.status_code)
            # reads are never failed by this knob
            for _ in range(5):
                assert (await http.get(f"/users/{world.alice}/events")).status_code == 200
        return out

    first = await run()
    assert set(first) == {201, 503}
    assert len(await _subjects(world, world.alice)) == 10
    world.emu.set_faults()
    async with _raw(world) as http:
        listed = (await http.get(f"/users/{world.alice}/events")).json()["value"]
        for ev in listed:
            assert (await http.delete(f"/users/{world.alice}/events/{ev['id']}")).status_code == 204
    assert await run() == first


async def test_timeout_answer_closes_the_connection_after_applying(world: World) -> None:
    world.emu.control(
        "POST", "faults/next",
        {"route": f"POST {EVENTS}", "answer": "timeout", "timeoutSeconds": 0.3},
    )  # fmt: skip
    async with _raw(world) as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(f"/users/{world.alice}/events", json=_body("Lost answer"))
        world.emu.control(
            "POST", "faults/next", {"route": f"POST {EVENTS}", "answer": 504, "timeoutSeconds": 0}
        )
        resp = await http.post(f"/users/{world.alice}/events", json=_body("Gateway"))
        assert resp.status_code == 504
    assert await _subjects(world, world.alice) == ["Gateway", "Lost answer"]


async def test_lost_answer_inside_batch_is_a_504_item(world: World) -> None:
    world.emu.control(
        "POST",
        "faults/next",
        {"route": f"POST {EVENTS}", "answer": "timeout", "timeoutSeconds": 0.2},
    )
    async with _raw(world) as http:
        resp = await http.post(
            "/$batch",
            json={"requests": [{"id": "1", "method": "POST", "url": f"/users/{world.alice}/events",
                                "headers": {"Content-Type": "application/json"},
                                "body": _body("In batch")}]},
        )  # fmt: skip
    assert resp.status_code == 200
    assert resp.json()["responses"][0]["status"] == 504
    assert await _subjects(world, world.alice) == ["In batch"]


async def test_freeze_holds_requests_then_applies_them_in_order(world: World) -> None:
    async with _raw(world) as http:
        await http.get(f"/users/{world.alice}/events")  # token and connection warm
        frozen = world.emu.control("POST", "freeze", {"seconds": 1.0})
        assert frozen["frozen"] is True
        started = time.monotonic()
        first = asyncio.create_task(
            http.post(f"/users/{world.alice}/events", json=_body("First", transactionId="t-1"))
        )
        await asyncio.sleep(0.2)
        second = asyncio.create_task(
            http.post(f"/users/{world.alice}/events", json=_body("Second", transactionId="t-1"))
        )
        await asyncio.sleep(0.2)
        state = await world.emu.acontrol("GET", "freeze")
        assert state["held"] == 2 and not first.done()
        answers = await asyncio.gather(first, second)
        assert time.monotonic() - started >= 0.95
    assert [a.status_code for a in answers] == [201, 201]
    # Applied in arrival order: the second POST found the first one's transactionId.
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert await _subjects(world, world.alice) == ["First"]
    assert (await world.emu.acontrol("GET", "freeze"))["frozen"] is False


async def test_client_that_gives_up_during_a_freeze_still_has_its_write_applied(
    world: World,
) -> None:
    async with _raw(world, timeout=0.4) as http:
        await http.get(f"/users/{world.alice}/events")
        world.emu.control("POST", "freeze", {"seconds": 1.0})
        with pytest.raises(httpx.ReadTimeout):
            await http.post(f"/users/{world.alice}/events", json=_body("Frozen"))
    assert await _subjects(world, world.alice) == ["Frozen"]  # waits for the thaw


async def test_freeze_can_be_ended_early_and_control_input_is_checked(world: World) -> None:
    world.emu.control("POST", "freeze", {"seconds": 60})
    assert world.emu.control("POST", "freeze", {"seconds": 0})["frozen"] is False
    assert await _subjects(world, world.alice) == []
    for path, body in (
        ("freeze", {"seconds": -1}),
        ("freeze", {}),
        ("faults/next", {"route": "/users/{id}/events"}),  # no method
        ("faults/next", {"route": f"POST {EVENTS}", "answer": 500}),
        ("faults/next", {"route": f"POST {EVENTS}", "count": 0}),
        ("faults", {"appliedThenFailRate": 2}),
    ):
        method = "PUT" if path == "faults" else "POST"
        resp = world.emu.http.request(method, f"/_emulator/{path}", json=body)
        assert resp.status_code == 400, (path, body)
    world.emu.control("POST", "faults/next", {"route": f"POST {EVENTS}"})
    assert world.emu.control("DELETE", "faults/next") == {"value": []}
    world.emu.control("POST", "faults/next", {"route": f"POST {EVENTS}"})
    world.emu.reset()
    assert world.emu.control("GET", "faults/next") == {"value": []}


async def test_a_delayed_write_is_overtaken_and_if_match_refuses_it(world: World) -> None:
    """answer "delay": the request waits before it is applied, so a later request of
    another client lands first; with If-Match on the changeKey it read, the slow write
    is refused (412) instead of overwriting the newer change."""
    async with _raw(world) as raw:
        created = (await raw.post(f"users/{world.alice}/events", json=_body("v1"))).json()
        url = f"users/{world.alice}/events/{created['id']}"
        world.emu.control("POST", "faults/next", {
            "route": "PATCH /users/{id}/events/{eventId}", "mailbox": world.alice,
            "answer": "delay", "timeoutSeconds": 1.5,
        })  # fmt: skip
        slow = asyncio.create_task(raw.patch(
            url, json={"subject": "stale"}, headers={"If-Match": created["@odata.etag"]}
        ))  # fmt: skip
        for _ in range(100):  # the slow PATCH has arrived: the rule is used up
            if world.emu.control("GET", "faults/next") == {"value": []}:
                break
            await asyncio.sleep(0.02)
        started = time.monotonic()
        fast = await raw.patch(url, json={"subject": "newer"})
        assert fast.status_code == 200 and time.monotonic() - started < 1.0
        refused = await slow
        assert refused.status_code == 412, refused.text
        assert refused.json()["error"]["code"] == "ErrorIrresolvableConflict"
        assert (await raw.get(url)).json()["subject"] == "newer"
