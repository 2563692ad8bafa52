"""Hostile request bodies against the Bookker API's writing operations, all aimed at
existing resources of the snapshot tenant (its space, its user, its bookings).

Every body here is invalid by construction (not JSON, not an object, too big, too deep,
a field missing, unknown or of the wrong type at any nesting level, a time without an
offset or out of range...). Properties: the answer is exactly 400 (413 for a body past
the size limit) with the JSON error shape ``{"error": {"code", "message"}}``, never a
5xx, and afterwards the tenant, its spaces, users and every stored booking are exactly
as before.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.domain.models import WEEKDAYS, SpaceRules, TimeRange, UserRules
from bookker_sync.domain.recurrence import Recurrence
from bookker_sync.functions.api_models import (
    ID_PATTERN,
    BookingCreate,
    BookingPatch,
    ReleaseRequest,
    SpacePut,
    TenantPut,
    UserPut,
)
from bookker_sync.functions.http_helpers import MAX_BODY_BYTES
from tests.fuzz import strategies as hs
from tests.fuzz.api_world import SPACES, USERS, ApiWorld, snapshot_of
from tests.fuzz.budget import count, fuzz
from tests.support.functions_host import Stack

Path = tuple[str | int, ...]  # keys and list indexes


@dataclass(frozen=True)
class Target:
    """One writing operation on an existing resource: its valid body and, for every
    field (nested ones too), what kind of value it takes."""

    method: str
    url: str
    body: dict[str, Any]
    fields: dict[Path, str]
    required: tuple[Path, ...] = ()


DT = "2031-03-04T10:00:00+00:00"
SPACE_RULES = {"timeZone": "Europe/Madrid", "minMinutes": 15, "maxMinutes": 600,
               "bookingWindowDays": 3650, "allowedGroups": ["staff"],
               "openingHours": {"monday": [{"start": "00:00", "end": "24:00"}]}}  # fmt: skip


def targets(world: ApiWorld) -> list[Target]:
    t = world.snapshot
    booking = world.snapshot_bookings[0]
    return [
        Target("PUT", f"tenants/{t.id}",
               {"graphTenantId": t.graph_tenant_id, "mode": "unidirectional", "displayName": "x"},
               {("graphTenantId",): "str64", ("mode",): "enum", ("displayName",): "str200"},
               # graphTenantId may be left out (the binding is kept: consent binds it).
               (("mode",),)),
        Target("PUT", f"tenants/{t.id}/spaces/{SPACES[0]}",
               {"name": "Desk", "capacity": 1, "resourceEmail": "desk@contoso.test",
                "rules": SPACE_RULES},
               {("name",): "str200", ("capacity",): "int?", ("resourceEmail",): "email?",
                ("rules",): "object", ("rules", "timeZone"): "zone",
                ("rules", "minMinutes"): "int?", ("rules", "maxMinutes"): "int?",
                ("rules", "bookingWindowDays"): "int?", ("rules", "allowedGroups"): "strings",
                ("rules", "openingHours"): "object?", ("rules", "openingHours", "monday"): "list",
                ("rules", "openingHours", "monday", 0): "object",
                ("rules", "openingHours", "monday", 0, "start"): "hhmm"},
               (("name",),)),
        Target("PUT", f"tenants/{t.id}/users/{USERS[0]}",
               {"email": "ann@contoso.test", "groups": ["staff"],
                "rules": {"maxBookingsPerDay": 5, "maxMinutesPerBooking": 600}},
               {("email",): "email", ("groups",): "strings", ("rules",): "object",
                ("rules", "maxBookingsPerDay"): "int?", ("rules", "maxMinutesPerBooking"): "int?"},
               (("email",),)),
        Target("POST", f"tenants/{t.id}/bookings",
               {"spaceId": SPACES[1], "userId": USERS[1], "start": DT,
                "end": "2031-03-04T11:00:00+00:00", "subject": "s",
                "recurrence": {"pattern": "daily", "interval": 1, "count": 2}},
               {("spaceId",): "id", ("userId",): "id", ("start",): "datetime",
                ("end",): "datetime", ("subject",): "str255", ("recurrence",): "object?",
                ("recurrence", "pattern"): "enum", ("recurrence", "interval"): "int",
                ("recurrence", "count"): "int?"},
               (("spaceId",), ("userId",), ("start",), ("end",))),
        Target("PATCH", f"tenants/{t.id}/bookings/{booking}",
               {"start": DT, "end": "2031-03-04T12:00:00+00:00", "subject": "changed"},
               {("start",): "datetime?", ("end",): "datetime?", ("subject",): "str255?"}),
        Target("POST", f"tenants/{t.id}/bookings/{booking}/release", {"reason": "fuzz"},
               {("reason",): "str500"}, (("reason",),)),
    ]  # fmt: skip


# -- values that are wrong for a kind of field -------------------------------------
not_str = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(),
                    st.lists(st.text(max_size=3), max_size=2),
                    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))  # fmt: skip
not_int = st.one_of(
    st.text(max_size=8),  # "5" too: the API reads JSON strictly, as its schema says
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda f: not f.is_integer()),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(),
                                                         max_size=2),
)  # fmt: skip
bad_datetimes = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),  # unix times are not ISO 8601
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from([
        "2031-03-04T10:00:00",  # no offset
        "2031-03-04", "10:00:00Z", "2031-03-04T25:00:00Z", "2031-02-30T10:00:00Z", "",
        "now", "tomorrow", "2000000000", "1e9", "0x7fffffff",
        "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00",  # not representable in UTC
        "2031-03-04T10:00:00+24:00", "2031-03-04T10:00:00 +00:00", "\u0662\u0660\u0663\u0661-03-04",
    ]),
    st.lists(st.just(DT), min_size=1, max_size=2),
    st.fixed_dictionaries({"dateTime": st.just(DT)}),
)  # fmt: skip


def wrong_for(kind: str) -> st.SearchStrategy[Any]:
    nullable = kind.endswith("?")
    base = kind.rstrip("?")
    null = st.nothing() if nullable else st.none()
    if base.startswith("str") and base[3:].isdigit():
        limit = int(base[3:])
        long = st.integers(limit + 1, limit + 40).map(lambda n: "x" * n)
        empty = st.just("") if base in ("str64", "str500") else st.nothing()
        return st.one_of(not_str, null, long, empty)
    if base == "int":
        return st.one_of(not_int, null, st.sampled_from([-1, -(2**70)]))  # every int is >= 0
    if base == "datetime":
        return st.one_of(bad_datetimes, null)
    if base == "enum":
        return st.one_of(st.sampled_from(["UNIDIRECTIONAL", "hourly", "", " daily"]),
                         st.integers(), null, st.lists(st.just("daily"), max_size=1))  # fmt: skip
    if base in ("id", "email"):
        bad = ["", "a b", "../x", "x/y", "a\n", "\u202eabc", "@", "a@", "@b", "a@b@c",
               "x" * 65, "é", "a\x00b", "-a", ".a"]  # fmt: skip
        return st.one_of(not_str, null, st.sampled_from(bad))
    if base == "zone":
        return st.one_of(not_str, null,
                         st.sampled_from(["Mars/Base", "Europe", "../etc/passwd", "", "utc+1",
                                          "\x00", "Europe/Madrid\n"]))  # fmt: skip
    if base == "hhmm":
        return st.one_of(not_str, null, st.sampled_from(["24:00", "8:00", "08:60", "0800", ""]))
    if base == "strings":
        return st.one_of(st.text(max_size=5), st.integers(), null,
                         st.dictionaries(st.text(max_size=3), st.text(max_size=3), min_size=1,
                                         max_size=2),
                         st.lists(not_str, min_size=1, max_size=2))  # fmt: skip
    if base == "list":
        return st.one_of(
            st.text(max_size=5),
            st.integers(),
            null,
            st.dictionaries(st.text(max_size=3), st.text(max_size=3), max_size=2),
        )
    assert base == "object", kind
    return st.one_of(st.text(max_size=5), st.integers(), st.booleans(), null,
                     st.lists(st.integers(), max_size=2))  # fmt: skip


def _set(body: Any, path: Path, value: Any) -> None:
    for key in path[:-1]:
        body = body[key]
    body[path[-1]] = value


def _delete(body: Any, path: Path) -> None:
    for key in path[:-1]:
        body = body[key]
    del body[path[-1]]


KNOWN_KEYS = {
    name
    for model in (
        TenantPut,
        SpacePut,
        UserPut,
        BookingCreate,
        BookingPatch,
        ReleaseRequest,
        SpaceRules,
        UserRules,
        TimeRange,
        Recurrence,
    )
    for field, info in model.model_fields.items()
    for name in (field, info.alias)
    if name
} | set(WEEKDAYS)
"""Field names of every request model (camelCase and snake_case, which pydantic also
accepts), and the weekday keys of openingHours: an added key outside these is unknown."""


@st.composite
def invalid_json_body(draw: st.DrawFn, target: Target) -> Any:
    """The target's valid body made invalid in exactly one field (any depth)."""
    body = json.loads(json.dumps(target.body))
    how = draw(st.sampled_from(["wrong", "wrong", "wrong", "missing", "unknown"]))
    if how == "missing" and target.required:
        _delete(body, draw(st.sampled_from(target.required)))
        return body
    if how == "unknown":
        objects = [()] + [p for p, k in target.fields.items() if k.rstrip("?") == "object"
                          and isinstance(_get(body, p), dict)]  # fmt: skip
        parent: Path = draw(st.sampled_from(objects))
        key = draw(st.one_of(st.sampled_from(["id", "tenantId", "status", "__proto__", "$ref",
                                              "constructor", "", "extra"]),
                             hs.nasty_text).filter(lambda k: k not in KNOWN_KEYS))  # fmt: skip
        _set(body, (*parent, key), draw(hs.json_values))
        return body
    path = draw(st.sampled_from(sorted(target.fields, key=str)))
    _set(body, path, draw(wrong_for(target.fields[path])))
    return body


