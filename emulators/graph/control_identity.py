"""Control API for identities: app registrations, certificates, admin consent.

- ``POST /_emulator/apps {tenantId, clientId, clientSecret?, certificates?, roles?,
  audience?, identifierUris?, redirectUris?}``: registers (or replaces) an app in a
  directory (created if new). ``audience`` + ``roles``: the app may get tokens for that
  API (``scope=<audience or identifier URI>/.default``) carrying those app roles.
- ``GET /_emulator/apps?tenantId=``: the registrations.
- ``DELETE /_emulator/apps/{clientId}?tenantId=``: the administrator removes the app
  from the directory (consent revoked): its tokens are refused from then on.
- ``POST /_emulator/tenants/{tenantId}/certificates {pem, clientId?}``: adds public
  certificates (PEM, one or more) to an app's credentials (``clientId`` may be left
  out when the directory has one app).
- ``POST /_emulator/consent {tenantId, decision: "accept"|"decline", default?}`` and
  ``GET /_emulator/consent``: what the directory's administrator answers at the admin
  consent endpoint (``consent``), and the consents given so far.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from cryptography import x509

from .directory import App
from .state import Emulator


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ValueError("body must be JSON") from None
    if not isinstance(body, dict):
        raise ValueError("body must be a JSON object")
    return body


def parse_certificates(raw: Any) -> list[x509.Certificate]:
    """PEM text or a list of PEM texts → certificates (ValueError when unreadable)."""
    texts = [raw] if isinstance(raw, str) else raw
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError("certificates must be PEM text or a list of PEM texts")
    out: list[x509.Certificate] = []
    for text in texts:
        try:
            out.extend(x509.load_pem_x509_certificates(text.encode()))
        except ValueError:
            raise ValueError("not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    return out


def _strings(body: dict[str, Any], name: str) -> list[str]:
    value = body.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError(f"{name} must be a list of strings")
    return list(value)


def _optional_string(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not value):
        raise ValueError(f"{name} must be a non-empty string")
    return value


def app_from_json(body: dict[str, Any]) -> App:
    known = {"tenantId", "clientId", "clientSecret", "certificates", "roles", "audience",
             "identifierUris", "redirectUris"}  # fmt: skip
    unknown = sorted(set(body) - known)
    if unknown:
        raise ValueError(f"unknown fields: {', '.join(unknown)}")
    client_id = _optional_string(body, "clientId")
    if client_id is None:
        raise ValueError("clientId is required")
    identifier_uris = _strings(body, "identifierUris")
    audience = _optional_string(body, "audience")
    if identifier_uris and audience is None:
        raise ValueError("identifierUris need an audience (the aud of the API's tokens)")
    return App(
        client_id=client_id,
        secret=_optional_string(body, "clientSecret"),
        certificates=parse_certificates(body.get("certificates", [])),
        roles=_strings(body, "roles"),
        audience=audience,
        identifier_uris=identifier_uris,
        redirect_uris=_strings(body, "redirectUris"),
    )


class IdentityControl:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/_emulator/apps", self.list_apps),
            web.post("/_emulator/apps", self.add_app),
            web.delete("/_emulator/apps/{clientId}", self.remove_app),
            web.post("/_emulator/tenants/{tenantId}/certificates", self.add_certificates),
            web.get("/_emulator/consent", self.get_consent),
            web.post("/_emulator/consent", self.set_consent),
        ]

    async def list_apps(self, request: web.Request) -> web.Response:
        wanted = request.query.get("tenantId")
        out = [
            {"tenantId": t.tenant_id, **app.to_json()}
            for t in self.emu.world.directory.tenants.values()
            if wanted in (None, t.tenant_id)
            for app in t.apps.values()
        ]
        return web.json_response({"value": out})

    async def add_app(self, request: web.Request) -> web.Response:
        try:
            body = await _object(request)
            tenant_id = _optional_string(body, "tenantId")
            if tenant_id is None:
                raise ValueError("tenantId is required")
            app = app_from_json(body)
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        _, created = self.emu.world.directory.add_app(tenant_id, app)
        return web.json_response(
            {"tenantId": tenant_id, **app.to_json()}, status=201 if created else 200
        )

    async def remove_app(self, request: web.Request) -> web.Response:
        """The directory's administrator removes the app (its enterprise application):
        its admin consent is gone. Graph then refuses the app's tokens for that
        directory (401), and the token endpoint refuses new ones."""
        tenant = self.emu.world.directory.tenants.get(request.query.get("tenantId", ""))
        client_id = request.match_info["clientId"]
        if tenant is None or client_id not in tenant.apps:
            return _error(404, "notFound", f"no app {client_id} in that tenant (?tenantId=)")
        del tenant.apps[client_id]
        return web.Response(status=204)

    async def add_certificates(self, request: web.Request) -> web.Response:
        tenant = self.emu.world.directory.tenants.get(request.match_info["tenantId"])
        if tenant is None:
            return _error(404, "notFound", f"unknown tenant {request.match_info['tenantId']}")
        try:
            body = await _object(request)
            certs = parse_certificates(body.get("pem"))
            client_id = _optional_string(body, "clientId")
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        if client_id is None and len(tenant.apps) == 1:
            client_id = next(iter(tenant.apps))
        app = tenant.apps.get(client_id or "")
        if app is None:
            return _error(404, "notFound", f"give the clientId of an app of {tenant.tenant_id}")
        app.certificates.extend(certs)
        return web.json_response({"tenantId": tenant.tenant_id, **app.to_json()}, status=201)

    async def get_consent(self, request: web.Request) -> web.Response:
        return web.json_response(self.emu.consent.to_json())

    async def set_consent(self, request: web.Request) -> web.Response:
        try:
            body = await _object(request)
            tenant_id = _optional_string(body, "tenantId")
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        decision = body.get("decision", "accept")
        default = body.get("default", False)
        if tenant_id is None or decision not in ("accept", "decline"):
            return _error(400, "badRequest", "give tenantId and decision 'accept' or 'decline'")
        if not isinstance(default, bool):
            return _error(400, "badRequest", "default must be a boolean")
        book = self.emu.consent
        book.decisions[tenant_id] = "accept" if decision == "accept" else "decline"
        if default:
            book.default_directory = tenant_id
        return web.json_response(book.to_json())
