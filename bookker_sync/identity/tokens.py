"""Bearer tokens of the Bookker API (API_AUTH=entra), validated as a resource server
does: the issuer's OIDC metadata names its ``jwks_uri``; the token's ``kid`` picks the
signing key there; signature (RS256), ``iss``, ``aud``, ``exp`` and ``nbf`` are checked
by PyJWT (learn.microsoft.com/entra/identity-platform/access-tokens, "Validate tokens").

Keys are cached (PyJWKClient's key set cache); a token naming an unknown ``kid``
refreshes the set at most once per ``REFRESH_SECONDS``, so forged tokens can't make
every request a call to the issuer. The fetches are blocking (urllib), so they run in
a worker thread.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import urllib.request
from dataclasses import dataclass

import jwt

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 60  # clock skew between the issuer and us
REFRESH_SECONDS = 60.0
KEYS_LIFESPAN_SECONDS = 24 * 3600
FETCH_TIMEOUT_SECONDS = 5.0
MAX_TOKEN_CHARS = 16_384


class TokenError(Exception):
    """The token is missing, malformed, not ours, expired or badly signed."""


class IssuerUnavailableError(Exception):
    """The issuer's metadata or keys could not be read: nothing said about the token."""


@dataclass(frozen=True)
class TokenClaims:
    client_id: str  # azp (v2.0) or appid (v1.0): the calling application
    roles: frozenset[str]
    tenant: str  # tid: the caller's directory


class TokenValidator:
    def __init__(self, issuer: str, audience: str, ca_bundle: str | None = None) -> None:
        self.issuer, self.audience = issuer.rstrip("/"), audience
        self._ssl = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        self._jwks: jwt.PyJWKClient | None = None
        self._refreshed_at = float("-inf")
        self._lock = asyncio.Lock()

    async def validate(self, token: str) -> TokenClaims:
        if not token or len(token) > MAX_TOKEN_CHARS:
            raise TokenError("malformed token")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError as exc:
            raise TokenError("malformed token") from exc
        if not isinstance(kid, str) or not kid:
            raise TokenError("token without a key id")
        key = await self._key(kid)
        try:
            claims = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, audience=self.audience,
                issuer=self.issuer, leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iss", "aud"]},
            )  # fmt: skip
        except jwt.PyJWTError as exc:
            raise TokenError(f"token rejected: {type(exc).__name__}") from exc
        client = claims.get("azp") or claims.get("appid")
        roles = claims.get("roles") or []
        if not isinstance(client, str) or not isinstance(roles, list):
            raise TokenError("token without a client (azp) or with malformed roles")
        tid = claims.get("tid")
        return TokenClaims(
            client_id=client,
            roles=frozenset(r for r in roles if isinstance(r, str)),
            tenant=tid if isinstance(tid, str) else "",
        )

    async def _key(self, kid: str) -> jwt.PyJWK:
        jwks = await self._client()
        try:
            keys = await asyncio.to_thread(jwks.get_jwk_set)
        except jwt.PyJWKClientConnectionError as exc:
            raise IssuerUnavailableError(f"signing keys: {type(exc).__name__}") from exc
        found = _find(keys, kid)
        if found is not None:
            return found
        async with self._lock:  # unknown kid: keys may have rolled over; refresh rarely
            if time.monotonic() - self._refreshed_at >= REFRESH_SECONDS:
                self._refreshed_at = time.monotonic()
                try:
                    keys = await asyncio.to_thread(jwks.get_jwk_set, True)
                except jwt.PyJWKClientConnectionError as exc:
                    raise IssuerUnavailableError(f"signing keys: {type(exc).__name__}") from exc
                found = _find(keys, kid)
        if found is None:
            raise TokenError("token signed by an unknown key")
        return found

    async def _client(self) -> jwt.PyJWKClient:
        if self._jwks is None:
            async with self._lock:
                if self._jwks is None:
                    uri = await asyncio.to_thread(self._jwks_uri)
                    self._jwks = jwt.PyJWKClient(
                        uri, cache_jwk_set=True, lifespan=KEYS_LIFESPAN_SECONDS,
                        timeout=int(FETCH_TIMEOUT_SECONDS), ssl_context=self._ssl,
                    )  # fmt: skip
                    self._refreshed_at = time.monotonic()
        return self._jwks

    def _jwks_uri(self) -> str:
        url = f"{self.issuer}/.well-known/openid-configuration"
        try:
            with urllib.request.urlopen(  # noqa: S310 (https issuer from settings)
                url, timeout=FETCH_TIMEOUT_SECONDS, context=self._ssl
            ) as answer:
                metadata = json.loads(answer.read(1024 * 1024))
        except (OSError, ValueError) as exc:
            raise IssuerUnavailableError(f"issuer metadata: {type(exc).__name__}") from exc
        uri = metadata.get("jwks_uri") if isinstance(metadata, dict) else None
        if not isinstance(uri, str) or not uri.startswith("https://"):
            raise IssuerUnavailableError("issuer metadata without an https jwks_uri")
        return uri


def _find(keys: jwt.PyJWKSet, kid: str) -> jwt.PyJWK | None:
    return next((k for k in keys.keys if k.key_id == kid), None)


_validators: dict[tuple[int, str, str, str | None], TokenValidator] = {}


def validator_for(issuer: str, audience: str, ca_bundle: str | None) -> TokenValidator:
    """One validator (and key cache) per configuration and event loop (its lock
    belongs to one loop)."""
    key = (id(asyncio.get_running_loop()), issuer, audience, ca_bundle)
    if key not in _validators:
        _validators[key] = TokenValidator(issuer, audience, ca_bundle)
    return _validators[key]
