"""Client assertions: the token endpoint's certificate credential (private_key_jwt).

A JWT signed with a certificate registered for the app, as described in
learn.microsoft.com/entra/identity-platform/certificate-credentials:

- header ``alg`` RS256 with ``x5t`` (base64url SHA-1 thumbprint), or PS256 with
  ``x5t#S256`` (base64url SHA-256 thumbprint). azure-identity's CertificateCredential
  gives MSAL a SHA-1 thumbprint, so it sends RS256 + ``x5t``; MSAL given only the
  public certificate sends PS256 + ``x5t#S256``. MSAL pads the thumbprints, Entra
  doesn't care: padding is ignored here.
- claims ``aud`` = the token endpoint (here: the URL the request was posted to, in
  its v2.0 or v1 form), ``iss`` = ``sub`` = the client id, ``exp``, ``nbf``, ``jti``.

``jti`` must be present but may repeat: MSAL reuses one assertion for about nine
minutes (``create_regenerative_assertion``), which Entra accepts.

Failures carry the AADSTS codes of learn.microsoft.com/entra/identity-platform/
reference-error-codes and of the Azure SDK troubleshooting guides (700027 signature,
700021 client id, 50048 subject/issuer, 700023 audience, 700024 time range,
90014 missing claim, 50027 malformed).
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300  # seconds of leeway on exp/nbf, as token validators usually allow
THUMBPRINT_HEADERS = {"RS256": "x5t", "PS256": "x5t#S256"}


@dataclass(frozen=True)
class Refusal:
    """Why an assertion was refused, in the token endpoint's terms."""

    status: int
    error: str
    code: int
    description: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprints(cert: x509.Certificate) -> tuple[str, str]:
    """(``x5t``, ``x5t#S256``) of a certificate, base64url without padding."""
    return (
        _b64(cert.fingerprint(hashes.SHA1())),  # noqa: S303 - an identifier, as in x5t
        _b64(cert.fingerprint(hashes.SHA256())),
    )


def _refuse(code: int, description: str, status: int = 401) -> Refusal:
    error = "invalid_client" if status == 401 else "invalid_request"
    return Refusal(status, error, code, description)


def _stamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def verify(
    assertion: str,
    client_id: str,
    certificates: list[x509.Certificate],
    audiences: set[str],
) -> Refusal | None:
    """None if ``assertion`` authenticates ``client_id``, else why not."""
    try:
        header = jwt.get_unverified_header(assertion)
    except jwt.InvalidTokenError:
        return _refuse(50027, "JWT token is invalid or malformed.", 400)
    alg = header.get("alg")
    wanted = THUMBPRINT_HEADERS.get(alg) if isinstance(alg, str) else None
    if wanted is None:
        return _refuse(
            700027,
            "Client assertion failed signature validation. [Reason - The algorithm "
            f"'{alg}' is not supported; use RS256 with x5t or PS256 with x5t#S256.]",
        )
    given = str(header.get(wanted, "")).rstrip("=")
    cert = _find(certificates, given, sha256=wanted == "x5t#S256")
    if cert is None:
        return _refuse(
            700027,
            "Client assertion failed signature validation. [Reason - The key was not "
            f"found., Thumbprint of key used by client: '{given}', Please visit the Azure "
            "Portal, Graph Explorer or directly use MS Graph to see configured keys for "
            f"app Id '{client_id}'.]",
        )
    now = time.time()
    if cert.not_valid_after_utc.timestamp() < now:
        return _refuse(
            700027,
            f"Client assertion failed signature validation. [Reason - The key used is "
            f"expired., Thumbprint of key used by client: '{given}']",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            cert.public_key(),  # type: ignore[arg-type]
            algorithms=[str(alg)],
            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                     "verify_iat": False},
        )  # fmt: skip
    except jwt.InvalidSignatureError:
        return _refuse(
            700027,
            "Client assertion failed signature validation. [Reason - The provided "
            f"signature value did not match the expected signature value., Thumbprint of "
            f"key used by client: '{given}']",
        )
    except jwt.InvalidTokenError:
        return _refuse(50027, "JWT token is invalid or malformed.", 400)
    return _check_claims(claims, client_id, audiences, now)


def _find(
    certificates: list[x509.Certificate], thumbprint: str, *, sha256: bool
) -> x509.Certificate | None:
    if not thumbprint:
        return None
    for cert in certificates:
        sha1, s256 = thumbprints(cert)
        if thumbprint == (s256 if sha256 else sha1):
            return cert
    return None


def _check_claims(
    claims: dict[str, Any], client_id: str, audiences: set[str], now: float
) -> Refusal | None:
    for name in ("aud", "iss", "sub", "exp", "jti"):
        if claims.get(name) in (None, ""):
            return _refuse(
                90014,
                f"The required field '{name}' is missing from the credential. Ensure that "
                "you have all the necessary parameters for the login request.",
                400,
            )
    if claims["iss"] != claims["sub"]:
        return _refuse(50048, "Subject mismatches Issuer claim in the client assertion.")
    if claims["sub"] != client_id:
        return _refuse(
            700021, "Client assertion application identifier doesn't match 'client_id' parameter."
        )
    aud = claims["aud"]
    given = set(aud) if isinstance(aud, list) else {aud}
    if not given & audiences:
        return _refuse(
            700023,
            f"Client assertion audience claim does not match Realm issuer. Review the "
            f"documentation at https://learn.microsoft.com/entra/identity-platform/"
            f"certificate-credentials . Audience: {sorted(map(str, given))}.",
        )
    try:
        exp = float(claims["exp"])
        nbf = float(claims.get("nbf", claims.get("iat", 0)))
    except (TypeError, ValueError):
        return _refuse(50027, "JWT token is invalid or malformed.", 400)
    if exp + CLOCK_SKEW <= now or nbf - CLOCK_SKEW > now:
        return _refuse(
            700024,
            f"Client assertion is not within its valid time range. Current time: "
            f"{_stamp(now)}, assertion valid from {_stamp(nbf)}, expiry time of assertion "
            f"{_stamp(exp)}. Review the documentation at "
            "https://learn.microsoft.com/entra/identity-platform/certificate-credentials .",
        )
    return None
