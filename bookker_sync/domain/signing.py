"""Keyed hashes and signed tokens of the app's own (pure: HMAC-SHA256, no I/O).

- ``keyed_digest``: what is stored instead of a secret (a subscription's clientState):
  a table dump doesn't reveal a value that would pass the check, yet a given value is
  checked in constant time against the stored digest.
- ``sign_consent_state`` / ``verify_consent_state``: the ``state`` parameter of the
  admin-consent round trip: names a Bookker tenant, expires, and can't be forged or
  altered without the key.

Each use has its own ``purpose`` string, so a value signed for one use is never valid
for another (domain separation).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
from datetime import UTC, datetime

CLIENT_STATE = "clientState"
CONSENT_STATE = "consentState"
MAX_CONSENT_STATE_CHARS = 512
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class InvalidStateError(ValueError):
    """A consent ``state`` that is malformed, forged, altered or expired."""


def is_guid(text: object) -> bool:
    """A GUID in its usual 8-4-4-4-12 hex form (Entra tenant ids, Graph subscription
    ids); fullmatch, so no trailing newline slips through."""
    return isinstance(text, str) and _GUID.fullmatch(text) is not None


def keyed_digest(key: bytes, purpose: str, value: str | bytes) -> str:
    """HMAC-SHA256 of ``value`` for ``purpose``, as URL-safe base64 (43 characters)."""
    data = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    mac = hmac.new(key, purpose.encode() + b"\x00" + data, hashlib.sha256).digest()
    return _b64(mac)


def digest_matches(key: bytes, purpose: str, given: str | bytes, stored: str) -> bool:
    """Does ``given`` hash to ``stored``? Constant time in the compared digests."""
    if not stored:
        return False
    return hmac.compare_digest(keyed_digest(key, purpose, given), stored)


def sign_consent_state(key: bytes, tenant_id: str, expires_at: datetime) -> str:
    """``<payload>.<mac>``: the Bookker tenant and the expiry (epoch seconds), plus a
    nonce so no two states are alike."""
    payload = {"t": tenant_id, "e": int(expires_at.timestamp()), "n": secrets.token_hex(8)}
    body = _b64(json.dumps(payload, separators=(",", ":")).encode())
    return f"{body}.{keyed_digest(key, CONSENT_STATE, body)}"


def verify_consent_state(key: bytes, state: str, now: datetime) -> str:
    """The Bookker tenant id the state names; InvalidStateError otherwise."""
    if not isinstance(state, str) or len(state) > MAX_CONSENT_STATE_CHARS:
        raise InvalidStateError("malformed state")
    body, _, mac = state.partition(".")
    if not body or not mac or not digest_matches(key, CONSENT_STATE, body, mac):
        raise InvalidStateError("state signature does not match")
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        tenant, expires = payload["t"], payload["e"]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidStateError("malformed state") from exc
    if not isinstance(tenant, str) or not isinstance(expires, int):
        raise InvalidStateError("malformed state")
    if datetime.fromtimestamp(expires, UTC) <= now:
        raise InvalidStateError("state expired: ask for a new consent link")
    return tenant


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
