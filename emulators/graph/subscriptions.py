"""Change-notification subscriptions: the stored resource, its rules, the handshake.

Rules (learn.microsoft.com/graph/api/resources/subscription,
…/graph/change-notifications-delivery-webhooks, …/graph/change-notifications-overview):

- resource: an Outlook mailbox's events, ``/users/{id}/events`` or ``users/{id}/events``
  (any case, ``users('{id}')`` key form, id or address); it is echoed as given;
- ``changeType``: comma-separated ``created``, ``updated``, ``deleted``;
- ``clientState``: at most 128 characters;
- ``expirationDateTime``: in the past → 400; later than 10,080 minutes from now (Outlook
  events without resource data) → 400 ``ExtensionError`` "Subscription expiration can
  only be 10080 minutes in the future." on create and renew: "any requests to create or
  renew a subscription beyond the maximum value will fail" (subscription resource page,
  "Subscription lifetime"); the error shape is the one Graph answers
  (github.com/microsoftgraph/microsoft-graph-docs/issues/2988, fixed by PR #3029: "the
  hard enforced limits"). "Any value under 45 minutes after the time of the request is
  automatically set to 45 minutes after the request time" (same page). Virtual clock.
  A subscription not renewed in time is deleted;
- "Duplicate subscriptions aren't allowed. When a subscription request contains the same
  values for changeType and resource as an existing subscription, the request fails with
  … 409 Conflict" (per app: apps can't see each other's subscriptions);
- ``lifecycleNotificationUrl`` can't be added or changed by PATCH (lifecycle events page);
- validation handshake against notificationUrl and lifecycleNotificationUrl: POST
  ``{url}?validationToken={url-encoded token}`` with ``Content-Type: text/plain``; the
  answer must come within 10 s (real time), be 200, ``text/plain`` and exactly the
  decoded token, else 400 and no subscription.

Emulator-only restriction: notification URLs must point at the loopback interface
(``localhost``, ``127.0.0.1``, ``::1``); plain ``http`` is accepted there as a stand-in
for a dev tunnel. HTTPS receivers are not certificate-checked (local test certificates).
"""

from __future__ import annotations

import ipaddress
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

import aiohttp
from yarl import URL

from . import router
from .directory import Directory, Mailbox
from .errors import GraphError, access_denied
from .odata import _as_instant
from .timezones import format_utc_timestamp

CHANGE_TYPES = ("created", "updated", "deleted")
MAX_LIFETIME = timedelta(minutes=10_080)  # Outlook message/event/contact, no resource data
MIN_LIFETIME = timedelta(minutes=45)
CLIENT_STATE_MAX = 128
HANDSHAKE_TIMEOUT = 10.0  # real seconds
RATE_WINDOW = 20.0  # real seconds
LOOPBACK_NAMES = ("localhost", "localhost.")
TLS_VERSIONS = ("v1_0", "v1_1", "v1_2", "v1_3")


def invalid(message: str) -> GraphError:
    return GraphError(400, "InvalidRequest", message)


def not_found() -> GraphError:
    return GraphError(404, "ResourceNotFound", "The object was not found.")


@dataclass
class Subscription:
    id: str
    tenant_id: str
    client_id: str
    creator_id: str
    mailbox: str  # mailbox key (lower-case address)
    mailbox_id: str  # the mailbox's object id, as notifications name it
    resource: str  # as the client wrote it
    change_type: str  # as the client wrote it (trimmed)
    change_types: frozenset[str]
    notification_url: str
    lifecycle_url: str | None
    client_state: str | None
    expires: datetime
    tls_version: str = "v1_2"
    authorized_at: datetime | None = None  # virtual: created, renewed or reauthorized
    last_warning: datetime | None = None  # last automatic reauthorizationRequired

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "resource": self.resource,
            "applicationId": self.client_id,
            "changeType": self.change_type,
            "clientState": self.client_state,
            "notificationUrl": self.notification_url,
            "notificationQueryOptions": None,
            "lifecycleNotificationUrl": self.lifecycle_url,
            "expirationDateTime": format_utc_timestamp(self.expires),
            "creatorId": self.creator_id,
            "includeResourceData": False,
            "latestSupportedTlsVersion": self.tls_version,
            "encryptionCertificate": None,
            "encryptionCertificateId": None,
            "notificationUrlAppId": None,
        }


