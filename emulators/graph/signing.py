"""The emulator's token signing key, its JWKS, and access tokens for registered APIs.

Tokens for an API registered with ``POST /_emulator/apps`` (not for Graph, whose
tokens stay opaque to clients, as Graph's are) are Entra v2.0 access tokens
(learn.microsoft.com/entra/identity-platform/access-token-claims-reference): RS256,
``kid`` and ``x5t`` of a key published at the discovery document's ``jwks_uri``,
``iss`` = ``https://<host>/{tenant}/v2.0`` (the discovery document's ``issuer``),
``aud`` = the API's registered audience, ``azp`` = the client, ``azpacr`` = 1
(secret) or 2 (certificate), ``roles`` (only when some are assigned), ``idtyp`` =
app, ``oid`` = ``sub`` = the client's service principal, ``tid``, ``ver`` 2.0.
v2.0 tokens carry ``azp``, not v1.0's ``appid``.

One key per process: tokens don't survive an emulator restart (neither do tenants).
"""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class SigningKey:
    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "graph-emulator token signing")])
        now = datetime.now(UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .sign(self._key, hashes.SHA256())
        )
        # Entra's kid and x5t are both the SHA-1 thumbprint, base64url.
        self.kid = _b64(self.cert.fingerprint(hashes.SHA1()))  # noqa: S303 - an identifier

    def jwk(self, issuer: str) -> dict[str, Any]:
        numbers = self._key.public_key().public_numbers()
        der = self.cert.public_bytes(serialization.Encoding.DER)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
            "x5c": [base64.b64encode(der).decode()],
            "issuer": issuer,
        }

    def api_token(
        self,
        *,
        issuer: str,
        tenant_id: str,
        client_id: str,
        audience: str,
        roles: list[str],
        lifetime: int,
        certificate: bool,
    ) -> str:
        now = int(time.time())
        principal = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant_id}/{client_id}"))
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "aio": secrets.token_urlsafe(24),
            "azp": client_id,
            "azpacr": "2" if certificate else "1",
            "idtyp": "app",
            "oid": principal,
            "rh": secrets.token_urlsafe(16) + ".",
            "sub": principal,
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
        }
        if roles:
            claims["roles"] = list(roles)
        return jwt.encode(
            claims, self._key, algorithm="RS256", headers={"kid": self.kid, "x5t": self.kid}
        )
