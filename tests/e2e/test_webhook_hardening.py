"""The anonymous webhooks under attack, through the real local host: oversized bodies
refused before they are read, forged batches cheap to refuse, an old subscription's
id and clientState refused once it was replaced."""

from __future__ import annotations

import socket
import time
import uuid

from tests.e2e.test_tenancy import active_subscription, settle
from tests.support.functions_host import Stack, wait_for
from tests.support.outlook import Outlook


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        line = next(x for x in status if x.startswith("VmRSS:"))
    return int(line.split()[1])


def declare_body(stack: Stack, path: str, size: int) -> bytes:
    """Send only the headers of a ``size``-byte POST; return what the host answers."""
    with socket.create_connection(("127.0.0.1", stack.host.port), timeout=5) as conn:
        conn.sendall(
            f"POST {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n".encode()
            + b'{"value": ['
        )
        return conn.recv(4096)


def test_a_huge_body_is_refused_before_it_is_read(stack: Stack) -> None:
    """95 MB declared: the host answers 413 at once, without waiting for (or buffering)
    the body; four such requests leave the host's memory where it was."""
    before = rss_kib(stack.host.child.proc.pid)
    for _ in range(4):
        answer = declare_body(stack, "/api/graph/notifications", 95 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert rss_kib(stack.host.child.proc.pid) - before < 50 * 1024


def test_a_long_validation_token_is_refused(stack: Stack) -> None:
    ok = stack.http.post("/api/graph/notifications", params={"validationToken": "v" * 1024})
    assert ok.status_code == 200 and ok.text == "v" * 1024
    r = stack.http.post("/api/graph/notifications", params={"validationToken": "v" * 1025})
    assert r.status_code == 400


def test_a_forged_batch_is_one_log_line(stack: Stack) -> None:
    marker = str(uuid.uuid4())
    items = [{"subscriptionId": marker}] + [
        {"subscriptionId": str(uuid.uuid4()), "clientState": "x", "tenantId": "y"}
        for _ in range(999)
    ]
    r = stack.http.post("/api/graph/notifications", json={"value": items})
    assert r.status_code == 202 and r.json() == {"accepted": 0, "rejected": 1000}
    log = stack.host.child.log_path
    wait_for(lambda: marker in log.read_text(errors="replace"))
    lines = [x for x in log.read_text(errors="replace").splitlines() if "rejected" in x]
    assert sum(marker in x for x in lines) == 1
    assert sum("1000 of 1000" in x for x in lines) >= 1
    assert not any("clientState=x" in x or "'x'" in x for x in lines if marker in x)


def test_an_old_subscription_stops_triggering_syncs_once_replaced(stack: Stack) -> None:
    """Graph removed the subscription and we recreated it: the old id with its
    clientState no longer gets a poke through (it did for 300 s: the ingress cache)."""
    t = stack.new_tenant()
    t.add_user("alice")
    t.add_space("room")
    old = active_subscription(stack, t)
    state = Outlook(stack, t).call("GET", f"subscriptions/{old.subscription_id}")["clientState"]
    item = {"subscriptionId": old.subscription_id, "clientState": state,
            "tenantId": t.graph_tenant_id, "changeType": "updated"}  # fmt: skip
    r = stack.http.post("/api/graph/notifications", json={"value": [item]})
    assert r.json()["accepted"] == 1  # cached now
    stack.emulator.lifecycle(str(old.subscription_id), "subscriptionRemoved")
    settle(stack, lambda: active_subscription(stack, t).subscription_id != old.subscription_id)
    started = time.monotonic()

    def refused() -> bool:
        answer = stack.http.post("/api/graph/notifications", json={"value": [item]})
        return answer.json()["accepted"] == 0

    wait_for(refused, timeout=10, interval=0.2)
    assert time.monotonic() - started < 5
