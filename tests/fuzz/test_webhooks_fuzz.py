"""Hostile input to graph_notifications / graph_lifecycle through the real local host.

Properties, for every generated request:
- never a 5xx: the answer is 200 (handshake), 202, 400 or 413, and every non-handshake
  answer is JSON (``{"accepted", "rejected"}`` or ``{"error": {"code", "message"}}``);
- an item is accepted only if it is authentic (known subscription, its exact
  clientState, its tenant), and authentic items mixed into a hostile batch still are;
- nothing invalid is ever poked: a *decoy* mailbox that only ever appears in invalid
  items never records a notification, while the *live* mailbox of the valid items does
  (both belong to a unidirectional tenant, so a poke costs no Graph call);
- the validation handshake echoes the token exactly, as text/plain.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from bookker_sync.functions.webhooks import MAX_BODY_BYTES, MAX_ITEMS
from tests.fuzz import strategies as hs
from tests.fuzz.budget import CASES, count, fuzz
from tests.fuzz.storage import last_notification, register_subscription
from tests.support.functions_host import Stack, wait_for

PATHS = ["/api/graph/notifications", "/api/graph/lifecycle"]
AUTH_KEYS = ("subscriptionId", "clientState", "tenantId")


@dataclass(frozen=True)
class Sub:
    id: str
    secret: str
    graph_tenant: str
    tenant_id: str
    mailbox: str


@dataclass(frozen=True)
class World:
    live: Sub  # valid items point here
    decoy: Sub  # only ever named by invalid items
    other: Sub  # another tenant's subscription: its secret must not work for ours
    marker: Sub  # poked once at the end: when it is processed, everything before is


@pytest.fixture(scope="module")
def world(stack: Stack) -> World:
    def sub(tenant: Any, local: str) -> Sub:
        mailbox = tenant.address(local)
        sub_id, secret = register_subscription(stack, tenant.id, mailbox, tenant.graph_tenant_id)
        return Sub(sub_id, secret, tenant.graph_tenant_id, tenant.id, mailbox)

    first, second = stack.new_tenant("unidirectional"), stack.new_tenant("unidirectional")
    return World(
        live=sub(first, "live"),
        decoy=sub(first, "decoy"),
        other=sub(second, "other"),
        marker=sub(first, "marker"),
    )


# -- items -------------------------------------------------------------------------
extra_fields = st.dictionaries(
    st.one_of(
        st.sampled_from(["changeType", "resource", "resourceData", "subscriptionExpirationDateTime",
                         "encryptedContent", "@odata.type", "id", ""]),
        hs.hostile_text,
    ).filter(lambda k: k not in AUTH_KEYS and k != "lifecycleEvent"),
    hs.json_values,
    max_size=3,
)  # fmt: skip


LIFECYCLE_EVENTS = ["missed", "reauthorizationRequired", "subscriptionRemoved", "other"]


@st.composite
def valid_item(draw: st.DrawFn, sub: Sub) -> dict[str, Any]:
    """Authentic: its subscription, exact clientState, its tenant (any letter case),
    whatever else it carries; now and then a lifecycle event (of any content: the
    mailboxes here have no subscription record, so the worker only logs it)."""
    tenant = draw(st.sampled_from([sub.graph_tenant, sub.graph_tenant.upper()]))
    auth = {"subscriptionId": sub.id, "clientState": sub.secret, "tenantId": tenant}
    extras = draw(extra_fields)
    if draw(st.integers(0, 4)) == 0:
        extras["lifecycleEvent"] = draw(
            st.one_of(st.sampled_from(LIFECYCLE_EVENTS), hs.json_values)
        )
    return {**auth, **extras} if draw(st.booleans()) else {**extras, **auth}


def _not_equal(expected: str) -> Any:
    return lambda v: v != expected


def _not_tenant(expected: str) -> Any:
    return lambda v: not (isinstance(v, str) and v.lower() == expected.lower())


@st.composite
def wrong_state(draw: st.DrawFn, secret: str) -> Any:
    return draw(st.one_of(
        hs.json_values.filter(_not_equal(secret)),
        st.sampled_from([secret[:-1], secret + "x", secret.upper(), " " + secret, secret + "\x00",
                         secret + "\ud800", secret[:-1] + "\ud800", [secret], {"v": secret}, "",
                         secret.encode().hex()]),
    ))  # fmt: skip


@st.composite
def invalid_item(draw: st.DrawFn, world: World) -> Any:
    """Not authentic for the decoy (or for nothing at all): exactly one way wrong, or
    not an object at all."""
    sub = world.decoy
    base: dict[str, Any] = {"subscriptionId": sub.id, "clientState": sub.secret,
                            "tenantId": sub.graph_tenant}  # fmt: skip
    how = draw(st.sampled_from(
        ["not-object", "state", "tenant", "subscription", "missing", "cross", "other-tenant"]
    ))  # fmt: skip
    if how == "not-object":
        return draw(hs.json_values.filter(lambda v: not isinstance(v, dict)))
    if how == "state":
        base["clientState"] = draw(wrong_state(sub.secret))
    elif how == "tenant":
        base["tenantId"] = draw(st.one_of(
            hs.json_values, st.sampled_from([world.other.graph_tenant, sub.graph_tenant + " ",
                                             sub.graph_tenant[:-1], sub.graph_tenant + "\ud800"]),
        ).filter(_not_tenant(sub.graph_tenant)))  # fmt: skip
    elif how == "subscription":
        near = [sub.id.upper(), sub.id + "\x00", sub.id + "/", "'" + sub.id, sub.id + "\ud800",
                sub.id * 10, "", "%", "a/b", "a#b", "a?b", "\\", "..", "'", "\x00"]  # fmt: skip
        known = (sub.id, world.live.id, world.other.id, world.marker.id)
        base["subscriptionId"] = draw(
            st.one_of(hs.json_values, st.sampled_from(near)).filter(lambda v: v not in known)
        )
    elif how == "missing":
        del base[draw(st.sampled_from(AUTH_KEYS))]
    elif how == "cross":  # the live subscription's secret is no key to the decoy
        base["clientState"] = world.live.secret
    else:  # another tenant's subscription and secret, our tenant id
        base = {"subscriptionId": world.other.id, "clientState": world.other.secret,
                "tenantId": draw(st.sampled_from([world.decoy.graph_tenant, "common", ""]))}  # fmt: skip
    extras = draw(extra_fields)
    return {**base, **extras} if draw(st.booleans()) else {**extras, **base}


@st.composite
def mixed_batch(draw: st.DrawFn, world: World) -> tuple[list[Any], int]:
    """(items, how many are valid): valid live items, replays included, among invalid ones."""
    valid = draw(st.lists(valid_item(world.live), max_size=3))
    replays = draw(st.integers(0, 3)) if valid else 0
    invalid = draw(st.lists(invalid_item(world), max_size=4))
    items = draw(st.permutations(valid + valid[:1] * replays + invalid))
    return list(items), len(valid) + replays


# -- checks ------------------------------------------------------------------------
def check_answer(r: httpx.Response) -> None:
    assert r.status_code in (202, 400, 413), (r.status_code, r.text[:500])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    if r.status_code == 202:
        assert set(body) == {"accepted", "rejected"}, body
    else:
        assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)


def post(stack: Stack, path: str, content: bytes) -> httpx.Response:
    return stack.http.post(path, content=content, headers={"content-type": "application/json"})


# -- the oracle: what the endpoint must answer, from the spec ----------
def expected(world: World, raw: bytes) -> tuple[int, int]:
    """(status, accepted items) the endpoint must answer for ``raw``."""
    if len(raw) > MAX_BODY_BYTES:
        return 413, 0
    try:
        body = json.loads(raw.decode("utf-8"))
    except (ValueError, RecursionError):
        return 400, 0
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return 400, 0
    if len(body["value"]) > MAX_ITEMS:
        return 413, 0
    subs = {s.id: s for s in (world.live, world.decoy, world.other, world.marker)}
    return 202, sum(1 for item in body["value"] if _authentic(subs, item))


def _authentic(subs: dict[str, Sub], item: Any) -> bool:
    if not isinstance(item, dict):
        return False
    sub_id, tenant = item.get("subscriptionId"), item.get("tenantId")
    sub = subs.get(sub_id) if isinstance(sub_id, str) else None
    return (
        sub is not None
        and item.get("clientState") == sub.secret
        and isinstance(tenant, str)
        and tenant.lower() == sub.graph_tenant.lower()
    )


def check_against_oracle(world: World, raw: bytes, r: httpx.Response) -> None:
    check_answer(r)
    status, accepted = expected(world, raw)
    assert r.status_code == status, (status, r.status_code, r.text[:300])
    if status == 202:
        total = len(json.loads(raw.decode("utf-8"))["value"])
        assert r.json() == {"accepted": accepted, "rejected": total - accepted}, r.text


# -- tests -------------------------------------------------------------------------
@st.composite
def hostile_body(draw: st.DrawFn, world: World) -> tuple[bytes, tuple[int, int] | None]:
    """(raw body, None) — or, for a batch with deep nesting in one item, (raw, (accepted,
    rejected)): whether a parser's nesting limit trips there is its own business, so
    400 and 202 with those counts are both right."""
    kind = draw(st.sampled_from(
        ["garbage", "json-any", "value-any", "items-any", "broken", "deep", "deep-value",
         "deep-lifecycle", "huge-number", "mixed", "mixed-raw-utf8"]
    ))  # fmt: skip
    if kind == "garbage":
        return draw(hs.garbage_bytes), None
    if kind == "json-any":
        return draw(hs.encoded(draw(hs.json_values))), None
    if kind == "value-any":
        return draw(hs.encoded({"value": draw(hs.json_values)})), None
    if kind == "items-any":
        return draw(hs.encoded({"value": draw(st.lists(hs.json_values, max_size=5))})), None
    if kind == "broken":
        items, _ = draw(mixed_batch(world))
        return draw(hs.broken_json({"value": items})), None
    if kind == "deep":  # never a batch, however deep: always 400
        return draw(hs.deep_nesting()), None
    if kind == "deep-value":
        items, valid = draw(mixed_batch(world))
        prefix = json.dumps({"value": items})[:-2].encode()
        raw = prefix + (b"," if items else b"") + draw(hs.deep_nesting()) + b"]}"
        return raw, (valid, len(items) + 1 - valid)
    if kind == "deep-lifecycle":  # an authentic lifecycle item carrying deep nesting
        item = {"subscriptionId": world.live.id, "clientState": world.live.secret,
                "tenantId": world.live.graph_tenant, "lifecycleEvent": "missed"}  # fmt: skip
        raw = json.dumps({"value": [item]})[:-3].encode() + b', "x": ' + draw(hs.deep_nesting())
        return raw + b"}]}", (1, 0)
    if kind == "huge-number":
        return b'{"value": [' + draw(hs.huge_number) + b"]}", None
    items, _ = draw(mixed_batch(world))
    return (hs.dumps if kind == "mixed" else hs.dumps_utf8)({"value": items}), None


@fuzz(600)
@given(data=st.data())
def test_hostile_bodies(stack: Stack, world: World, data: st.DataObject) -> None:
    raw, deep = data.draw(hostile_body(world))
    path = data.draw(st.sampled_from(PATHS))
    count("webhooks: hostile bodies")
    r = post(stack, path, raw)
    if deep is None:
        check_against_oracle(world, raw, r)
        return
    check_answer(r)
    assert r.status_code in (202, 400), r.text
    if r.status_code == 202:
        assert r.json() == {"accepted": deep[0], "rejected": deep[1]}, r.text


@fuzz(350)
@given(data=st.data())
def test_mixed_batches_accept_exactly_the_valid_items(
    stack: Stack, world: World, data: st.DataObject
) -> None:
    items, valid = data.draw(mixed_batch(world))
    path = data.draw(st.sampled_from(PATHS))
    raw = data.draw(st.sampled_from([hs.dumps, hs.dumps_utf8]))({"value": items})
    count("webhooks: mixed batches")
    r = post(stack, path, raw)
    check_answer(r)
    if not _is_utf8(raw):  # a raw lone surrogate: the whole batch is malformed
        assert r.status_code == 400, r.text
        return
    assert r.status_code == 202, r.text
    assert r.json() == {"accepted": valid, "rejected": len(items) - valid}
    if data.draw(st.booleans(), label="replay the batch"):  # Graph retries: same answer
        again = post(stack, path, raw)
        assert (again.status_code, again.json()) == (202, r.json()), again.text


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@fuzz(40)
@given(
    size=st.one_of(
        st.integers(MAX_BODY_BYTES - 4096, MAX_BODY_BYTES + 4096),
        st.sampled_from([MAX_BODY_BYTES, MAX_BODY_BYTES + 1, 4 * MAX_BODY_BYTES]),
    ),
    path=st.sampled_from(PATHS),
    lifecycle=st.booleans(),
)
def test_huge_bodies(stack: Stack, world: World, size: int, path: str, lifecycle: bool) -> None:
    """Up to 1 MiB a batch is read (its valid item accepted, even as a lifecycle event
    too big for one queue message); one byte more is 413."""
    item = {"subscriptionId": world.live.id, "clientState": world.live.secret,
            "tenantId": world.live.graph_tenant, "pad": ""}  # fmt: skip
    if lifecycle:
        item["lifecycleEvent"] = "missed"
    frame = len(json.dumps({"value": [item]}).encode())
    item["pad"] = "x" * max(size - frame, 0)
    raw = json.dumps({"value": [item]}).encode()
    assert len(raw) == max(size, frame)
    count("webhooks: huge bodies")
    r = post(stack, path, raw)
    check_answer(r)
    if len(raw) > MAX_BODY_BYTES:
        assert r.status_code == 413, r.text
    else:
        assert r.status_code == 202 and r.json() == {"accepted": 1, "rejected": 0}, r.text


@fuzz(4)
@given(n=st.sampled_from([MAX_ITEMS - 1, MAX_ITEMS, MAX_ITEMS + 1, 5 * MAX_ITEMS]))
def test_too_many_items(stack: Stack, world: World, n: int) -> None:
    items = [{"subscriptionId": "x"}] * n
    count("webhooks: item count")
    r = post(stack, PATHS[0], json.dumps({"value": items}).encode())
    check_answer(r)
    assert r.status_code == (413 if n > MAX_ITEMS else 202), r.text


token_text = st.one_of(
    st.text(st.characters(codec="utf-8"), max_size=200),
    st.text(st.sampled_from(hs.NASTY_CHARS), max_size=60),
    st.sampled_from([
        "", "<script>alert(1)</script>", "a&b=c", "%", "%25", "+", " ", "\r\nX-Injected: 1",
        "\x00", "\u202egnp.exe", "\U0001f600" * 40, '"quoted"', "null", "validationToken=1",
    ]),
)  # fmt: skip


@fuzz(350)
@given(token=token_text, path=st.sampled_from(PATHS), body=hs.garbage_bytes)
def test_validation_handshake_echoes_hostile_tokens(
    stack: Stack, token: str, path: str, body: bytes
) -> None:
    count("webhooks: handshake tokens")
    r = stack.http.post(path, params={"validationToken": token}, content=body)
    assert r.status_code == 200, (r.status_code, r.text[:300])
    assert r.headers["content-type"] == "text/plain; charset=utf-8", r.headers
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.content == token.encode("utf-8")


@fuzz(60)
@given(raw=st.binary(min_size=1, max_size=12), path=st.sampled_from(PATHS))
def test_handshake_with_undecodable_token_bytes(stack: Stack, raw: bytes, path: str) -> None:
    """Percent-encoded bytes that are not UTF-8 (lone surrogates among them): never a
    5xx, and a 200 is still an inert text/plain echo, itself valid UTF-8 (the host
    decodes the query with replacement characters)."""
    quoted = "".join(f"%{b:02X}" for b in raw + b"\xed\xa0\x80")
    count("webhooks: undecodable tokens")
    r = stack.http.post(f"{path}?validationToken={quoted}")
    assert r.status_code in (200, 400), (r.status_code, r.text[:300])
    if r.status_code == 200:
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        r.content.decode("utf-8")  # the undecodable bytes are not reflected raw


def test_zz_only_valid_items_were_ever_poked(stack: Stack, world: World) -> None:
    """Runs after the fuzz tests above (file order): the pokes of the valid items were
    processed (live mailbox), no invalid item ever poked (decoy and other mailboxes)."""
    marker = world.marker
    item = {"subscriptionId": marker.id, "clientState": marker.secret,
            "tenantId": marker.graph_tenant}  # fmt: skip
    r = post(stack, PATHS[0], json.dumps({"value": [item]}).encode())
    assert r.status_code == 202 and r.json()["accepted"] == 1, r.text
    # The marker's poke was enqueued after every fuzz request: once it is processed,
    # so is anything the fuzz requests enqueued (plus a second for stragglers).
    wait_for(lambda: last_notification(stack, marker.tenant_id, marker.mailbox), timeout=30)
    time.sleep(1.0)
    assert last_notification(stack, world.decoy.tenant_id, world.decoy.mailbox) is None
    assert last_notification(stack, world.other.tenant_id, world.other.mailbox) is None
    ran = sum(n for k, n in CASES.items() if k.startswith("webhooks"))
    if ran:  # (alone, this test has no fuzz run to look at)
        assert last_notification(stack, world.live.tenant_id, world.live.mailbox) is not None
    print(f"webhook fuzz cases: {ran}")
