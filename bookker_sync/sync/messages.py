"""Queue message shapes other code may send (DESIGN.md §5)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

M = TypeVar("M", bound=BaseModel)


class BadMessage(ValueError):
    """A message that can never succeed: it goes to the poison queue with the reason."""


class MailboxSyncMessage(BaseModel):
    """``mailbox-sync``: {"tenantId", "mailbox"} (+ optional "full": true)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=64)
    mailbox: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    full: bool = False
    notified_at: datetime | None = Field(default=None, alias="notifiedAt")
    unless_synced_after: datetime | None = Field(default=None, alias="unlessSyncedAfter")


class MailboxSyncBatch(BaseModel):
    """``mailbox-sync`` as written by the webhook under load: {"pokes": [...]} (one
    queue write for many mailboxes; see sync/poke_writer.py)."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore")

    pokes: list[MailboxSyncMessage] = Field(min_length=1, max_length=1000)


def parse_sync_pokes(body: bytes) -> list[MailboxSyncMessage]:
    """Either form of a mailbox-sync message, as a list of pokes."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadMessage(f"invalid MailboxSyncMessage: not JSON ({exc})") from exc
    if isinstance(data, dict) and "pokes" in data:
        return parse_message(MailboxSyncBatch, body).pokes
    return [parse_message(MailboxSyncMessage, body)]


def parse_message(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise BadMessage(f"invalid {model.__name__}: {exc.errors()[:3]}") from exc