@dataclass
class SubscriptionStore:
    by_id: dict[str, Subscription] = field(default_factory=dict)
    on_expire: Callable[[Subscription], None] | None = None  # counts expirations

    def add(self, sub: Subscription) -> None:
        self.by_id[sub.id] = sub

    def get(self, sub_id: str) -> Subscription | None:
        return self.by_id.get(sub_id)

    def owned(self, tenant_id: str, client_id: str, sub_id: str) -> Subscription:
        """The app's subscription, or 404 (another app's subscriptions are invisible)."""
        sub = self.by_id.get(sub_id)
        if sub is None or sub.tenant_id != tenant_id or sub.client_id != client_id:
            raise not_found()
        return sub

    def of_app(self, tenant_id: str, client_id: str) -> list[Subscription]:
        app = (tenant_id, client_id)
        return [s for s in self.by_id.values() if (s.tenant_id, s.client_id) == app]

    def for_mailbox(self, mailbox: str, now: datetime) -> list[Subscription]:
        return [s for s in self.by_id.values() if s.mailbox == mailbox and s.expires > now]

    def delete(self, sub_id: str) -> Subscription | None:
        return self.by_id.pop(sub_id, None)

    def expire(self, now: datetime) -> list[Subscription]:
        """Delete (and return) every subscription whose expirationDateTime has passed."""
        gone = [s for s in self.by_id.values() if s.expires <= now]
        for sub in gone:
            del self.by_id[sub.id]
            if self.on_expire is not None:
                self.on_expire(sub)
        return gone

    def all(self) -> Iterable[Subscription]:
        return list(self.by_id.values())

    def clear(self) -> None:
        self.by_id.clear()


class RateLimiter:
    """At most ``limit`` requests per sliding ``RATE_WINDOW`` of *real* time per key.

    Real time, not the virtual clock: apps pace subscription writes with real sleeps
    (bookker_sync/sync/renewal.py), and a clock jump must not refill the budget.
    """

    def __init__(self) -> None:
        self._stamps: dict[tuple[str, ...], deque[float]] = {}

    def take(self, key: tuple[str, ...], limit: int, category: str) -> None:
        now = time.monotonic()
        stamps = self._stamps.setdefault(key, deque())
        while stamps and stamps[0] <= now - RATE_WINDOW:
            stamps.popleft()
        if len(stamps) >= limit:
            wait = max(1, math.ceil(stamps[0] + RATE_WINDOW - now))
            raise GraphError(
                429,
                "TooManyRequests",
                f"Too many requests from Identifier:{'+'.join(key)} under category:"
                f"throttle.aad.ags.subscriptionservice.{category}. Please try again later.",
                {"Retry-After": str(wait)},
            )
        stamps.append(now)

    def clear(self) -> None:
        self._stamps.clear()


