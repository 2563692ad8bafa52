"""Who is calling the API, and may they.

``API_AUTH`` decides:

- ``none`` (local stacks): every caller may do everything;
- ``key``: the Functions host checks function keys on the API routes, which are
  registered at ``AuthLevel.FUNCTION`` (``API_LEVEL``); a caller that got through may do
  everything (a key is not limited to tenants: use ``entra`` for that);
- ``entra``: the routes are ``ANONYMOUS`` for the host and the app checks an
  ``Authorization: Bearer`` token (identity/tokens.py): its app roles
  (``ROLE_BOOKINGS`` for the Bookker API, ``ROLE_READ`` for health detail and the status
  page, ``ROLE_ADMIN`` to set a tenant's directory without consent) and the Bookker
  tenants its client app may act for (sync/ops/api_clients.py).

Function auth levels are fixed when the functions are registered, so ``API_LEVEL`` is
read from the environment at import: the host's app settings are in place by then,
on the real host as on the local one. Every API route uses ``@requires``; anonymous
routes (health, webhooks, the consent callback, the API docs) use none. The token and
storage code is imported on first use (functions/deps.py: cold starts).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import azure.functions as func

from bookker_sync.functions.deps import services
from bookker_sync.functions.responses import error_response
from bookker_sync.settings import SettingsError

log = logging.getLogger("bookker_sync.security")

ROLE_BOOKINGS = "Bookings.ReadWrite"
ROLE_READ = "Sync.Read"
ROLE_ADMIN = "Tenants.Bind"
ROLES = (ROLE_BOOKINGS, ROLE_READ, ROLE_ADMIN)


def _level_from_environment() -> func.AuthLevel:
    mode = os.environ.get("API_AUTH", "none").strip().lower()
    return func.AuthLevel.FUNCTION if mode == "key" else func.AuthLevel.ANONYMOUS


API_LEVEL = _level_from_environment()
"""The auth level of every API route: FUNCTION under API_AUTH=key, else ANONYMOUS."""


@dataclass(frozen=True)
class Caller:
    """``trusted``: API_AUTH none, or a function key the host checked. Otherwise the
    token's client app and roles (``client_id`` None: no credentials at all)."""

    trusted: bool = False
    client_id: str | None = None
    roles: frozenset[str] = frozenset()

    def has(self, role: str) -> bool:
        return self.trusted or role in self.roles

    @property
    def may_bind(self) -> bool:
        """May set a tenant's directory directly (else: admin consent only)."""
        return self.has(ROLE_ADMIN)


ANONYMOUS = Caller()
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar("api_caller", default=ANONYMOUS)


def caller() -> Caller:
    """The caller of the request being handled (set by ``@requires``)."""
    return _current.get()


class Denied(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def response(self) -> func.HttpResponse:
        answer = error_response(self.status, self.code, self.message)
        if self.status == 401:
            answer.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return answer


async def identify(req: func.HttpRequest, *, host_checked_key: bool) -> Caller:
    """The caller, from the settings and the request. ``host_checked_key``: the route is
    at API_LEVEL, so under ``key`` the host has checked a function key already."""
    security = services().settings.security
    if security.api_auth == "none":
        return Caller(trusted=True)
    if security.api_auth == "key":
        return Caller(trusted=True) if host_checked_key else ANONYMOUS
    from bookker_sync.identity.tokens import IssuerUnavailableError, TokenError, validator_for

    header = req.headers.get("authorization") or ""
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return ANONYMOUS
    assert security.issuer and security.audience  # validated with the settings
    ca_bundle = services().settings.graph.ca_bundle  # the local emulator's CA, if any
    validator = validator_for(security.issuer, security.audience, ca_bundle)
    try:
        claims = await validator.validate(token.strip())
    except IssuerUnavailableError as exc:
        log.warning("bearer tokens can't be checked now: %s", exc)
        raise Denied(503, "Unavailable", "the token issuer is unavailable; retry") from exc
    except TokenError as exc:
        log.warning("API call with a rejected bearer token: %s", exc)
        raise Denied(401, "Unauthorized", "the bearer token is not valid for this API") from exc
    return Caller(client_id=claims.client_id, roles=claims.roles)


async def check_tenant(who: Caller, tenant_id: str | None) -> None:
    """403 unless the caller may act for ``tenant_id`` (None: for every tenant)."""
    if who.trusted:
        return
    from bookker_sync.sync.ops import api_clients

    assert who.client_id is not None
    entry = await api_clients.registration(services(), who.client_id)
    if entry is not None and (entry.all_tenants or (tenant_id and tenant_id in entry.tenants)):
        return
    what = f"tenant {tenant_id}" if tenant_id else "all tenants"
    raise Denied(403, "Forbidden", f"this client application may not act for {what}")


async def authorize(
    req: func.HttpRequest, role: str, tenant_id: str | None, *, host_checked_key: bool = True
) -> Caller:
    who = await identify(req, host_checked_key=host_checked_key)
    if not who.trusted and who.client_id is None:
        raise Denied(401, "Unauthorized", "credentials required")
    if not who.has(role):
        raise Denied(403, "Forbidden", f"the caller lacks the app role {role}")
    await check_tenant(who, tenant_id)
    return who


Handler = Callable[[func.HttpRequest, func.Context], Awaitable[func.HttpResponse]]


def requires(role: str, *, tenant_param: str | None = "tenantId") -> Callable[[Handler], Handler]:
    """Decorate an API route (registered at ``API_LEVEL``): 401/403 JSON unless the caller
    has ``role`` and may act for the route's tenant (``tenant_param``: a route parameter,
    or ``?tenant=`` for "query"; None: the route covers every tenant)."""

    def decorate(fn: Handler) -> Handler:
        @functools.wraps(fn)
        async def wrapper(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
            from bookker_sync.storage.errors import StorageError

            tenant = _tenant_of(req, tenant_param)
            try:
                who = await authorize(req, role, tenant)
            except Denied as denied:
                return denied.response()
            except (StorageError, SettingsError) as exc:
                log.warning("authorization could not be checked: %s", type(exc).__name__)
                return error_response(503, "Unavailable", "authorization unavailable; retry")
            token = _current.set(who)
            try:
                return await fn(req, context)
            finally:
                _current.reset(token)

        return wrapper

    return decorate


def _tenant_of(req: func.HttpRequest, tenant_param: str | None) -> str | None:
    if tenant_param is None:
        return None
    if tenant_param == "query":
        return (req.params.get("tenant") or "").strip() or None
    return str(req.route_params.get(tenant_param, "")) or None
