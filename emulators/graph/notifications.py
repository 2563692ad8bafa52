"""Change and lifecycle notification delivery (webhooks), with faults.

Every change in ``World.changes`` for a mailbox with live subscriptions becomes one
notification item per matching subscription (filtered by its changeType):

    {"subscriptionId", "subscriptionExpirationDateTime", "changeType", "resource",
     "resourceData": {"@odata.type": "#Microsoft.Graph.Event", "@odata.id", "@odata.etag",
     "id"}, "clientState", "tenantId"}

with ``resource`` and ``@odata.id`` as ``Users/{user object id}/Events/{event id}``
(learn.microsoft.com/graph/outlook-change-notifications-overview, "Receive notifications
without resource data"). Series: Outlook notifies the *series master* when one
occurrence is changed, cancelled or declined ("Removal of a recurring event instance
causes only update notification on the SeriesMaster event",
github.com/microsoftgraph/microsoft-graph-docs/issues/5520; github.com/pnp/PnP/issues/1894),
so occurrence and exception changes become ``updated`` on the master.

Delivery (learn.microsoft.com/graph/change-notifications-delivery-webhooks):

- items due at the same time are POSTed as ``{"value": [...]}``, one POST per
  notificationUrl (its query string kept) across subscriptions, at most ``MAX_ITEMS``
  per POST;
- 2xx within 3 s = delivered; non-2xx, timeout or connection error → retried with
  exponential backoff on the *virtual* clock (15 s, 30 s, 60 s, … capped at 30 min) for
  up to 4 hours after the change, then dropped. "For notifications that are retried,
  the request timeout is extended to 10 seconds";
- endpoint throttling over a sliding 10-minute (virtual) window of answers, evaluated
  once the window holds ``MIN_SAMPLE`` answers (an emulator choice; an older revision
  of the page said 100 notifications): more than 10 % slower than the 3-second
  allowance → "slow", new notifications are sent after a 10-minute delay; more than
  15 % slower than the 10-second retry allowance → "drop", new notifications are
  dropped. The states end when the slow answers leave the window.

Faults (``PUT /_emulator/faults``, seeded streams): ``notificationDropRate``,
``notificationDuplicateRate`` (the copy comes in a separate POST),
``notificationDelaySeconds`` (virtual), ``reorder`` (shuffles each POST's items) and
``silentMailboxes`` apply to change notifications; lifecycle notifications share the
outbox, batching, retries and endpoint states but not those faults.

Lifecycle: ``POST /_emulator/subscriptions/{id}/lifecycle`` sends any ``lifecycleEvent``
to the lifecycleNotificationUrl (else the notificationUrl) with the documented payload
(learn.microsoft.com/graph/change-notifications-lifecycle-events). Graph also sends
``reauthorizationRequired`` "when a subscription is about to expire" (all resources):
subscriptions *with* a lifecycleNotificationUrl get one once fewer than
``reauthorizationWarningMinutes`` (60) remain, then every 15 minutes, never within 15
minutes of being created, renewed or reauthorized. Expired subscriptions are deleted
silently ("Once this time passes, Microsoft Graph deletes the subscription").

Stats ``notifications`` count items: ``sent`` (in a 2xx POST), ``failed`` (in a failed
POST, per attempt), ``retried`` (in a POST that was a retry), ``duplicated`` (extra
copies made), ``dropped`` (never delivered: drop fault, endpoint "drop" state, given up
after 4 hours).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import json
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from yarl import URL

from .changelog import Change
from .clock import VirtualClock
from .faults import Faults
from .serialize import etag
from .stats import Stats
from .subscriptions import RateLimiter, Subscription, SubscriptionStore
from .timezones import format_utc_timestamp
from .world import World

log = logging.getLogger("emulators.graph.notifications")

MAX_ITEMS = 100
FIRST_TIMEOUT = 3.0  # real seconds
RETRY_TIMEOUT = 10.0
RETRY_BASE = timedelta(seconds=15)
RETRY_CAP = timedelta(minutes=30)
RETRY_FOR = timedelta(hours=4)
THROTTLE_WINDOW = timedelta(minutes=10)
THROTTLE_DELAY = timedelta(minutes=10)
MIN_SAMPLE = 10
SLOW_SHARE = 0.10
DROP_SHARE = 0.15
WARNING_EVERY = timedelta(minutes=15)
EVENT_TYPE = "#Microsoft.Graph.Event"

EndpointState = Literal["ok", "slow", "drop"]


@dataclass(order=True)
class Pending:
    due: datetime
    seq: int
    url: str = field(compare=False)
    item: dict[str, Any] = field(compare=False)
    created: datetime = field(compare=False)
    kind: str = field(default="change", compare=False)  # change | lifecycle
    copy: int = field(default=0, compare=False)  # 1 for a duplicate's copy
    attempts: int = field(default=0, compare=False)


@dataclass(frozen=True)
class Answer:
    at: datetime  # virtual
    slow: bool  # slower than the 3-second allowance (or timed out)
    very_slow: bool  # slower than the 10-second retry allowance


class EndpointHealth:
    """Slow/drop states of notification endpoints (sliding window of answers)."""

    def __init__(self) -> None:
        self._answers: dict[str, deque[Answer]] = {}

    def record(
        self, key: str, at: datetime, elapsed: float, timed_out: bool, timeout: float
    ) -> None:
        slow = timed_out or elapsed > FIRST_TIMEOUT
        very_slow = (timed_out and timeout >= RETRY_TIMEOUT) or elapsed > RETRY_TIMEOUT
        self._answers.setdefault(key, deque()).append(Answer(at, slow, very_slow))

    def state(self, key: str, now: datetime) -> EndpointState:
        answers = self._answers.get(key)
        if not answers:
            return "ok"
        while answers and answers[0].at <= now - THROTTLE_WINDOW:
            answers.popleft()
        if len(answers) < MIN_SAMPLE:
            return "ok"
        if sum(a.very_slow for a in answers) / len(answers) > DROP_SHARE:
            return "drop"
        if sum(a.slow for a in answers) / len(answers) > SLOW_SHARE:
            return "slow"
        return "ok"

    def clear(self) -> None:
        self._answers.clear()


def endpoint_key(url: str) -> str:
    """Throttling is per endpoint: the URL without its query string."""
    p = urlsplit(url)
    return urlunsplit((p.scheme.lower(), p.netloc.lower(), p.path, "", ""))


def backoff(failures: int) -> timedelta:
    delay: timedelta = RETRY_BASE * 2 ** min(failures - 1, 20)
    return min(delay, RETRY_CAP)


class Notifier:
    def __init__(self, world: World, clock: VirtualClock, stats: Stats) -> None:
        self.world = world
        self.clock = clock
        self.stats = stats
        self.store = SubscriptionStore(on_expire=lambda s: stats.subscription_expired(s.tenant_id))
        self.limiter = RateLimiter()
        self.health = EndpointHealth()
        self.faults = Faults()
        self._rngs: dict[str, random.Random] = {}
        self._outbox: list[Pending] = []
        self._seq = itertools.count()
        self._inflight: set[asyncio.Task[None]] = set()
        self._session: aiohttp.ClientSession | None = None
        self.generation = 0  # bumped by reset: answers from before are ignored
        self._etags: dict[tuple[str, str], str] = {}
        self._posts = 0
        # (tenant, client, mailbox, change types) of creations waiting for their handshake
        self.handshakes: set[tuple[str, str, str, frozenset[str]]] = set()
        self.configure(Faults())
        world.changes.subscribe(self._on_change)

    # -- configuration -------------------------------------------------------------
    def configure(self, faults: Faults) -> None:
        self.faults = faults
        self._rngs = {
            name: faults.rng(f"notifications-{name}")
            for name in ("drop", "duplicate", "delay", "reorder")
        }

    def reset(self) -> None:
        """Forget subscriptions, queued notifications, endpoint states and rate limits.
        Answers to POSTs still in flight are ignored."""
        self.generation += 1
        self.store.clear()
        self.limiter.clear()
        self.health.clear()
        self._outbox.clear()
        self._etags.clear()
        self.configure(Faults())

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=False, limit=64),
                trust_env=False,
            )
        return self._session

    async def close(self) -> None:
        for task in list(self._inflight):
            task.cancel()
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    # -- subscriptions ---------------------------------------------------------------
    def authorized(self, sub: Subscription) -> None:
        """Created, renewed or reauthorized now: restart the reauthorization clock."""
        sub.authorized_at = self.clock.now()
        sub.last_warning = None

    def _warnings(self, now: datetime) -> None:
        minutes = self.faults.reauthorizationWarningMinutes
        if minutes <= 0:
            return
        ahead = timedelta(minutes=minutes)
        for sub in self.store.all():
            if sub.lifecycle_url is None or sub.expires - now > ahead or sub.expires <= now:
                continue
            quiet_since = max(filter(None, (sub.authorized_at, sub.last_warning)), default=None)
            if quiet_since is not None and now - quiet_since < WARNING_EVERY:
                continue
            sub.last_warning = now
            self.lifecycle(sub, "reauthorizationRequired")

    # -- change notifications --------------------------------------------------------
    def _on_change(self, change: Change) -> None:
        key = (change.mailbox, change.event_id)
        if change.change_key is not None:
            self._etags[key] = change.change_key
        last_key = self._etags.pop(key, None) if change.change_type == "deleted" else None
        now = self.clock.now()
        subs = self.store.for_mailbox(change.mailbox, now)
        if not subs or change.mailbox in self.faults.silentMailboxes:
            return
        target = self._target(change, last_key)
        if target is None:
            return
        change_type, event_id, change_key = target
        path = f"Users/{subs[0].mailbox_id}/Events/{event_id}"
        data: dict[str, Any] = {"@odata.type": EVENT_TYPE, "@odata.id": path}
        if change_key is not None:
            data["@odata.etag"] = etag(change_key)
        data["id"] = event_id
        for sub in subs:
            if change_type not in sub.change_types:
                continue
            item = {
                "subscriptionId": sub.id,
                "subscriptionExpirationDateTime": format_utc_timestamp(sub.expires),
                "changeType": change_type,
                "resource": path,
                "resourceData": dict(data),
                "clientState": sub.client_state,
                "tenantId": sub.tenant_id,
            }
            self._enqueue_change(sub, item, now)

    def _target(self, change: Change, last_key: str | None) -> tuple[str, str, str | None] | None:
        """(changeType, event id, changeKey) Graph reports for one logged change."""
        if change.kind in ("occurrence", "exception"):
            cal = self.world.calendars.get(change.mailbox)
            master = cal.events.get(change.root_id) if cal is not None else None
            if master is None:  # the whole series went: its own "deleted" says so
                return None
            return "updated", master.id, master.change_key
        key = change.change_key if change.change_type != "deleted" else last_key
        return change.change_type, change.event_id, key

    def _enqueue_change(self, sub: Subscription, item: dict[str, Any], now: datetime) -> None:
        f = self.faults
        if f.notificationDropRate > 0 and self._rngs["drop"].random() < f.notificationDropRate:
            self.stats.count_notification("dropped")
            return
        due = now
        low, high = f.notificationDelaySeconds
        if high > 0:
            due += timedelta(seconds=self._rngs["delay"].uniform(low, high))
        copies = 1
        if (
            f.notificationDuplicateRate > 0
            and self._rngs["duplicate"].random() < f.notificationDuplicateRate
        ):
            copies = 2
            self.stats.count_notification("duplicated")
        for copy in range(copies):
            self._push(sub.notification_url, dict(item), now, due, "change", copy)

    def lifecycle(self, sub: Subscription, event: str) -> str:
        """Queue one lifecycle notification; returns the URL it goes to."""
        now = self.clock.now()
        url = sub.lifecycle_url or sub.notification_url
        item = {
            "subscriptionId": sub.id,
            "subscriptionExpirationDateTime": format_utc_timestamp(sub.expires),
            "tenantId": sub.tenant_id,
            "clientState": sub.client_state,
            "lifecycleEvent": event,
        }
        self._push(url, item, now, now, "lifecycle", 0)
        return url

    def _push(
        self, url: str, item: dict[str, Any], now: datetime, due: datetime, kind: str, copy: int
    ) -> None:
        state = self.health.state(endpoint_key(url), now)
        if state == "drop":
            self.stats.count_notification("dropped")
            return
        if state == "slow":
            due += THROTTLE_DELAY
        heapq.heappush(self._outbox, Pending(due, next(self._seq), url, item, now, kind, copy))

    # -- delivery --------------------------------------------------------------------
    def pending(self) -> int:
        return len(self._outbox)

    def next_due(self) -> datetime | None:
        return self._outbox[0].due if self._outbox else None

    def tick(self) -> None:
        """Expire subscriptions, send reauthorization warnings, start due deliveries."""
        now = self.clock.now()
        self.store.expire(now)
        self._warnings(now)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return
        for batch in self._take_due(now):
            self._spawn(batch)

    def _take_due(self, now: datetime) -> list[list[Pending]]:
        groups: dict[tuple[str, int], list[Pending]] = {}
        while self._outbox and self._outbox[0].due <= now:
            p = heapq.heappop(self._outbox)
            groups.setdefault((p.url, p.copy), []).append(p)
        batches: list[list[Pending]] = []
        for items in groups.values():
            for i in range(0, len(items), MAX_ITEMS):
                chunk = items[i : i + MAX_ITEMS]
                if self.faults.reorder:
                    self._rngs["reorder"].shuffle(chunk)
                batches.append(chunk)
        return batches

    def _spawn(self, batch: list[Pending]) -> None:
        task = asyncio.get_running_loop().create_task(self._post(batch, self.generation))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _post(self, batch: list[Pending], generation: int) -> None:
        url = batch[0].url
        timeout = RETRY_TIMEOUT if all(p.attempts for p in batch) else FIRST_TIMEOUT
        body = json.dumps({"value": [p.item for p in batch]}).encode()
        ok, timed_out, status = False, False, 0
        started = time.monotonic()
        try:
            async with self.session().post(
                URL(url, encoded=True),
                data=body,
                headers={"Content-Type": "application/json; charset=utf-8"},
                timeout=aiohttp.ClientTimeout(total=timeout),
                allow_redirects=False,
            ) as resp:
                await resp.read()
                status = resp.status
                ok = 200 <= status < 300
        except TimeoutError:
            timed_out = True
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            log.info("notification POST to %s failed: %s", url, exc)
        elapsed = time.monotonic() - started
        if generation != self.generation:
            return  # the world was reset meanwhile
        self._posts += 1
        now = self.clock.now()
        self.health.record(endpoint_key(url), now, elapsed, timed_out, timeout)
        retried = sum(1 for p in batch if p.attempts)
        if retried:
            self.stats.count_notification("retried", retried)
        if ok:
            self.stats.count_notification("sent", len(batch))
            return
        self.stats.count_notification("failed", len(batch))
        for p in batch:
            p.attempts += 1
            deadline = p.created + RETRY_FOR
            if now >= deadline:
                self.stats.count_notification("dropped")
                continue
            p.due = min(now + backoff(p.attempts), deadline)
            p.seq = next(self._seq)
            heapq.heappush(self._outbox, p)

    async def flush(self, before_each: Callable[[], None] | None = None) -> dict[str, Any]:
        """Deliver everything due now (virtual clock) and wait for every answer,
        including deliveries the background pump had started."""
        start = dict(self.stats.notifications)
        posts = self._posts
        for _ in range(20):
            if before_each is not None:
                before_each()
            for batch in self._take_due(self.clock.now()):
                self._spawn(batch)
            if not self._inflight:
                break
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        counts = {
            k: self.stats.notifications.get(k, 0) - start.get(k, 0)
            for k in ("sent", "failed", "retried", "dropped", "duplicated")
        }
        nxt = self.next_due()
        return {
            **counts,
            "posts": self._posts - posts,
            "pending": self.pending(),
            "nextDue": format_utc_timestamp(nxt) if nxt else None,
            "now": format_utc_timestamp(self.clock.now()),
        }
