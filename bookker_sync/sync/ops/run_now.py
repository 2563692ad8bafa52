"""An operator's "run now" of the timers' work, on the real host as locally.

The real Functions host runs a timer function from ``POST /admin/functions/{name}``
but passes it no input, so "force" can't travel that way. The operator (the CLI, or
anyone who can write to the storage account) puts a ``RunNowMessage`` on queue
``lifecycle`` instead; ``process_lifecycle`` runs it here.
"""

from __future__ import annotations

import logging
from typing import Literal

from bookker_sync.sync import messages
from bookker_sync.sync.messages import RunNowMessage
from bookker_sync.sync.services import Services
from bookker_sync.sync.subscriptions.reconcile_timer import reconcile_all
from bookker_sync.sync.subscriptions.renewal import renew_due

log = logging.getLogger(__name__)


async def request_run_now(
    services: Services, kind: Literal["reconcileAll", "renewAll"], *, force: bool = True
) -> RunNowMessage:
    """Queue the work for the function app's workers."""
    message = RunNowMessage(kind=kind, force=force)
    await messages.send(services.queues, message)
    return message


async def run_now(services: Services, message: RunNowMessage) -> None:
    if message.kind == "reconcileAll":
        report = await reconcile_all(services, force=message.force)
        log.info("run now: reconcileAll force=%s rooms=%d enqueued=%d ensured=%d",
                 message.force, report.rooms, report.enqueued, report.ensured)  # fmt: skip
        return
    renewal = await renew_due(services, force=message.force)
    log.info("run now: renewAll force=%s %s", message.force, renewal)
