"""Queue names: part of the function contract. Kept apart from the
queue SDK so the trigger declarations can name them without importing it."""

from __future__ import annotations

MAILBOX_SYNC_QUEUE = "mailbox-sync"
LIFECYCLE_QUEUE = "lifecycle"
OUTBOUND_QUEUE = "outbound"
EVENT_PUSH_QUEUE = "events-push"
APP_QUEUES = (MAILBOX_SYNC_QUEUE, LIFECYCLE_QUEUE, OUTBOUND_QUEUE, EVENT_PUSH_QUEUE)


def poison_queue(name: str) -> str:
    return f"{name}-poison"