# -- input ------------------------------------------------------------------------
def get_str(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if required:
            raise invalid(f"The subscription must contain the '{name}' property and its value.")
        return None
    if not isinstance(value, str):
        raise invalid(f"The '{name}' property must be a string.")
    return value


def parse_change_types(value: str) -> tuple[str, frozenset[str]]:
    parts = [p.strip() for p in value.split(",")]
    if not value.strip() or any(not p for p in parts):
        raise invalid("changeType must be a comma-separated list of created, updated, deleted.")
    for part in parts:
        if part.lower() not in CHANGE_TYPES:
            raise invalid(f"'{part}' is not a supported changeType: use created, updated, deleted.")
    return ",".join(parts), frozenset(p.lower() for p in parts)


def resolve_resource(directory: Directory, tenant_id: str, resource: str) -> Mailbox:
    """The mailbox of ``/users/{id}/events`` (id or address, any case, key forms)."""
    path = resource.strip()
    if "?" in path:
        raise invalid(
            "Query options on the resource are only for notifications with resource data, "
            "which the Graph emulator does not emulate."
        )
    segs = router.normalize(path)
    if segs and segs[0].lower() == "me":
        raise GraphError(
            400, "BadRequest", "/me request is only valid with delegated authentication flow."
        )
    if len(segs) != 3 or segs[0].lower() != "users" or segs[2].lower() != "events":
        raise invalid(
            f"Resource '{resource}' is not supported: the Graph emulator supports "
            "subscriptions to /users/{id}/events."
        )
    mailbox = directory.resolve(segs[1])
    if mailbox is None:
        raise GraphError(404, "ErrorInvalidUser", f"The requested user '{segs[1]}' is invalid.")
    if mailbox.tenant_id != tenant_id:
        raise access_denied()
    return mailbox


def too_far(limit: timedelta) -> GraphError:
    """Graph refuses, rather than caps, an expiry beyond the resource's maximum."""
    minutes = int(limit.total_seconds() // 60)
    message = f"Subscription expiration can only be {minutes} minutes in the future."
    return GraphError(400, "ExtensionError", message)


def parse_expiration(value: Any, now: datetime) -> datetime:
    """expirationDateTime → the granted expiry (400 beyond 10,080 min, raised to 45 min)."""
    if not isinstance(value, str) or not value.strip():
        raise invalid(
            "The subscription must contain the 'expirationDateTime' property and its value."
        )
    try:
        wanted = _as_instant(value.strip())
    except ValueError as exc:
        raise invalid(f"The value '{value}' of expirationDateTime is not a valid date.") from exc
    if wanted <= now:
        raise invalid("Subscription expiration can only be in the future.")
    if wanted > now + MAX_LIFETIME:
        raise too_far(MAX_LIFETIME)
    return max(now + MIN_LIFETIME, wanted)


def parse_client_state(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("The 'clientState' property must be a string.")
    if len(value) > CLIENT_STATE_MAX:
        raise invalid(
            f"clientState is {len(value)} characters long: the maximum length is "
            f"{CLIENT_STATE_MAX} characters."
        )
    return value


def check_url(value: str, name: str) -> str:
    """An http(s) URL on the loopback interface (the emulator never calls out)."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        _ = parts.port  # raises on a bad port
    except ValueError as exc:
        raise invalid(f"{name} '{value}' is not a valid URL.") from exc
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise invalid(f"{name} '{value}' must be an absolute http(s) URL.")
    if not _loopback(host):
        raise invalid(
            f"{name} '{value}': the Graph emulator only delivers to loopback hosts "
            "(localhost, 127.0.0.1, ::1); use a local receiver instead of a public URL."
        )
    return value


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_tls_version(value: Any) -> str:
    if value is None:
        return "v1_2"
    if value not in TLS_VERSIONS:
        raise invalid(f"latestSupportedTlsVersion must be one of {', '.join(TLS_VERSIONS)}.")
    return str(value)


def read_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid("Empty Payload. JSON content expected.")
    return {str(k): v for k, v in body.items() if not str(k).startswith("@")}


# -- the validation handshake ------------------------------------------------------
def validation_token() -> str:
    """Opaque, as Graph's: it holds spaces and colons, so it must be URL-decoded
    (github.com/microsoftgraph/microsoft-graph-docs/issues/21160 shows a real one)."""
    return (
        "Validation: Testing client application reachability for subscription "
        f"Request-Id: {uuid.uuid4()}"
    )


def with_query(url: str, name: str, value: str) -> URL:
    sep = "&" if urlsplit(url).query else "?"
    base = url.split("#", 1)[0]
    return URL(f"{base}{sep}{name}={quote(value, safe='')}", encoded=True)


async def validate_endpoint(session: aiohttp.ClientSession, url: str) -> None:
    """POST ``{url}?validationToken=…``; raise a 400 GraphError unless the answer is
    200, text/plain and exactly the token, within ``HANDSHAKE_TIMEOUT`` real seconds."""
    token = validation_token()
    failed = "Subscription validation request failed."
    try:
        async with session.post(
            with_query(url, "validationToken", token),
            data=b"",
            headers={"Content-Type": "text/plain; charset=utf-8"},
            timeout=aiohttp.ClientTimeout(total=HANDSHAKE_TIMEOUT),
            allow_redirects=False,
        ) as resp:
            text = await resp.text(errors="replace")
            status, content_type = resp.status, resp.content_type
    except TimeoutError as exc:
        raise GraphError(
            400, "ValidationError", "Subscription validation request timed out."
        ) from exc
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        raise GraphError(
            400,
            "ValidationError",
            f"{failed} Notification endpoint {url} could not be reached: {exc.__class__.__name__}.",
        ) from exc
    if status != 200:
        raise GraphError(
            400,
            "ValidationError",
            f"{failed} Notification endpoint must respond with 200 OK to validation request "
            f"(it answered {status}).",
        )
    if content_type.lower() != "text/plain":
        raise GraphError(
            400,
            "ValidationError",
            f"{failed} Response must have Content-Type text/plain (it was {content_type}).",
        )
    if text != token:
        raise GraphError(
            400,
            "ValidationError",
            f"{failed} Response must exactly match validationToken query parameter.",
        )


async def validate_endpoints(session: aiohttp.ClientSession, urls: Iterable[str]) -> None:
    """Both URLs are validated, one after the other (lifecycle events page)."""
    for url in urls:
        await validate_endpoint(session, url)


def new_id() -> str:
    return str(uuid.uuid4())
