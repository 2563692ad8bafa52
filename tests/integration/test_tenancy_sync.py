"""Ownership in the sync engine, in-process against real Azurite and the Graph emulator
(the session stack's): what no code path may do to another tenant, and the webhook
ingress' cost and caches under hostile input."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.domain.models import Space, Tenant, TenantMode
from bookker_sync.domain.signing import CLIENT_STATE, keyed_digest
from bookker_sync.graph.errors import GraphError
from bookker_sync.settings import load_settings
from bookker_sync.storage.repositories import (
    GENERATION_KEY,
    TENANT_PARTITION,
    SubscriptionGeneration,
    SubscriptionIndex,
    SubscriptionState,
)
from bookker_sync.sync.inbound import ingress, subscription_cache
from bookker_sync.sync.services import Services, close_services, services_for
from bookker_sync.sync.subscriptions import ensure
from tests.support.functions_host import APP_CLIENT_ID, APP_SECRET, Stack
from tests.support.outlook import Outlook


@pytest.fixture
async def services(stack: Stack) -> AsyncIterator[Services]:
    env = {
        "AzureWebJobsStorage": stack.azurite.connection_string,
        "GRAPH_CLIENT_ID": APP_CLIENT_ID, "GRAPH_CLIENT_SECRET": APP_SECRET,
        "GRAPH_BASE_URL": stack.emulator.graph_url, "GRAPH_AUTHORITY": stack.emulator.base_url,
        "GRAPH_CA_BUNDLE": stack.emulator.ca_path,
        # The stack's host answers the validation handshakes of the subscriptions made here.
        "WEBHOOK_BASE_URL": stack.env["WEBHOOK_BASE_URL"],
    }  # fmt: skip
    svc = services_for(load_settings(env))
    subscription_cache.CACHE.clear()
    yield svc
    await close_services(svc)


async def tenant(services: Services, stack: Stack, directory: str, room: str | None) -> Tenant:
    t = Tenant(id="t-" + uuid.uuid4().hex[:10], graph_tenant_id=directory,
               mode=TenantMode.BIDIRECTIONAL)  # fmt: skip
    await services.repos.tenants.upsert(TENANT_PARTITION, t.id, t)
    if room:
        space = Space(id="room", tenant_id=t.id, name="Room", resource_email=room)
        await services.repos.spaces.upsert(t.id, "room", space)
    return t


def directory_with_room(stack: Stack) -> tuple[str, str]:
    directory, room = str(uuid.uuid4()), f"room-{uuid.uuid4().hex[:6]}@contoso.test"
    stack.emulator.add_tenant(directory, APP_CLIENT_ID, APP_SECRET)
    stack.emulator.add_mailbox(directory, room, "Room", "room")
    return directory, room


def subscriptions_in_graph(stack: Stack, directory: str) -> list[dict[str, Any]]:
    fake = type("T", (), {"graph_tenant_id": directory})()
    return list(Outlook(stack, fake).call("GET", "subscriptions")["value"])  # type: ignore[arg-type]


async def test_duplicate_clean_up_never_deletes_another_tenants_subscription(
    stack: Stack, services: Services
) -> None:
    """The victim subscribed her room. An intruder's subscription attempt on the same
    room (same directory, other case) gets Graph's 409: the clean-up must leave the
    victim's subscription alone (it used to delete every subscription on the room)."""
    directory, room = directory_with_room(stack)
    victim = await tenant(services, stack, directory, room)
    created = await ensure.create(services, victim, "room", room)
    intruder = await tenant(services, stack, directory, None)
    with pytest.raises(GraphError) as refused:
        await ensure.create(services, intruder, "room", Mailbox(room.upper()))
    assert refused.value.code == ensure.NOT_OURS
    ids = [s["id"] for s in subscriptions_in_graph(stack, directory)]
    assert ids == [created.subscription_id]
    indexed = await services.repos.subscription_ids.find(str(created.subscription_id), "s")
    assert indexed is not None and indexed.value.tenant_id == victim.id
    mine = await services.repos.subscriptions.find(victim.id, room)
    assert mine is not None and mine.value.state is SubscriptionState.ACTIVE
    theirs = await services.repos.subscriptions.find(intruder.id, room)
    assert theirs is not None and theirs.value.state is SubscriptionState.FAILING
    # Leave the session's shared stack as found (renewal runs over every record).
    await ensure.remove(services, theirs.value)
    await ensure.remove(services, mine.value)


async def test_a_subscription_whose_answer_was_lost_is_still_recognised_as_ours(
    stack: Stack, services: Services
) -> None:
    """Graph made the subscription but its answer was lost (503 after applying; the SDK
    retries and gets 409): the clientState we remembered before asking identifies it
    as ours, so it is replaced (and only it)."""
    directory, room = directory_with_room(stack)
    t = await tenant(services, stack, directory, room)
    stack.emulator.control("POST", "faults/next", {
        "method": "POST", "route": "/subscriptions", "count": 1, "answer": 503,
    })  # fmt: skip
    record = await ensure.create(services, t, "room", room)
    live = subscriptions_in_graph(stack, directory)
    assert [s["id"] for s in live] == [record.subscription_id]
    assert record.pending_state_hashes == []
    await ensure.remove(services, record)


