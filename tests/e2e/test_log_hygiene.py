"""Logs are structured and never carry a secret or a clientState.

A run that creates subscriptions (real clientStates, stored in the subscriptions
table), receives Graph notifications and lifecycle notifications carrying them (one
with a foreign tenantId, rejected), syncs, and is operated through the CLI with
verbose logging. Then every real clientState is read back from storage and looked
for, with the Graph client secret and the storage account key, in the Functions
host's whole log and in everything the CLI printed.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from emulators.processes import AZURITE_KEY
from tests.support.cli import cli_env, run_cli
from tests.support.functions_host import APP_SECRET, Stack, wait_for
from tests.support.outlook import Outlook

FIELDS = re.compile(
    r"level=\w+ logger=\S+ function=(?P<function>\S+) invocation=(?P<invocation>\S+) "
    r"tenant=(?P<tenant>\S+) mailbox=(?P<mailbox>\S+) msg="
)


def read(stack: Stack, work: Any) -> Any:
    return stack.read_storage(work)


def test_no_log_line_carries_a_client_state_or_secret(stack: Stack, tmp_path: Path):
    t = stack.new_tenant()
    alice = t.add_user("alice")
    rooms = [t.add_space("room1"), t.add_space("room2")]

    def records() -> list[Any]:
        found = read(stack, lambda r: r.subscriptions.list(t.id))
        return found if len(found) == 2 and all(r.client_state_hash for r in found) else []

    subs = wait_for(records)
    outlook = Outlook(stack, t)
    # Only Graph knows the clientStates (GET one subscription returns it); we keep digests.
    states = {
        r.subscription_id: outlook.call("GET", f"subscriptions/{r.subscription_id}")["clientState"]
        for r in subs
    }
    # Graph notifications (each carries the clientState) and the syncs they start.
    start = (datetime.now(UTC) + timedelta(days=3)).replace(minute=0, second=0, microsecond=0)
    for n, room in enumerate(rooms):
        assert room is not None
        outlook.book_room(alice, room, start + timedelta(hours=n), start + timedelta(hours=n + 1))
    stack.emulator.control("POST", "notifications/flush")
    # Lifecycle notifications as Graph sends them, one from a foreign tenant (rejected).
    sub = subs[0]
    for tenant_id, event in ((t.graph_tenant_id, "missed"), ("someone-else", "missed"),
                             (t.graph_tenant_id, "somethingNew")):  # fmt: skip
        r = stack.http.post("/api/graph/lifecycle", json={"value": [{
            "subscriptionId": sub.subscription_id, "clientState": states[sub.subscription_id],
            "tenantId": tenant_id, "lifecycleEvent": event,
            "subscriptionExpirationDateTime": "2030-01-01T00:00:00Z",
        }]})  # fmt: skip
        assert r.status_code == 202, r.text

    def notified() -> bool:
        states = read(stack, lambda r: r.mailboxes.list(t.id))
        return sum(s.last_notification_at is not None for s in states) == 2

    wait_for(notified)
    # The operator's view, with verbose logs.
    env, cwd = cli_env(stack), tmp_path
    commands = [
        ("tenants",), ("status", t.id), ("status", t.id, "--json"), ("resync", t.id),
        ("poison", "list", "lifecycle", "--json"), ("subscriptions", "renew"),
    ]  # fmt: skip
    with ThreadPoolExecutor(3) as pool:
        outputs = list(pool.map(lambda args: run_cli("-v", *args, env=env, cwd=cwd), commands))
    assert all(o.code == 0 for o in outputs), [o for o in outputs if o.code]
    assert any("level=info" in o.err for o in outputs)  # -v really logged something

    log_path = stack.host.child.log_path
    wait_for(lambda: "unknown lifecycleEvent 'somethingNew'" in log_path.read_text())
    host_log = log_path.read_text(errors="replace")
    printed = "\n".join(o.out + o.err for o in outputs)

    # Nor does anything the app answers: status page, health report, CLI status.
    answers = [stack.api("GET", "status", params={"tenant": t.id}).text,
               stack.api("GET", "health").text]  # fmt: skip
    digests = {r.client_state_hash for r in subs}
    for text in [*answers, printed]:
        assert not any(d in text for d in digests), "a clientState digest is shown"
    secrets = {*states.values(), APP_SECRET, AZURITE_KEY}
    assert all(len(state) >= 16 for state in states.values())
    assert all(r.subscription_id in host_log for r in subs)  # the right log, with these events
    for secret in secrets:
        assert secret not in host_log, "a secret or clientState is in the host log"
        assert secret not in printed, "a secret or clientState is in the CLI output"
        assert not any(secret in text for text in answers), "a secret is in an answer"

    # Structured: every app line names function, invocation, tenant and mailbox.
    app_lines = [line for line in host_log.splitlines() if " logger=bookker_sync" in line]
    assert app_lines and all(FIELDS.search(line) for line in app_lines)
    tagged = [FIELDS.search(line) for line in app_lines if f"tenant={t.id} " in line]
    assert any(
        m and m["function"] == "sync_mailbox" and m["mailbox"] in rooms
        and re.fullmatch(r"[0-9a-f-]{36}", m["invocation"])
        for m in tagged
    )  # fmt: skip
    assert any(m and m["function"] == "process_lifecycle" for m in tagged)
