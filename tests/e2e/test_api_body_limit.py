"""Request bodies past the API's size limit, through the real local host: 413 Content
Too Large (RFC 9110 §15.5.14) with the JSON error shape, on every operation that takes
a body, and nothing stored. A body of exactly the limit is still read.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from bookker_sync.functions.http_helpers import MAX_BODY_BYTES
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET, Stack

JSON = {"content-type": "application/json"}


def padded(body: dict[str, Any], size: int) -> bytes:
    """``body`` as JSON, padded with trailing whitespace (still valid JSON) to ``size``."""
    raw = json.dumps(body).encode()
    assert len(raw) <= size
    return raw + b" " * (size - len(raw))


def assert_too_large(r: httpx.Response) -> None:
    assert r.status_code == 413, (r.status_code, r.text[:300])
    assert r.headers["content-type"].startswith("application/json"), r.headers
    error = r.json()["error"]
    assert error["code"] == "PayloadTooLarge", error
    assert str(MAX_BODY_BYTES) in error["message"], error


def test_one_byte_over_the_limit_is_413_and_stores_nothing(stack: Stack) -> None:
    graph_tenant = str(uuid.uuid4())
    stack.emulator.add_tenant(graph_tenant, APP_CLIENT_ID, APP_SECRET)
    url = f"/api/tenants/t-{uuid.uuid4().hex[:10]}"
    body = {"graphTenantId": graph_tenant, "mode": "unidirectional"}

    assert_too_large(stack.http.put(url, content=padded(body, MAX_BODY_BYTES + 1), headers=JSON))
    # The limit itself is allowed, and this is a creation: the 413 stored nothing.
    r = stack.http.put(url, content=padded(body, MAX_BODY_BYTES), headers=JSON)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", ""),
        ("PUT", "/spaces/room1"),
        ("PUT", "/users/alice"),
        ("POST", "/bookings"),
        ("PATCH", "/bookings/b1"),
        ("POST", "/bookings/b1/release"),
    ],
)
def test_every_operation_with_a_body_answers_413(stack: Stack, method: str, path: str) -> None:
    t = stack.new_tenant("unidirectional")
    raw = padded({"name": "x"}, 4 * MAX_BODY_BYTES)
    r = stack.http.request(method, f"/api/tenants/{t.id}{path}", content=raw, headers=JSON)
    assert_too_large(r)