async def test_a_403_while_subscribing_marks_needs_consent_and_is_not_retried(
    stack: Stack, services: Services
) -> None:
    """A room of a directory that didn't consent (Graph: 403): the subscription record
    says needs-consent and ensure returns, so the queue message completes instead of
    being retried into the poison queue."""
    directory, _ = directory_with_room(stack)
    _, elsewhere = directory_with_room(stack)
    t = await tenant(services, stack, directory, elsewhere)
    space = (await services.repos.spaces.get(t.id, "room")).value
    await ensure.ensure_space(services, t, space)  # no exception: nothing to retry
    record = await services.repos.subscriptions.find(t.id, elsewhere)
    assert record is not None and record.value.state is SubscriptionState.NEEDS_CONSENT
    assert record.value.consecutive_failures == 1
    await ensure.remove(services, record.value)


# -- the webhook's costs and caches -----------------------------------------------------
class CountingIds:
    """subscription_ids with its point reads counted."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.finds = inner, 0

    async def find(self, pk: str, rk: str) -> Any:
        self.finds += 1
        return await self.inner.find(pk, rk)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.fixture
def counted(services: Services, monkeypatch: pytest.MonkeyPatch) -> CountingIds:
    counting = CountingIds(services.repos.subscription_ids)
    monkeypatch.setattr(services.repos, "subscription_ids", counting)
    return counting


def bogus(n: int) -> list[dict[str, Any]]:
    return [{"subscriptionId": str(uuid.uuid4()), "clientState": "x", "tenantId": "y",
             "changeType": "updated"} for _ in range(n)]  # fmt: skip


async def test_a_forged_batch_costs_a_bounded_number_of_reads_and_one_log_line(
    services: Services, counted: CountingIds, caplog: pytest.LogCaptureFixture
) -> None:
    items = bogus(1000)
    with caplog.at_level(logging.WARNING, logger="bookker_sync.security"):
        result = await ingress.accept(services, items)
    assert result.rejected == 1000 and result.accepted == 0
    assert counted.finds <= ingress.PROBE_LOOKUPS  # was one read per item
    lines = [r for r in caplog.records if r.name == "bookker_sync.security"]
    assert len(lines) == 1 and "1000 of 1000" in lines[0].getMessage()
    # The same ids again: cached as unknown, no reads at all.
    counted.finds = 0
    await ingress.accept(services, items[: ingress.PROBE_LOOKUPS])
    assert counted.finds == 0


@pytest.mark.parametrize("sub_id", ["x" * 200, "../../tenants", "abc", 12, None, "\ud800"])
async def test_ids_that_are_not_guids_never_reach_storage(
    services: Services, counted: CountingIds, sub_id: object
) -> None:
    result = await ingress.accept(services, [{"subscriptionId": sub_id, "clientState": "x"}] * 50)
    assert result.rejected == 50 and counted.finds == 0


async def test_a_replaced_subscription_stops_being_accepted_within_seconds(
    services: Services, stack: Stack
) -> None:
    """Another instance replaced the subscription (deleted its index entry, bumped the
    generation): this instance drops its cached entry on its next generation check,
    not after the 300 s cache lifetime."""
    sub_id, secret = str(uuid.uuid4()), "state-" + uuid.uuid4().hex
    key = services.settings.security.key
    await services.repos.subscription_ids.upsert(sub_id, "s", SubscriptionIndex(
        tenant_id="t-x", mailbox="room@contoso.test", graph_tenant_id="g",
        client_state_hash=keyed_digest(key, CLIENT_STATE, secret),
    ))  # fmt: skip
    item = {"subscriptionId": sub_id, "clientState": secret, "tenantId": "g", "changeType": "x"}
    assert (await ingress.accept(services, [item])).accepted == 1
    # Elsewhere: the subscription is replaced (no call into this process' cache).
    await services.repos.subscription_ids.delete(sub_id, "s")
    await services.repos.generation.upsert(*GENERATION_KEY, SubscriptionGeneration(value="new"))
    await asyncio.sleep(subscription_cache.GENERATION_POLL_SECONDS + 0.2)
    assert (await ingress.accept(services, [item])).accepted == 0


async def test_the_stored_digest_is_no_clientstate(services: Services) -> None:
    """A table dump holds digests: sending one as the clientState is rejected."""
    sub_id, secret = str(uuid.uuid4()), "state-" + uuid.uuid4().hex
    digest = keyed_digest(services.settings.security.key, CLIENT_STATE, secret)
    await services.repos.subscription_ids.upsert(sub_id, "s", SubscriptionIndex(
        tenant_id="t-x", mailbox="room@contoso.test", graph_tenant_id="g",
        client_state_hash=digest,
    ))  # fmt: skip
    item = {"subscriptionId": sub_id, "clientState": digest, "tenantId": "g", "changeType": "x"}
    assert (await ingress.accept(services, [item])).reasons == {"clientState mismatch": 1}
