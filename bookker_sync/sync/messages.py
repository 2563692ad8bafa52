"""Queue message shapes other code may send (DESIGN.md §5)."""

from __future__ import annotations

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


def parse_message(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise BadMessage(f"invalid {model.__name__}: {exc.errors()[:3]}") from exc