def _get(body: Any, path: Path) -> Any:
    for key in path:
        body = body[key]
    return body


@st.composite
def hostile_body(draw: st.DrawFn, target: Target) -> bytes:
    kind = draw(st.sampled_from(["field", "field", "field", "field", "garbage", "broken",
                                 "deep", "deep-field", "huge-number", "too-big", "not-object"]))  # fmt: skip
    if kind == "field":
        return draw(hs.encoded(draw(invalid_json_body(target))))
    if kind == "garbage":
        return draw(hs.garbage_bytes.filter(lambda b: not _is_json_object(b)))
    if kind == "broken":
        return draw(hs.broken_json(target.body).filter(lambda b: not _is_json_object(b)))
    if kind == "deep":
        return draw(hs.deep_nesting())
    if kind == "deep-field":  # a valid body whose one extra field nests deeply
        return (
            json.dumps(target.body)[:-1].encode() + b', "deep": ' + draw(hs.deep_nesting()) + b"}"
        )
    if kind == "huge-number":
        return json.dumps(target.body)[:-1].encode() + b', "n": ' + draw(hs.huge_number) + b"}"
    if kind == "too-big":  # valid JSON, a field padded past the body limit
        pad = draw(st.integers(MAX_BODY_BYTES + 1, MAX_BODY_BYTES + 4096))
        return json.dumps({**target.body, "pad": "x" * pad}).encode()
    return draw(hs.encoded(draw(hs.json_values.filter(lambda v: not isinstance(v, dict)))))


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw.decode("utf-8")), dict)
    except (ValueError, RecursionError):
        return False


