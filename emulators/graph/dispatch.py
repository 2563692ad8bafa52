"""One Graph request through auth, routing, tenant scoping, faults, throttling, stats.

Shared by top-level HTTP requests and the inner requests of ``$batch`` (each inner
request is resolved, throttled, faulted and counted on its own, as on Graph).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from . import router
from .auth import TokenClaims
from .directory import Mailbox
from .errors import GraphError, access_denied, graph_error_body
from .lost_answers import WRITE_METHODS, gateway_timeout, service_unavailable
from .state import Emulator

log = logging.getLogger("emulators.graph")

JSON_TYPE = (
    "application/json;odata.metadata=minimal;odata.streaming=true;"
    "IEEE754Compatible=false;charset=utf-8"
)


@dataclass
class GraphRequest:
    method: str
    raw_path: str  # below /v1.0, still percent-encoded, no query string
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    prefer: list[str]
    body: Any
    base_url: str  # https://localhost:PORT
    claims: TokenClaims | None = None
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    body_invalid: bool = False

    @property
    def client_request_id(self) -> str:
        return self.headers.get("client-request-id") or self.request_id


@dataclass
class GraphResponse:
    status: int
    body: Any = None  # JSON-able, or None for no content
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection instead of answering (a lost answer)


@dataclass
class Context:
    emulator: Emulator
    request: GraphRequest
    match: router.Match
    mailbox: Mailbox | None


Handler = Callable[[Context], Awaitable[GraphResponse]]


def error_response(emu: Emulator, req: GraphRequest, err: GraphError) -> GraphResponse:
    body = graph_error_body(
        err.code, err.message, req.request_id, req.client_request_id, emu.clock.now()
    )
    return GraphResponse(err.status, body, dict(err.headers))


def _resolve_mailbox(emu: Emulator, claims: TokenClaims, user: str) -> Mailbox:
    mb = emu.world.directory.resolve(user)
    if mb is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{user}' is invalid.")
    if mb.tenant_id != claims.tenant_id:
        raise access_denied()
    return mb


async def _lose_answer(
    emu: Emulator, req: GraphRequest, template: str, mailbox: str | None, inner: bool
) -> GraphResponse | None:
    """After a request was applied: the failure the client sees instead, if any
    (``lost_answers``)."""
    rule = emu.answer_rules.take(req.method, template, mailbox)
    if rule is None:
        if template != "/$batch" and req.method in WRITE_METHODS:
            injected = emu.throttler.applied_then_fail()
            if injected is not None:
                raise injected
        return None
    if rule.timeout_seconds > 0:
        await asyncio.sleep(rule.timeout_seconds)
    if rule.answer == 503:
        raise service_unavailable(emu.faults.retryAfterSeconds)
    if rule.answer == 504 or inner:
        raise gateway_timeout()
    return GraphResponse(504, drop=True)


async def dispatch(
    emu: Emulator,
    req: GraphRequest,
    handlers: Mapping[str, Handler],
    *,
    inner: bool = False,
) -> GraphResponse:
    template = "(unmatched)"
    label: str | None = None
    acquired: tuple[str, str] | None = None
    try:
        route_error: GraphError | None = None
        match: router.Match | None = None
        try:
            match = router.match(req.method, req.raw_path)
            template = match.route.template
        except GraphError as exc:
            route_error = exc
        if req.claims is None:
            req.claims = emu.issuer.validate(req.headers.get("authorization"))
        claims = req.claims
        if route_error is not None:
            raise route_error
        assert match is not None
        if inner and match.route.handler == "batch":
            raise GraphError(400, "BadRequest", "A batch request cannot contain another batch.")
        mailbox: Mailbox | None = None
        if "id" in match.params:
            mailbox = _resolve_mailbox(emu, claims, match.params["id"])
            label = mailbox.key
        if req.body_invalid:
            raise GraphError(
                400,
                "BadRequest",
                "Unable to read JSON request payload. Please ensure "
                "Content-Type header is set and payload is of valid JSON format.",
            )
        delayed = emu.answer_rules.take(req.method, template, label, before=True)
        if delayed is not None:  # a slow path: later requests may overtake this one
            await asyncio.sleep(delayed.timeout_seconds)
        injected = emu.throttler.inject()
        if injected is not None:
            raise injected
        if mailbox is not None:
            refused = emu.throttler.acquire(claims.client_id, mailbox.key, emu.clock.now())
            if refused is not None:
                raise refused
            acquired = (claims.client_id, mailbox.key)
        if emu.faults.latencyMs > 0 and match.route.handler != "batch":
            await asyncio.sleep(emu.faults.latencyMs / 1000)
        emu.world.pump()
        response = await handlers[match.route.handler](Context(emu, req, match, mailbox))
        emu.world.pump()
        if response.status < 300:
            response = await _lose_answer(emu, req, template, label, inner) or response
    except GraphError as err:
        response = error_response(emu, req, err)
    except Exception:  # an emulator bug: answer like Graph's 500, keep serving
        log.exception("unhandled error in %s %s", req.method, req.raw_path)
        response = error_response(
            emu, req, GraphError(500, "generalException", "An internal server error occurred.")
        )
    finally:
        if acquired is not None:
            emu.throttler.release(*acquired)
    response.headers.setdefault("request-id", req.request_id)
    response.headers.setdefault("client-request-id", req.client_request_id)
    if response.body is not None:
        response.headers.setdefault("Content-Type", JSON_TYPE)
    app = req.claims.client_id if req.claims is not None else None
    emu.stats.record(req.method, template, label, response.status, in_batch=inner, app=app)
    return response
