"""A tenant's push destination (``PUT /api/tenants/{id}`` ``"events": {url, secret}``).

The secret is a Standard Webhooks secret (``whsec_`` + base64 of 24 to 64 random
bytes); it is stored for signing and never returned nor logged.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

from bookker_sync.storage.optimistic import update_document
from bookker_sync.storage.repositories import PUSH_ROW, EventPush
from bookker_sync.sync.errors import BadRequestError
from bookker_sync.sync.events.destination import UnsafeDestinationError, check_destination
from bookker_sync.sync.services import Services

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret
MIN_SECRET_BYTES, MAX_SECRET_BYTES = 24, 64


@dataclass(frozen=True)
class PushConfig:
    url: str
    secret: str = field(repr=False)


def check_secret(secret: str) -> None:
    if not secret.startswith(SECRET_PREFIX):
        raise BadRequestError("events.secret must be a Standard Webhooks secret: whsec_ + base64")
    try:
        key = base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise BadRequestError("events.secret: what follows whsec_ must be base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise BadRequestError(
            f"events.secret must hold {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes of key"
        )


async def configure_push(services: Services, tenant_id: str, config: PushConfig) -> None:
    """Set (or change) where events go. A new destination gets the events logged from
    now on; a changed one keeps its place in the log."""
    check_secret(config.secret)
    try:
        await check_destination(config.url, allow_local=services.settings.events.allow_local_http)
    except UnsafeDestinationError as exc:
        raise BadRequestError(f"events.url: {exc}") from None
    start = await services.events.last_seq(tenant_id)

    def change(push: EventPush) -> bool:
        if (push.url, push.secret) == (config.url, config.secret):
            return False
        push.url, push.secret = config.url, config.secret
        push.next_attempt_at, push.attempts, push.first_failure_at = None, 0, None
        return True

    await update_document(
        services.repos.event_push, tenant_id, PUSH_ROW, change,
        create=lambda: EventPush(tenant_id=tenant_id, url="", secret="", delivered_seq=start),
    )  # fmt: skip


async def remove_push(services: Services, tenant_id: str) -> None:
    await services.repos.event_push.delete(tenant_id, PUSH_ROW)


async def push_view(services: Services, tenant_id: str) -> dict[str, str] | None:
    """What the API shows: the URL, never the secret."""
    stored = await services.repos.event_push.find(tenant_id, PUSH_ROW)
    return {"url": stored.value.url} if stored else None