def check_error(r: httpx.Response, status: int = 400) -> None:
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str), r.text


@fuzz(450)
@given(data=st.data())
def test_hostile_bodies_are_refused_and_change_nothing(
    stack: Stack, api_world: ApiWorld, data: st.DataObject
) -> None:
    target = data.draw(st.sampled_from(targets(api_world)), label="target")
    raw = data.draw(hostile_body(target), label="body")
    count("api: hostile bodies")
    r = stack.http.request(target.method, f"/api/{target.url}", content=raw,
                           headers={"content-type": "application/json"})  # fmt: skip
    # Too big is not malformed: 413 Content Too Large (RFC 9110 §15.5.14).
    check_error(r, 413 if len(raw) > MAX_BODY_BYTES else 400)
    if r.status_code == 413:
        assert r.json()["error"]["code"] == "PayloadTooLarge", r.text


hostile_ids = st.one_of(
    st.tuples(st.sampled_from([SPACES[0], USERS[0], "x"]),
              st.sampled_from(["\n", "\r\n", "\x00", " ", "%", "\u202e", "\t", "é", "@", "+", "~"]))
    .map(lambda t: t[0] + t[1]),
    st.sampled_from(["." + SPACES[0], "-" + USERS[0], "x" * 65, "\n" + SPACES[0], "%00", "%2e"]),
    hs.nasty_text.filter(lambda v: v not in ("", ".", "..") and "/" not in v),
).filter(lambda v: not re.fullmatch(ID_PATTERN, v))  # fmt: skip
"""Path ids that are not ids: valid ones with a stray character, or anything else."""


@fuzz(150)
@given(data=st.data())
def test_hostile_path_ids_change_nothing(
    stack: Stack, api_world: ApiWorld, data: st.DataObject
) -> None:
    """A route id outside 1-64 of [A-Za-z0-9._-] is refused (400, or 404 when the host
    finds no route), even with a valid body: no space, user or booking appears."""
    t = api_world.snapshot.id
    hostile = quote(data.draw(hostile_ids, label="id"), safe="")
    booking = api_world.snapshot_bookings[0]
    method, url, body = data.draw(st.sampled_from([
        ("PUT", f"tenants/{hostile}", {"graphTenantId": "g", "mode": "unidirectional"}),
        ("PUT", f"tenants/{t}/spaces/{hostile}", {"name": "Desk"}),
        ("PUT", f"tenants/{t}/users/{hostile}", {"email": "x@contoso.test"}),
        ("POST", f"tenants/{hostile}/bookings", {"spaceId": SPACES[0], "userId": USERS[0],
                                                "start": DT, "end": "2031-03-04T11:00:00Z"}),
        ("GET", f"tenants/{t}/bookings/{hostile}", None),
        ("PATCH", f"tenants/{t}/bookings/{hostile}", {"subject": "changed"}),
        ("DELETE", f"tenants/{t}/bookings/{hostile}", None),
        ("POST", f"tenants/{t}/bookings/{hostile}/release", {"reason": "r"}),
        ("PATCH", f"tenants/{hostile}/bookings/{booking}", {"subject": "changed"}),
    ]), label="request")  # fmt: skip
    count("api: hostile path ids")
    r = stack.http.request(method, f"/api/{url}", json=body)
    assert r.status_code in (400, 404, 405), (r.status_code, r.text[:300])
    check_error(r, r.status_code)


def test_hostile_bodies_left_the_snapshot_tenant_alone(stack: Stack, api_world: ApiWorld) -> None:
    """Runs after the fuzz tests above (file order): the snapshot tenant, as stored and
    as listed, is exactly what it was when the world was built."""
    assert snapshot_of(stack, api_world) == api_world.snapshot_state
