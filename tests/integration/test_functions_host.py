"""The local Functions host runs a FunctionApp the way `func start` does."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path

import httpx
import pytest
from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient, TextBase64EncodePolicy

from bookker_sync.settings import StorageSettings
from bookker_sync.storage.clients import build_clients
from bookker_sync.storage.queues import QueueSender
from emulators.processes import REPO, start_functions_host

HOST_APP = REPO / "tests" / "host_app"


@pytest.fixture(scope="module")
def sample_host(azurite, tmp_path_factory):
    env = {
        "AzureWebJobsStorage": azurite.connection_string,
        "INBOX_QUEUE": "inbox-queue",
        "TICK_SCHEDULE": "*/2 * * * * *",
        "FUNCTIONS_HOST_FUNCTION_KEY": "fkey",
        "FUNCTIONS_HOST_MASTER_KEY": "mkey",
        "FUNCTIONS_HOST_QUEUE_LEASE_SECONDS": "1",
    }
    log = Path(tmp_path_factory.mktemp("host")) / "host.log"
    host = start_functions_host(log, env, app_dir=HOST_APP)
    yield host
    host.child.stop()
    assert not host.child.alive()


def records(azurite, function: str) -> list[dict]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table_if_not_exists("hostrecords")
    rows = table.query_entities("PartitionKey eq @p", parameters={"p": function})
    return [json.loads(r["data"]) for r in rows]


def wait_for(predicate, timeout=20.0, interval=0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def test_route_params_status_headers_and_body_round_trip(sample_host):
    r = httpx.post(
        f"{sample_host.base_url}/api/echo/alice/42?status=418&mimetype=text/x-test",
        content=b"hello",
    )
    assert r.status_code == 418
    assert r.headers["x-echo"] == "yes"
    assert r.headers["content-type"].startswith("text/x-test")
    body = json.loads(r.text)
    assert body["route"] == {"name": "alice", "count": "42"}
    assert body["method"] == "POST" and body["body"] == "hello"
    # optional constrained parameter: absent is fine, a non-int doesn't match the route
    assert httpx.get(f"{sample_host.base_url}/api/echo/bob").json()["route"] == {"name": "bob"}
    assert httpx.get(f"{sample_host.base_url}/api/echo/bob/x").status_code == 404


def test_methods_and_unknown_routes(sample_host):
    assert httpx.delete(f"{sample_host.base_url}/api/echo/a").status_code == 405
    r = httpx.get(f"{sample_host.base_url}/api/nope")
    assert r.status_code == 404 and r.json()["error"]["code"] == "NotFound"


def test_function_keys_enforced_when_configured(sample_host):
    url = f"{sample_host.base_url}/api/secure"
    assert httpx.get(url).status_code == 401
    assert httpx.get(url, params={"code": "wrong"}).status_code == 401
    assert httpx.get(url, params={"code": "fkey"}).text == "secret stuff"
    assert httpx.get(url, headers={"x-functions-key": "mkey"}).status_code == 200


def test_exception_becomes_500(sample_host):
    assert httpx.get(f"{sample_host.base_url}/api/boom").status_code == 500


def test_failing_queue_function_goes_to_poison_after_max_dequeue_count(sample_host, azurite):
    q = QueueClient.from_connection_string(
        azurite.connection_string, "always-fails", message_encode_policy=TextBase64EncodePolicy()
    )
    try:
        q.create_queue()
    except Exception:
        pass
    q.send_message('{"n": 1}')
    poison = QueueClient.from_connection_string(azurite.connection_string, "always-fails-poison")

    def poisoned():
        try:
            return list(poison.peek_messages(max_messages=5))
        except Exception:
            return []

    msgs = wait_for(poisoned, timeout=30)
    assert json.loads(base64.b64decode(msgs[0].content)) == {"n": 1}
    time.sleep(1.0)  # nothing runs after poisoning
    attempts = records(azurite, "always_fails")
    assert sorted(a["dequeue_count"] for a in attempts) == [1, 2, 3]  # maxDequeueCount=3
    assert q.get_queue_properties().approximate_message_count == 0


async def test_message_from_our_sender_is_received_decoded(sample_host, azurite):
    clients = build_clients(StorageSettings(connection_string=azurite.connection_string))
    try:
        await QueueSender(clients.queues).send("inbox-queue", {"tenantId": "t1", "mailbox": "ü@x"})
    finally:
        await clients.close()
    got = wait_for(lambda: records(azurite, "inbox"))
    assert got[0]["body"] == {"tenantId": "t1", "mailbox": "ü@x"}
    assert got[0]["dequeue_count"] == 1 and got[0]["invocation"]


def test_timer_runs_on_schedule_and_via_admin(sample_host, azurite):
    wait_for(lambda: records(azurite, "ticker"), timeout=10)  # */2 seconds schedule
    before = len(records(azurite, "ticker"))
    url = f"{sample_host.base_url}/admin/functions/ticker"
    assert httpx.post(url, json={"input": '{"force": true}'}).status_code == 401  # master key
    r = httpx.post(
        url,
        params={"wait": "true"},
        json={"input": '{"force": true}'},
        headers={"x-functions-key": "mkey"},
    )
    assert r.status_code == 200 and r.json()["status"] == "Succeeded"
    rows = records(azurite, "ticker")
    assert len(rows) > before
    # Like the real host: a timer run from the admin endpoint gets no input.
    assert [row["input"] for row in rows] == [{}] * len(rows)
    r = httpx.post(url, json={}, headers={"x-functions-key": "mkey"})
    assert r.status_code == 202  # like the real host: accepted, runs in the background


def test_admin_runs_queue_function_and_rejects_unknown(sample_host, azurite):
    h = {"x-functions-key": "mkey"}
    r = httpx.post(
        f"{sample_host.base_url}/admin/functions/inbox?wait=1",
        json={"input": '{"admin": 1}'},
        headers=h,
    )
    assert r.json()["status"] == "Succeeded"
    assert any(row["body"] == {"admin": 1} for row in records(azurite, "inbox"))
    assert (
        httpx.post(f"{sample_host.base_url}/admin/functions/missing", headers=h).status_code == 404
    )


def test_graceful_stop_on_sigterm(azurite, tmp_path):
    host = start_functions_host(
        tmp_path / "h.log",
        {
            "AzureWebJobsStorage": azurite.connection_string,
            "INBOX_QUEUE": "x-queue",
            "TICK_SCHEDULE": "0 0 0 1 1 *",
        },
        app_dir=HOST_APP,
    )
    host.child.stop(timeout=15)
    assert host.child.proc.returncode == 0
    assert "Host stopped" in host.child.log_path.read_text()


def test_message_stays_hidden_while_a_long_function_runs(sample_host, azurite):
    q = QueueClient.from_connection_string(
        azurite.connection_string, "slow-queue", message_encode_policy=TextBase64EncodePolicy()
    )
    try:
        q.create_queue()
    except Exception:
        pass
    q.send_message("{}")
    wait_for(lambda: records(azurite, "slow"))
    time.sleep(4.5)  # the run outlives its 1 s lease several times over
    assert [r["dequeue_count"] for r in records(azurite, "slow")] == [1]
    assert q.get_queue_properties().approximate_message_count == 0
