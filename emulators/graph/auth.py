"""Entra ID (v2.0) token endpoint, OIDC discovery, and bearer-token checks.

``ClientSecretCredential(tenant, client, secret, authority="https://localhost:PORT",
disable_instance_discovery=True, connection_verify=CA)`` works unchanged: MSAL reads
``/{tenant}/v2.0/.well-known/openid-configuration`` and posts the client-credentials
grant to ``/{tenant}/oauth2/v2.0/token``. So does ``CertificateCredential``: the
client authenticates with a signed ``client_assertion`` instead of a secret
(``assertion``). Errors have AAD's shape
(learn.microsoft.com/entra/identity-platform/reference-error-codes): e.g. a wrong
secret is 401 ``invalid_client`` with AADSTS7000215.

Graph access tokens are JWT-shaped (HS256 with a per-process key) and expire on *real*
time. They carry the tenant (``tid``) and app (``appid``); Graph
requests for another tenant's mailbox are refused with 403. Tokens for an API
registered with ``POST /_emulator/apps`` are RS256 v2.0 tokens verifiable with the
keys at the discovery document's ``jwks_uri`` (``signing``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from aiohttp import web

from .assertion import JWT_BEARER
from .assertion import verify as verify_assertion
from .directory import App, Directory, Tenant
from .errors import GraphError
from .signing import SigningKey

GRAPH_RESOURCES = (
    "https://graph.microsoft.com",
    "https://graph.microsoft.com/",
    "00000003-0000-0000-c000-000000000000",
)
RESERVED_SCOPES = {"openid", "profile", "offline_access"}
APP_ROLES = ["Calendars.ReadWrite", "Place.Read.All", "User.Read.All"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class TokenClaims:
    tenant_id: str
    client_id: str
    expires_at: float


class TokenIssuer:
    def __init__(self, directory: Callable[[], Directory], default_lifetime: int = 3600) -> None:
        self._directory = directory
        self.default_lifetime = default_lifetime
        self._key = secrets.token_bytes(32)
        self.signing = SigningKey()

    # -- tokens --------------------------------------------------------------------
    def issue(self, tenant_id: str, client_id: str, lifetime: int) -> str:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "HS256", "kid": "graph-emulator"}
        payload = {
            "aud": "https://graph.microsoft.com",
            "iss": f"https://sts.windows.net/{tenant_id}/",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "appid": client_id,
            "idtyp": "app",
            "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{client_id}")),
            "roles": APP_ROLES,
            "tid": tenant_id,
            "ver": "1.0",
            "uti": secrets.token_urlsafe(16),
        }
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(payload, separators=(",", ":")).encode())
        )
        sig = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return signing_input + "." + _b64(sig)

    def validate(self, authorization: str | None) -> TokenClaims:
        """The claims of a valid bearer token, else a 401 like Graph's."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise unauthorized("Access token is empty.")
        token = authorization[7:].strip()
        parts = token.split(".")
        if len(parts) != 3:
            raise unauthorized("IDX14100: JWT is not well formed, there are no dots (.).")
        signing_input = f"{parts[0]}.{parts[1]}".encode()
        expected = hmac.new(self._key, signing_input, hashlib.sha256).digest()
        try:
            given = _unb64(parts[2])
            payload = json.loads(_unb64(parts[1]))
        except (binascii.Error, ValueError):
            raise unauthorized("Invalid token signature.") from None
        if not hmac.compare_digest(expected, given) or not isinstance(payload, dict):
            raise unauthorized("Invalid token signature.")
        exp = float(payload.get("exp", 0))
        if exp <= time.time():
            raise unauthorized("Lifetime validation failed, the token is expired.")
        tenant_id = str(payload.get("tid", ""))
        client_id = str(payload.get("appid", ""))
        tenant = self._directory().tenants.get(tenant_id)
        if tenant is None or client_id not in tenant.apps:
            raise unauthorized("Invalid audience or tenant: the application is not registered.")
        return TokenClaims(tenant_id, client_id, exp)

    # -- HTTP ----------------------------------------------------------------------
    async def token_endpoint(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        form = await request.post()
        fields = {k: str(v) for k, v in form.items()}
        client_id = fields.get("client_id")
        secret = fields.get("client_secret")
        basic = request.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                cid, _, sec = base64.b64decode(basic[6:]).decode().partition(":")
                client_id, secret = client_id or cid, secret or sec
            except (binascii.Error, UnicodeDecodeError):
                pass
        grant = fields.get("grant_type")
        tenant = self._directory().tenants.get(tenant_id)
        if tenant is None:
            return aad_error(
                400,
                "invalid_request",
                90002,
                f"Tenant '{tenant_id}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        if grant != "client_credentials":
            return aad_error(
                400,
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type "
                f"'{grant}'. This emulator supports client_credentials only.",
            )
        if not client_id or client_id not in tenant.apps:
            return aad_error(
                400,
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                f"'{tenant_id}'. This can happen if the application has not been installed "
                "by the administrator of the tenant or consented to by any user in the tenant.",
            )
        app = tenant.apps[client_id]
        base = f"https://{request.host}"
        refused, by_certificate = self._authenticate(app, fields, secret, base, tenant_id)
        if refused is not None:
            return refused
        scopes = [s for s in fields.get("scope", "").split() if s not in RESERVED_SCOPES]
        if len(scopes) != 1 or not scopes[0].endswith("/.default"):
            return aad_error(
                400,
                "invalid_scope",
                1002012,
                f"The provided value for scope {' '.join(scopes)} is not valid. Client credential "
                "flows must have a scope value with /.default suffixed to the resource "
                "identifier (application ID URI).",
            )
        resource = scopes[0][: -len("/.default")]
        lifetime = tenant.token_lifetime or self.default_lifetime
        if resource in GRAPH_RESOURCES:
            token = self.issue(tenant_id, client_id, lifetime)
        else:
            audience = _api_audience(tenant, resource)
            if audience is None:
                return aad_error(
                    400,
                    "invalid_resource",
                    500011,
                    f"The resource principal named {resource} was not found in the tenant "
                    f"named {tenant_id}.",
                )
            token = self.signing.api_token(
                issuer=f"{base}/{tenant_id}/v2.0",
                tenant_id=tenant_id,
                client_id=client_id,
                audience=audience,
                roles=app.roles if app.audience == audience else [],
                lifetime=lifetime,
                certificate=by_certificate,
            )
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            headers={"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"},
        )

    def _authenticate(
        self, app: App, fields: dict[str, str], secret: str | None, base: str, tenant_id: str
    ) -> tuple[web.Response | None, bool]:
        """(an error answer or None, whether the client used a certificate)."""
        assertion = fields.get("client_assertion")
        if assertion is None:
            if not secret:
                return aad_error(
                    401,
                    "invalid_client",
                    7000218,
                    "The request body must contain the following parameter: "
                    "'client_assertion' or 'client_secret'.",
                ), False
            if app.secret is None or not hmac.compare_digest(secret, app.secret):
                return aad_error(
                    401,
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID, for a "
                    f"secret added to app '{app.client_id}'.",
                ), False
            return None, False
        if secret:
            return aad_error(
                400,
                "invalid_request",
                9002313,
                "Invalid request. Request is malformed or invalid: give either "
                "'client_assertion' or 'client_secret', not both.",
            ), True
        if fields.get("client_assertion_type") != JWT_BEARER:
            return aad_error(
                400,
                "invalid_request",
                900144,
                "The request body must contain the following parameter: "
                f"'client_assertion_type' (with the value '{JWT_BEARER}').",
            ), True
        audiences = {f"{base}/{tenant_id}/oauth2/v2.0/token", f"{base}/{tenant_id}/oauth2/token"}
        refusal = verify_assertion(assertion, app.client_id, app.certificates, audiences)
        if refusal is not None:
            return aad_error(refusal.status, refusal.error, refusal.code, refusal.description), True
        return None, True

    async def openid_configuration(self, request: web.Request) -> web.Response:
        tenant_id = request.match_info["tenant"]
        if tenant_id not in self._directory().tenants and tenant_id not in (
            "common",
            "organizations",
        ):
            return aad_error(
                400,
                "invalid_tenant",
                90002,
                f"Tenant '{tenant_id}' not found. Check to make sure you have the correct "
                "tenant ID and are signing into the correct cloud.",
            )
        base = f"https://{request.host}"
        v2 = "/v2.0" if "/v2.0/" in request.path else ""
        return web.json_response(
            {
                "token_endpoint": f"{base}/{tenant_id}/oauth2{v2}/token",
                "token_endpoint_auth_methods_supported": [
                    "client_secret_post",
                    "private_key_jwt",
                    "client_secret_basic",
                ],
                "jwks_uri": f"{base}/{tenant_id}/discovery{v2}/keys",
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                # Entra's multi-tenant documents carry the template, not "common".
                "issuer": f"{base}/{_issuer_tenant(tenant_id)}{v2}",
                "request_uri_parameter_supported": False,
                "userinfo_endpoint": f"{base}/oidc/userinfo",
                "authorization_endpoint": f"{base}/{tenant_id}/oauth2{v2}/authorize",
                "device_authorization_endpoint": f"{base}/{tenant_id}/oauth2{v2}/devicecode",
                "http_logout_supported": True,
                "frontchannel_logout_supported": True,
                "end_session_endpoint": f"{base}/{tenant_id}/oauth2{v2}/logout",
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "ver"],
                "kerberos_endpoint": f"{base}/{tenant_id}/kerberos",
                "tenant_region_scope": "EU",
                "cloud_instance_name": "localhost",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net",
            }
        )

    async def jwks(self, request: web.Request) -> web.Response:
        v2 = "/v2.0" if "/v2.0/" in request.path else ""
        issuer = f"https://{request.host}/{_issuer_tenant(request.match_info['tenant'])}{v2}"
        return web.json_response({"keys": [self.signing.jwk(issuer)]})

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/{tenant}/oauth2/v2.0/token", self.token_endpoint),
            web.post("/{tenant}/oauth2/token", self.token_endpoint),
            web.get("/{tenant}/v2.0/.well-known/openid-configuration", self.openid_configuration),
            web.get("/{tenant}/.well-known/openid-configuration", self.openid_configuration),
            web.get("/{tenant}/discovery/v2.0/keys", self.jwks),
            web.get("/{tenant}/discovery/keys", self.jwks),
        ]


def _issuer_tenant(tenant: str) -> str:
    return "{tenantid}" if tenant in ("common", "organizations") else tenant


def _api_audience(tenant: Tenant, resource: str) -> str | None:
    """The ``aud`` of tokens for ``resource`` (an API's audience or identifier URI)."""
    for app in tenant.apps.values():
        if app.audience is not None and resource in (app.audience, *app.identifier_uris):
            return app.audience
    return None


WWW_AUTHENTICATE = (
    'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/'
    'authorize", client_id="00000003-0000-0000-c000-000000000000"'
)


def unauthorized(message: str) -> GraphError:
    return GraphError(
        401,
        "InvalidAuthenticationToken",
        message,
        {"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def aad_error(status: int, error: str, code: int, description: str) -> web.Response:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC)
    stamp = now.strftime("%Y-%m-%d %H:%M:%SZ")
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {stamp}",
            "error_codes": [code],
            "timestamp": stamp,
            "trace_id": trace,
            "correlation_id": correlation,
            "error_uri": f"https://login.microsoftonline.com/error?code={code}",
        },
        status=status,
    )
