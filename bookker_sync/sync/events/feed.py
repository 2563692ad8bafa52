"""The pull feed: ``GET /api/tenants/{id}/events?after={cursor}&limit={n}``.

The cursor is opaque to clients: base64url of ``v1:<sequence>``, the last event they
got. Events come in sequence order and a sequence number is only ever visible
together with its event (storage/event_log.py), so paging on never skips or repeats.
Without ``after`` the feed starts at the oldest event still kept (EVENT_RETENTION_DAYS).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta

from bookker_sync.json_types import JsonObject
from bookker_sync.sync.errors import BadRequestError
from bookker_sync.sync.outbound.tenants import get_tenant
from bookker_sync.sync.services import Services

DEFAULT_LIMIT, MAX_LIMIT = 100, 1000
_VERSION = "v1:"


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{_VERSION}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, ValueError):
        raise BadRequestError("after: not a cursor this feed gave out") from None
    digits = text.removeprefix(_VERSION)
    if not text.startswith(_VERSION) or not digits.isdigit() or len(digits) > 15:
        raise BadRequestError("after: not a cursor this feed gave out")
    return int(digits)


def parse_limit(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise BadRequestError(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


@dataclass(frozen=True)
class FeedPage:
    events: list[JsonObject]
    cursor: str


async def read_feed(services: Services, tenant_id: str, after: str | None, limit: int) -> FeedPage:
    await get_tenant(services, tenant_id)
    last = decode_cursor(after) if after else 0
    # Events past retention may wait for the daily purge: they are not served meanwhile.
    cutoff = services.clock.now() - timedelta(days=services.settings.events.retention_days)
    while True:
        found = await services.events.read(tenant_id, last, limit)
        if not found:
            return FeedPage([], encode_cursor(last))
        last = found[-1].seq
        kept = [e.cloud_event for e in found if e.time >= cutoff]
        if kept:
            return FeedPage(kept, encode_cursor(last))
