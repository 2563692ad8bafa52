"""schemathesis against every operation of /api/openapi.json, loaded from the running
local host over 127.0.0.1 (no network).

Checks on every response: not_a_server_error, status_code_conformance,
content_type_conformance, response_schema_conformance, and ours: every error is JSON
``{"error": {"code": str, "message": str}}``.

- positive run, on the playground tenant: schema-valid requests, part of them steered
  to existing spaces, users and bookings (with near-future times) so that bookings are
  really created (single and series), changed, cancelled and released;
- negative run, on the snapshot tenant: schema-invalid requests aimed at its existing
  space, user and bookings; afterwards the tenant is exactly as before.
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import given
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.fuzz.api_world import SPACES, USERS, ApiWorld, snapshot_of
from tests.fuzz.budget import count, fuzz
from tests.support.functions_host import Stack

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]  # fmt: skip
POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
AnyCase = Case[Any]
Strategy = st.SearchStrategy[AnyCase]


@pytest.fixture(scope="module")
def schema(stack: Stack) -> OpenApiSchema:
    # Negative cases must be invalid for the app: not only because they lack the
    # function key (the local host runs without keys: checking them is the host's job)
    # or carry an unknown query parameter (ignored, as everywhere).
    config = schemathesis.Config.from_dict({"generation": {
        "with-security-parameters": False, "allow-extra-parameters": False,
    }})  # fmt: skip
    loaded = schemathesis.openapi.from_url(
        f"{stack.host.base_url}/api/openapi.json", config=config, timeout=30
    )
    assert isinstance(loaded, OpenApiSchema)
    return loaded


@pytest.fixture(scope="module")
def session() -> requests.Session:
    return requests.Session()


def operations(schema: OpenApiSchema) -> dict[str, Any]:
    """operationId → APIOperation, for every operation of the document."""
    found = {}
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result  # every operation of the document loads
        op = result.ok()
        found[op.definition.raw["operationId"]] = op
    return found


def call_and_check(case: AnyCase, session: requests.Session, statuses: Counter[str]) -> Any:
    # Not followed: the consent link's 302 leads to Entra ID (here the emulator).
    response = case.call(session=session, timeout=60, allow_redirects=False)
    statuses[f"{case.operation.definition.raw['operationId']} {response.status_code}"] += 1
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        body = json.loads(response.content)
        error = body["error"]
        assert isinstance(error["code"], str) and isinstance(error["message"], str), body
    return response


# -- positive: the playground ------------------------------------------------------
_SLOTS = itertools.count()


def _future(draw: st.DrawFn, now: datetime) -> tuple[str, str]:
    """A slot after ``now`` (the app's clock); every call gets its own half day, so
    steered requests don't all collide (the generated part is the length and minute)."""
    base = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = base + timedelta(days=2, hours=12 * next(_SLOTS), minutes=15 * draw(st.integers(0, 8)))
    end = start + timedelta(minutes=15 * draw(st.integers(1, 16)))
    return start.isoformat(), end.isoformat()


def steered_create(op: Any, tenant_id: str, now: datetime) -> Strategy:
    """A generated POST /bookings with real space and user ids and near-future times
    (subject and the rest as generated): most of these create bookings."""

    @st.composite
    def build(draw: st.DrawFn) -> AnyCase:
        case: AnyCase = draw(op.as_strategy(POSITIVE, path_parameters={"tenantId": tenant_id}))
        start, end = _future(draw, now)
        body: dict[str, Any] = dict(case.body) if isinstance(case.body, dict) else {}
        body.update(spaceId=draw(st.sampled_from(SPACES)), userId=draw(st.sampled_from(USERS)),
                    start=start, end=end)  # fmt: skip
        recurrence = draw(st.sampled_from([None, None, {"pattern": "daily", "count": 2},
                                           {"pattern": "weekly", "interval": 2, "count": 3}]))  # fmt: skip
        if recurrence is None:
            body.pop("recurrence", None)
        else:
            body["recurrence"] = recurrence
        case.body = body
        if case.headers:  # a generated Idempotency-Key would often replay an earlier one
            case.headers.pop("Idempotency-Key", None)
        return case

    return build()


def pick(bookings: list[str], draw: st.DrawFn) -> str:
    """One of ``bookings`` (which grows during the run: draw a fixed-range index, so
    generation never depends on the list's current length)."""
    return bookings[draw(st.integers(0, 2**16)) % len(bookings)]


def steered_patch(op: Any, tenant_id: str, bookings: list[str], now: datetime) -> Strategy:
    """A generated PATCH of an existing booking to near-future times."""

    @st.composite
    def build(draw: st.DrawFn) -> AnyCase:
        booking = pick(bookings, draw)
        fixed = {"tenantId": tenant_id, "bookingId": booking}
        case: AnyCase = draw(op.as_strategy(POSITIVE, path_parameters=fixed))
        start, end = _future(draw, now)
        body: dict[str, Any] = dict(case.body) if isinstance(case.body, dict) else {}
        body.update(start=start, end=end)
        case.body = body
        return case

    return build()


def retargeted(op: Any, tenant_id: str, bookings: list[str]) -> Strategy:
    """A generated call on /bookings/{bookingId}: half of them on an existing booking."""

    @st.composite
    def build(draw: st.DrawFn) -> AnyCase:
        if draw(st.booleans()):
            fixed = {"tenantId": tenant_id}
        else:
            booking = pick(bookings, draw)
            fixed = {"tenantId": tenant_id, "bookingId": booking}
        case: AnyCase = draw(op.as_strategy(POSITIVE, path_parameters=fixed))
        return case

    return build()


def positive_strategies(
    ops: dict[str, Any], world: ApiWorld, bookings: list[str], now: datetime
) -> Strategy:
    """Every operation; weighted towards creating bookings and working on them.
    ``bookings`` grows with the bookings the run creates."""
    play = world.playground.id
    own, config = {"tenantId": play}, {"tenantId": world.config.id}
    create = steered_create(ops["createBooking"], play, now)
    return st.sampled_from([
        # PUT /tenants only on a tenant id nothing else uses (a random graphTenantId
        # there would make Graph calls fail).
        ops["putTenant"].as_strategy(POSITIVE, path_parameters={"tenantId": world.scratch_tenant_id}),
        ops["putSpace"].as_strategy(POSITIVE, path_parameters=config),
        ops["putUser"].as_strategy(POSITIVE, path_parameters=config),
        ops["createBooking"].as_strategy(POSITIVE, path_parameters=own),
        create, create, create,
        ops["listBookings"].as_strategy(POSITIVE, path_parameters=own),
        ops["listBookings"].as_strategy(POSITIVE),
        *(retargeted(ops[name], play, bookings)
          for name in ("getBooking", "updateBooking", "deleteBooking", "releaseBooking")),
        steered_patch(ops["updateBooking"], play, bookings, now),
        # Reading and removing configuration: on the config tenant (whose spaces and users
        # the PUTs above make up); offboarding only on the scratch tenant.
        *(ops[name].as_strategy(POSITIVE, path_parameters=config) for name in (
            "getTenant", "listSpaces", "getSpace", "deleteSpace", "listUsers", "getUser",
            "deleteUser")),
        ops["listEvents"].as_strategy(POSITIVE, path_parameters=own),
        ops["getConsentLink"].as_strategy(POSITIVE, path_parameters=config),
        ops["offboardTenant"].as_strategy(
            POSITIVE, path_parameters={"tenantId": world.scratch_tenant_id}),
    ]).flatmap(lambda strategy: strategy)  # fmt: skip


def created_ids(response: Any, statuses: Counter[str]) -> list[str]:
    if response.status_code != 201:
        return []
    body = json.loads(response.content)
    if "seriesId" in body and "value" in body:
        statuses["createBooking 201 (series)"] += 1
    return [b["id"] for b in body.get("value", [body])]


def test_positive_every_operation(
    stack: Stack, api_world: ApiWorld, schema: OpenApiSchema, session: requests.Session
) -> None:
    ops = operations(schema)
    assert len(ops) == 19, sorted(ops)
    statuses: Counter[str] = Counter()
    bookings = list(api_world.pool)

    @fuzz(450)
    @given(case=positive_strategies(ops, api_world, bookings, stack.emulator.clock_now()))
    def run(case: AnyCase) -> None:
        count("api: schemathesis positive")
        bookings.extend(created_ids(call_and_check(case, session, statuses), statuses))

    run()
    print_statuses("positive", statuses)
    created = sum(n for k, n in statuses.items() if k.startswith("createBooking 201"))
    assert created >= 20, statuses  # the steered creations really create bookings
    assert statuses["createBooking 201 (series)"] >= 5, statuses  # and series
    assert all(any(k.startswith(op) for k in statuses) for op in ops), statuses


# -- negative: the snapshot tenant -------------------------------------------------
def negative_strategies(ops: dict[str, Any], world: ApiWorld) -> list[Strategy]:
    snap = world.snapshot.id
    own = {"tenantId": snap}

    def neg(name: str, **fixed: str) -> Strategy:
        strategy: Strategy = ops[name].as_strategy(NEGATIVE, path_parameters={**own, **fixed})
        return strategy

    strategies = [
        neg("putTenant"), neg("putSpace", spaceId=SPACES[0]), neg("putSpace"),
        neg("putUser", userId=USERS[0]), neg("putUser"), neg("createBooking"),
        neg("listBookings"), neg("getBooking"), neg("deleteBooking"), neg("updateBooking"),
        neg("releaseBooking"), neg("getTenant"), neg("offboardTenant"), neg("listSpaces"),
        neg("getSpace"), neg("deleteSpace"), neg("deleteSpace", spaceId=SPACES[0]),
        neg("listUsers"), neg("getUser"), neg("deleteUser"), neg("listEvents"),
        neg("getConsentLink"),
    ]  # fmt: skip
    for booking in world.snapshot_bookings:  # confirmed, cancelled, released, a series
        strategies.append(neg("updateBooking", bookingId=booking))
        strategies.append(neg("releaseBooking", bookingId=booking))
    return strategies


def test_negative_every_operation_changes_nothing(
    stack: Stack, api_world: ApiWorld, schema: OpenApiSchema, session: requests.Session
) -> None:
    ops = operations(schema)
    statuses: Counter[str] = Counter()
    strategy = st.sampled_from(negative_strategies(ops, api_world)).flatmap(lambda s: s)

    @fuzz(450)
    @given(case=strategy)
    def run(case: AnyCase) -> None:
        count("api: schemathesis negative")
        r = call_and_check(case, session, statuses)
        if case.method != "GET":  # invalid input to a write is refused: a 2xx took it
            assert 400 <= r.status_code < 500, (case.operation.label, case.body, r.status_code)

    run()
    print_statuses("negative", statuses)
    assert snapshot_of(stack, api_world) == api_world.snapshot_state


def print_statuses(run: str, statuses: Counter[str]) -> None:
    print(f"\nschemathesis {run}: {sum(statuses.values())} calls")
    for key, n in sorted(statuses.items()):
        print(f"  {key}: {n}")
