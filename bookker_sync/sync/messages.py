"""Every queue message the app sends or reads, typed, in one place.

Writers build a message object and hand it to ``send``; readers ``parse`` bytes into
one. Nobody builds a raw dict for a queue, so a field can't be misspelt on one side.
``mailbox-sync`` takes ``{"tenantId", "mailbox"}`` from outside code too (operators,
Bookker's backend); its optional fields have safe defaults.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bookker_sync.json_types import JsonObject
from bookker_sync.storage.queues import (
    EVENT_PUSH_QUEUE,
    LIFECYCLE_QUEUE,
    MAILBOX_SYNC_QUEUE,
    OUTBOUND_QUEUE,
    QueueSender,
    poison_queue,
)

M = TypeVar("M", bound="QueueMessage")


class BadMessage(ValueError):
    """A message that can never succeed: it goes to the poison queue with the reason."""


class QueueMessage(BaseModel):
    model_config = ConfigDict(populate_by_name=True, extra="ignore")
    QUEUE: ClassVar[str]

    def to_json(self) -> JsonObject:
        """The wire form: camelCase keys, fields at their defaults left out."""
        wire: JsonObject = _wire(self.model_dump(by_alias=True, exclude_defaults=True))
        return wire


def _wire(value: Any) -> Any:
    # Times as ISO 8601 with an explicit offset (+00:00), as every writer of ours uses.
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wire(v) for v in value]
    return value


class MailboxSyncMessage(QueueMessage):
    """``mailbox-sync``: sync one room mailbox now."""

    QUEUE: ClassVar[str] = MAILBOX_SYNC_QUEUE

    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=64)
    mailbox: str = Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$")
    full: bool = False
    notified_at: datetime | None = Field(default=None, alias="notifiedAt")
    # A follow-up poke (the lease holder may have died): skip if a sync ran since.
    unless_synced_after: datetime | None = Field(default=None, alias="unlessSyncedAfter")


class MailboxSyncBatch(QueueMessage):
    """``mailbox-sync`` as written by the webhook under load: many pokes in one queue
    write (see sync/inbound/poke_writer.py)."""

    QUEUE: ClassVar[str] = MAILBOX_SYNC_QUEUE

    pokes: list[MailboxSyncMessage] = Field(min_length=1, max_length=1000)


class LifecycleMessage(QueueMessage):
    """``lifecycle``: subscription upkeep (ensure / ensureTenant) or a Graph lifecycle
    notification that passed the webhook's checks."""

    QUEUE: ClassVar[str] = LIFECYCLE_QUEUE

    kind: Literal["ensure", "ensureTenant", "lifecycle"]
    tenant_id: str = Field(alias="tenantId", min_length=1)
    space_id: str | None = Field(default=None, alias="spaceId")
    mailbox: str | None = None
    subscription_id: str | None = Field(default=None, alias="subscriptionId")
    lifecycle_event: str | None = Field(default=None, alias="lifecycleEvent")
    # The notification minus its clientState, as (truncated) JSON text: only logged.
    payload: str = Field(default="", max_length=8000)


class RunNowMessage(QueueMessage):
    """``lifecycle``: an operator's "run now" of a timer's work, on every room or
    subscription regardless of age or back-off: ``reconcileAll`` (sync every room) or
    ``renewAll`` (renew / recreate every due subscription). The real Functions host
    passes no input to timer functions, so this is how it is asked for in Azure (the
    CLI sends it; so can ``az storage message put``)."""

    QUEUE: ClassVar[str] = LIFECYCLE_QUEUE
    RUN_NOW_KINDS: ClassVar[tuple[str, ...]] = ("reconcileAll", "renewAll")

    kind: Literal["reconcileAll", "renewAll"]
    force: bool = True

    def to_json(self) -> JsonObject:
        # "force" is written out even at its default: the message says what it does.
        return {"kind": self.kind, "force": self.force}


class OutboundMessage(QueueMessage):
    """``outbound``: a Bookker system action to apply to Outlook calendars."""

    QUEUE: ClassVar[str] = OUTBOUND_QUEUE

    action: Literal["release"]
    tenant_id: str = Field(alias="tenantId", min_length=1)
    booking_id: str = Field(alias="bookingId", min_length=1)
    reason: str = ""


class EventPushMessage(QueueMessage):
    """``events-push``: push the tenant's undelivered events to its webhook, in order."""

    QUEUE: ClassVar[str] = EVENT_PUSH_QUEUE

    tenant_id: str = Field(alias="tenantId", min_length=1, max_length=64)


class PoisonMessage(QueueMessage):
    """``<queue>-poison``: a message that can never succeed, with why."""

    reason: str
    body: str
    id: str


async def send(
    queues: QueueSender, message: QueueMessage, *, delay_seconds: int | None = None
) -> None:
    await queues.send(message.QUEUE, message.to_json(), delay_seconds=delay_seconds)


async def send_poison(queues: QueueSender, queue: str, message: PoisonMessage) -> None:
    await queues.send(poison_queue(queue), message.to_json())


def parse_sync_pokes(body: bytes) -> list[MailboxSyncMessage]:
    """Either form of a mailbox-sync message, as a list of pokes."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadMessage(f"invalid MailboxSyncMessage: not JSON ({exc})") from exc
    if isinstance(data, dict) and "pokes" in data:
        return parse_message(MailboxSyncBatch, body).pokes
    return [parse_message(MailboxSyncMessage, body)]


def parse_lifecycle(body: bytes) -> LifecycleMessage | RunNowMessage:
    """A ``lifecycle`` message: subscription upkeep, or an operator's run-now."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadMessage(f"invalid LifecycleMessage: not JSON ({exc})") from exc
    if isinstance(data, dict) and data.get("kind") in RunNowMessage.RUN_NOW_KINDS:
        return parse_message(RunNowMessage, body)
    return parse_message(LifecycleMessage, body)


def parse_message(model: type[M], body: bytes) -> M:
    try:
        return model.model_validate_json(body)
    except ValidationError as exc:
        raise BadMessage(f"invalid {model.__name__}: {exc.errors()[:3]}") from exc
