"""The webhook's view of the subscriptionids index: cached, and dropped when it changes.

Every notification names a subscription id; reading its owner from storage for every
item would make each anonymous request cost one table read per item. So:

- known ids are cached (``POSITIVE_SECONDS``), unknown ids too, for a short time
  (``NEGATIVE_SECONDS``): a flood of bogus ids costs one read per id per window;
- any subscription created, replaced or deleted anywhere changes the *generation*
  entity (one blind write); each instance reads it at most every
  ``GENERATION_POLL_SECONDS`` when notifications arrive and, when it changed, drops
  both caches. So an old subscription id stops being accepted within seconds of its
  replacement, on every instance, not after the positive TTL. In the process that made
  the change the entries are dropped at once (``forget``).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

from bookker_sync.storage.repositories import (
    GENERATION_KEY,
    SubscriptionGeneration,
    SubscriptionIndex,
)
from bookker_sync.sync.services import Services

POSITIVE_SECONDS = 300.0
NEGATIVE_SECONDS = 30.0
GENERATION_POLL_SECONDS = 2.0
MAX_ENTRIES = 50_000  # per cache; past it the cache starts over (memory bound)


@dataclass
class SubscriptionCache:
    known: dict[str, tuple[SubscriptionIndex, float]] = field(default_factory=dict)
    unknown: dict[str, float] = field(default_factory=dict)
    generation: str | None = None
    checked_at: float = float("-inf")

    def cached(self, subscription_id: str) -> tuple[bool, SubscriptionIndex | None]:
        """(hit, index): a hit with None is a cached "no such subscription"."""
        now = time.monotonic()
        hit = self.known.get(subscription_id)
        if hit is not None and now - hit[1] < POSITIVE_SECONDS:
            return True, hit[0]
        missed_at = self.unknown.get(subscription_id)
        if missed_at is not None and now - missed_at < NEGATIVE_SECONDS:
            return True, None
        return False, None

    def remember(self, subscription_id: str, index: SubscriptionIndex | None) -> None:
        now = time.monotonic()
        if index is None:
            if len(self.unknown) >= MAX_ENTRIES:
                self.unknown.clear()
            self.unknown[subscription_id] = now
            return
        if len(self.known) >= MAX_ENTRIES:
            self.known.clear()
        self.known[subscription_id] = (index, now)
        self.unknown.pop(subscription_id, None)

    def forget(self, *subscription_ids: str) -> None:
        for subscription_id in subscription_ids:
            self.known.pop(subscription_id, None)
            self.unknown.pop(subscription_id, None)

    def clear(self) -> None:
        self.known.clear()
        self.unknown.clear()

    async def refresh(self, services: Services) -> None:
        """Drop everything if the generation moved (read at most every poll interval)."""
        now = time.monotonic()
        if now - self.checked_at < GENERATION_POLL_SECONDS:
            return
        self.checked_at = now
        stored = await services.repos.generation.find(*GENERATION_KEY)
        current = stored.value.value if stored else ""
        if current != self.generation:
            self.clear()
            self.generation = current

    async def lookup(self, services: Services, subscription_id: str) -> SubscriptionIndex | None:
        hit, index = self.cached(subscription_id)
        if hit:
            return index
        stored = await services.repos.subscription_ids.find(subscription_id, "s")
        found = stored.value if stored else None
        self.remember(subscription_id, found)
        return found


CACHE = SubscriptionCache()


async def subscriptions_changed(services: Services, *subscription_ids: str) -> None:
    """After creating, replacing or deleting subscriptions: forget them here, and tell
    every other instance (a new generation)."""
    CACHE.forget(*subscription_ids)
    CACHE.unknown.clear()  # a new id may have been looked up before it was indexed
    await services.repos.generation.upsert(
        *GENERATION_KEY, SubscriptionGeneration(value=uuid.uuid4().hex)
    )
