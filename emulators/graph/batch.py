"""JSON batching: ``POST /v1.0/$batch`` (learn.microsoft.com/graph/json-batching).

Up to 20 requests; ``dependsOn`` orders them, and a request whose dependency failed
answers 424 Failed Dependency. Requests without dependencies run concurrently, as
Graph dispatches them, so each inner request is throttled on its own: more than
``mailboxConcurrency`` parallel inner requests to one mailbox get inner 429s.
Responses come back with per-request status, headers and body.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .dispatch import Context, GraphRequest, GraphResponse
from .errors import GraphError, bad_request, graph_error_body

MAX_REQUESTS = 20

Dispatcher = Callable[[GraphRequest], Awaitable[GraphResponse]]


def _ci(d: Mapping[str, Any], key: str) -> Any:
    for k, v in d.items():
        if str(k).lower() == key.lower():
            return v
    return None


def _inner_request(outer: GraphRequest, item: Mapping[str, Any]) -> GraphRequest:
    url = str(_ci(item, "url") or "")
    parts = urlsplit(url)
    path = parts.path
    for prefix in ("/v1.0", "v1.0"):
        if path.startswith(prefix + "/") or path == prefix:
            path = path[len(prefix) :]
    if not path.startswith("/"):
        path = "/" + path
    headers_raw = _ci(item, "headers") or {}
    if not isinstance(headers_raw, dict):
        raise bad_request("Invalid batch payload: headers must be an object.", "BadRequest")
    headers = {str(k).lower(): str(v) for k, v in headers_raw.items()}
    if "authorization" in outer.headers:
        headers.setdefault("authorization", outer.headers["authorization"])
    headers.setdefault("client-request-id", outer.client_request_id)
    body = _ci(item, "body")
    invalid = False
    if isinstance(body, str):
        try:
            body = json.loads(base64.b64decode(body))
        except (binascii.Error, ValueError):
            invalid = True
    prefer = [headers["prefer"]] if "prefer" in headers else []
    return GraphRequest(
        method=str(_ci(item, "method") or "GET").upper(),
        raw_path=path,
        query=dict(parse_qsl(parts.query, keep_blank_values=True)),
        headers=headers,
        prefer=prefer,
        body=body,
        base_url=outer.base_url,
        claims=outer.claims,
        body_invalid=invalid,
    )


async def run_batch(ctx: Context, dispatch_inner: Dispatcher) -> GraphResponse:
    body = ctx.request.body
    items = _ci(body, "requests") if isinstance(body, dict) else None
    if not isinstance(items, list) or not items:
        raise bad_request("Invalid batch payload format.", "BadRequest")
    if len(items) > MAX_REQUESTS:
        raise bad_request(
            f"Number of batch request steps exceeds the maximum of {MAX_REQUESTS}.",
            "BadRequest",
        )
    by_id: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or _ci(item, "id") is None or not _ci(item, "url"):
            raise bad_request(
                "Invalid batch payload: every request needs id, method and url.", "BadRequest"
            )
        rid = str(_ci(item, "id"))
        if rid.lower() in {k.lower() for k in by_id}:
            raise bad_request(f"Batch request ids must be unique: '{rid}'.", "BadRequest")
        by_id[rid] = item
    deps: dict[str, list[str]] = {}
    for rid, item in by_id.items():
        raw = _ci(item, "dependsOn") or []
        if not isinstance(raw, list):
            raise bad_request("dependsOn must be a list of request ids.", "BadRequest")
        for dep in raw:
            if str(dep) not in by_id:
                raise bad_request(
                    f"Request '{rid}' depends on unknown request '{dep}'.", "BadRequest"
                )
        deps[rid] = [str(d) for d in raw]
    _check_acyclic(deps)

    results: dict[str, GraphResponse] = {}
    done: dict[str, asyncio.Event] = {rid: asyncio.Event() for rid in by_id}

    async def run(rid: str) -> None:
        try:
            for dep in deps[rid]:
                await done[dep].wait()
            failed = [d for d in deps[rid] if results[d].status >= 400]
            if failed:
                results[rid] = GraphResponse(
                    424,
                    graph_error_body(
                        "BadRequest",
                        "Failed dependency",
                        ctx.request.request_id,
                        ctx.request.client_request_id,
                        ctx.emulator.clock.now(),
                    ),
                    {"Content-Type": "application/json"},
                )
                return
            inner = _inner_request(ctx.request, by_id[rid])
            results[rid] = await dispatch_inner(inner)
        except GraphError as err:
            results[rid] = GraphResponse(
                err.status,
                graph_error_body(
                    err.code,
                    err.message,
                    ctx.request.request_id,
                    ctx.request.client_request_id,
                    ctx.emulator.clock.now(),
                ),
                {"Content-Type": "application/json"},
            )
        finally:
            done[rid].set()

    await asyncio.gather(*(run(rid) for rid in by_id))
    responses = []
    for rid in by_id:
        r = results[rid]
        entry: dict[str, Any] = {"id": rid, "status": r.status, "headers": _inner_headers(r)}
        if r.body is not None:
            entry["body"] = r.body
        responses.append(entry)
    return GraphResponse(200, {"responses": responses})


def _inner_headers(r: GraphResponse) -> dict[str, str]:
    out = {
        k: v for k, v in r.headers.items() if k.lower() not in ("request-id", "client-request-id")
    }
    if r.body is not None:
        out["Content-Type"] = "application/json; odata.metadata=minimal; odata.streaming=true"
    return out


def _check_acyclic(deps: dict[str, list[str]]) -> None:
    state: dict[str, int] = {}

    def visit(n: str) -> None:
        if state.get(n) == 1:
            raise bad_request("dependsOn must not form a cycle.", "BadRequest")
        if state.get(n) == 2:
            return
        state[n] = 1
        for d in deps[n]:
            visit(d)
        state[n] = 2

    for n in deps:
        visit(n)
