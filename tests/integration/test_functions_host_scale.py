"""Several instances of one app on one Azurite, as a scaled-out Flex Consumption app:
a timer fires on one instance at a time (listener lock), queue messages are processed
once each, and one URL reaches every instance."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from datetime import datetime

import httpx
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from emulators.processes import REPO

HOST_APP = REPO / "tests" / "host_app"
LOCK_PERIOD = 3.0  # tests/host_app/host.json singleton.listenerLockPeriod
RECOVERY_POLL = 1.0  # ... listenerLockRecoveryPollingInterval


@pytest.fixture
def prefix() -> str:
    return "scale" + uuid.uuid4().hex[:8]


def cluster_env(azurite, prefix: str, tick: str = "* * * * * *") -> dict[str, str]:
    return {
        "AzureWebJobsStorage": azurite.connection_string,
        "AzureFunctionsWebHost__hostid": prefix,  # apart from other tests' hosts
        "RECORD_PREFIX": prefix + ".",
        "INBOX_QUEUE": f"{prefix}-inbox",
        "TICK_SCHEDULE": tick,
        "FUNCTIONS_HOST_QUEUE_LEASE_SECONDS": "5",
        # The app's fixed-name queues belong to test_functions_host.py.
        "AzureWebJobs.always_fails.Disabled": "true",
        "AzureWebJobs.slow.Disabled": "true",
    }


def records(azurite, partition: str) -> list[dict]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table_if_not_exists("hostrecords")
    rows = table.query_entities("PartitionKey eq @p", parameters={"p": partition})
    return [json.loads(r["data"]) for r in rows]


def host_entity(azurite, host_id: str, row: str) -> dict:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return dict(service.get_table_client("AzureWebJobsHosts").get_entity(host_id, row))


def wait_for(predicate, timeout=20.0, interval=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_timer_fires_once_per_occurrence_on_one_instance(start_hosts, azurite, prefix):
    start_hosts(3, cluster_env(azurite, prefix), app_dir=HOST_APP)
    wait_for(lambda: len(records(azurite, f"{prefix}.ticker")) >= 6)
    time.sleep(1.5)
    ticks = records(azurite, f"{prefix}.ticker")
    occurrences = Counter(t["occurrence"] for t in ticks)
    assert max(occurrences.values()) == 1, occurrences  # never twice, never on two instances
    assert len({t["instance"] for t in ticks}) == 1  # the lock holder, alone
    assert len(ticks) >= 7  # an every-second schedule kept running
    # the schedule status is in storage, where another instance (or a restart) finds it
    status = host_entity(azurite, prefix, "timers|Host.Functions.ticker|status")
    assert status["Last"] >= max(datetime.fromisoformat(o) for o in occurrences)
    lock = host_entity(azurite, prefix, "locks|Host.Functions.ticker.Listener")
    assert lock["Owner"] == ticks[0]["instance"]


def test_killed_lock_holder_is_replaced_within_the_lease_time(start_hosts, azurite, prefix):
    cluster = start_hosts(3, cluster_env(azurite, prefix), app_dir=HOST_APP)
    partition = f"{prefix}.ticker"
    holder = wait_for(lambda: records(azurite, partition))[0]["instance"]
    victim = next(h for h in cluster.hosts if h.instance_id == holder)
    before = len(records(azurite, partition))
    victim.child.kill()  # SIGKILL: no release, the lock has to expire
    killed_at = time.monotonic()

    def by_another():
        rows = records(azurite, partition)
        return [r for r in rows if r["instance"] != holder]

    taken = wait_for(by_another, timeout=LOCK_PERIOD + RECOVERY_POLL + 5)
    took = time.monotonic() - killed_at
    assert took <= LOCK_PERIOD + RECOVERY_POLL + 2.5, took
    new_holder = taken[0]["instance"]
    lock = host_entity(azurite, prefix, "locks|Host.Functions.ticker.Listener")
    assert lock["Owner"] == new_holder
    # The occurrences nobody ran during the hand-over are made up once, past due
    # (the real host's past-due check on the stored schedule status) ...
    assert any(r["past_due"] for r in taken)
    time.sleep(2.5)
    rows = records(azurite, partition)
    assert len(rows) > before
    # ... and afterwards the new holder runs alone, each occurrence once. (Only a run
    # cut off between the function and its status write may repeat: at-least-once.)
    after = [r for r in rows if r["instance"] != holder]
    assert {r["instance"] for r in after} == {new_holder}
    counts = Counter(r["occurrence"] for r in rows if not r["past_due"])
    assert max(counts.values()) == 1, counts


def test_queue_messages_are_processed_once_across_instances(start_hosts, azurite, prefix):
    env = cluster_env(azurite, prefix, tick="0 0 0 1 1 *")
    start_hosts(3, env, app_dir=HOST_APP)
    queue = QueueClient.from_connection_string(
        azurite.connection_string,
        env["INBOX_QUEUE"],
        message_encode_policy=TextBase64EncodePolicy(),
    )
    try:
        queue.create_queue()
    except Exception:
        pass
    for n in range(60):
        queue.send_message(json.dumps({"n": n}))
    wait_for(lambda: len(records(azurite, f"{prefix}.inbox")) >= 60, timeout=40)
    time.sleep(1.0)  # nothing runs twice afterwards either
    got = records(azurite, f"{prefix}.inbox")
    assert sorted(r["body"]["n"] for r in got) == list(range(60))
    assert len({r["instance"] for r in got}) >= 2  # the instances shared the work
    assert queue.get_queue_properties().approximate_message_count == 0


def test_one_url_reaches_every_instance_round_robin(start_hosts, azurite, prefix):
    cluster = start_hosts(3, cluster_env(azurite, prefix, tick="0 0 0 1 1 *"), app_dir=HOST_APP)
    with httpx.Client(base_url=cluster.base_url, timeout=10) as client:
        seen = Counter(client.get("/api/whoami").text for _ in range(9))
        assert set(seen) == {h.instance_id for h in cluster.hosts}
        assert set(seen.values()) == {3}
        # requests pass through whole: method, route, query, body, status and headers
        r = client.post("/api/echo/alice/7?status=418&mimetype=text/x-test", content=b"hi")
        assert r.status_code == 418 and r.headers["x-echo"] == "yes"
        assert r.headers["content-type"].startswith("text/x-test")
        assert json.loads(r.text)["body"] == "hi"
        # a dead instance is skipped; the others keep answering
        cluster.hosts[0].child.kill()
        alive = {h.instance_id for h in cluster.hosts[1:]}
        assert {client.get("/api/whoami").text for _ in range(6)} == alive


def test_one_instance_is_the_host_itself(start_hosts, azurite, prefix):
    cluster = start_hosts(1, cluster_env(azurite, prefix, tick="0 0 0 1 1 *"), app_dir=HOST_APP)
    assert cluster.front is None and cluster.hosts[0].port == cluster.port
    assert httpx.get(f"{cluster.base_url}/api/echo/x").status_code == 200


async def test_table_lease_acquire_renew_expire_release(azurite, prefix):
    from datetime import timedelta

    from emulators.functions_host.singleton import TableLease, open_hosts_table

    table = await open_hosts_table(azurite.connection_string)
    try:
        period = timedelta(seconds=1)
        a = TableLease(table, prefix, "Host.Functions.f.Listener", "a", period)
        b = TableLease(table, prefix, "Host.Functions.f.Listener", "b", period)
        assert await a.try_hold() and a.held
        assert not await b.try_hold() and not b.held  # a live holder keeps it
        assert await a.try_hold()  # renewal
        await asyncio.sleep(1.2)
        assert not a.held  # a stale holder knows it by its own count ...
        assert await b.try_hold()  # ... and the expired lock goes to b
        assert not await a.try_hold()  # a can't renew what b now holds
        await b.release()
        assert await a.try_hold()  # released: taken at once, no waiting for expiry
    finally:
        await table.close()
