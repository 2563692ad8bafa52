"""cold_start: what a cold instance costs the Graph webhook, measured in a fresh Python
process each run (N runs against one Azurite; median and max):

- import: ``import function_app`` (what the Python worker does when an instance starts
  and indexes the functions), with ``azure.functions`` already loaded as in the worker;
- validation: from the start of that import to the answer of the first Graph
  validation request (``?validationToken=``; Graph allows 10 s);
- notification: then the first change notification, authenticated and persisted to the
  queue, answered 202 (Graph wants 2xx within 3 s; > 10 % slow answers delay delivery).

It also reports which heavy packages the webhook path pulled in (it should pull in no
Graph SDK, no azure-identity, no API models: they load when a function needs them).
Use ``python -X importtime -c "import function_app"`` to see where import time goes.

Prints one summary line. Run: `python -m bench.cold_start` (`RUNS=N` to change N).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

RUNS = int(os.environ.get("RUNS", "10"))
REPO = Path(__file__).resolve().parent.parent
TARGET_VALIDATION_MS = 1000.0  # median, import included: well inside Graph's 10 s
TARGET_NOTIFICATION_MS = 1500.0  # median, import included: inside Graph's 3 s
# Imported lazily by the functions that need them, never by the webhook path.
HEAVY = ("msgraph", "kiota_abstractions", "azure.identity", "bookker_sync.functions.api_models",
         "bookker_sync.graph.gateway", "azure.monitor.opentelemetry")  # fmt: skip

GRAPH_TENANT = "11111111-2222-3333-4444-555555555555"


def _child() -> None:
    """One cold start, in this (fresh) process: print the timings as one JSON line."""
    import azure.functions as func  # loaded by the Python worker before the app

    started = time.perf_counter()
    import function_app

    imported = time.perf_counter()
    by_name = {
        f.get_function_name(): f.get_user_function() for f in function_app.app.get_functions()
    }
    webhook = by_name["graph_notifications"]
    from emulators.functions_host.invoker import Context

    def request(params: dict[str, str], body: bytes) -> func.HttpRequest:
        return func.HttpRequest(method="POST", url="http://localhost/api/graph/notifications",
                                params=params, body=body, headers={})  # fmt: skip

    async def run() -> dict[str, Any]:
        token = "Validation: Testing client application reachability for subscription Request-Id: 1"
        answer = await webhook(req=request({"validationToken": token}, b""), context=Context("v"))
        validated = time.perf_counter()
        assert answer.status_code == 200 and answer.get_body().decode() == token, answer
        loaded_then = [m for m in HEAVY if m in sys.modules]
        item = {"subscriptionId": os.environ["BENCH_SUBSCRIPTION_ID"],
                "clientState": os.environ["BENCH_CLIENT_STATE"], "tenantId": GRAPH_TENANT,
                "changeType": "updated", "resource": "Users/room@bench.test/Events/e1"}  # fmt: skip
        body = json.dumps({"value": [item]}).encode()
        answer = await webhook(req=request({}, body), context=Context("n"))
        notified = time.perf_counter()
        assert answer.status_code == 202, answer.get_body()
        assert json.loads(answer.get_body())["accepted"] == 1, answer.get_body()
        return {
            "import_ms": (imported - started) * 1000,
            "validation_ms": (validated - started) * 1000,
            "notification_ms": (notified - started) * 1000,
            "first_notification_ms": (notified - validated) * 1000,
            "heavy_after_validation": loaded_then,
            "heavy_after_notification": [m for m in HEAVY if m in sys.modules],
        }

    print(json.dumps(asyncio.run(run())), flush=True)


async def _register(connection: str) -> tuple[str, str]:
    from bookker_sync.settings import StorageSettings
    from bookker_sync.storage.clients import build_clients
    from bookker_sync.storage.repositories import Repositories, SubscriptionIndex

    clients = build_clients(StorageSettings(connection_string=connection))
    sub_id, secret = str(uuid.uuid4()), uuid.uuid4().hex
    try:
        await Repositories(clients.tables).subscription_ids.upsert(sub_id, "s", SubscriptionIndex(
            tenant_id="bench", mailbox="room@bench.test", graph_tenant_id=GRAPH_TENANT,
            client_state_hash=_digest(secret),
        ))  # fmt: skip
    finally:
        await clients.close()
    return sub_id, secret


def _env(connection: str, sub_id: str, secret: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    env.update({
        "PYTHONPATH": str(REPO), "AzureWebJobsStorage": connection,
        "GRAPH_CLIENT_ID": "bench", "GRAPH_CLIENT_SECRET": "bench-secret",
        "WEBHOOK_BASE_URL": "http://localhost:7071/api",
        "BENCH_SUBSCRIPTION_ID": sub_id, "BENCH_CLIENT_STATE": secret,
    })  # fmt: skip
    return env


def measure(runs: int = RUNS) -> list[dict[str, Any]]:
    from emulators.processes import start_azurite

    with tempfile.TemporaryDirectory() as tmp:
        azurite = start_azurite(Path(tmp))
        try:
            sub_id, secret = asyncio.run(_register(azurite.connection_string))
            env = _env(azurite.connection_string, sub_id, secret)
            results = []
            for _ in range(runs):
                t0 = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-m", "bench.cold_start", "--child"], cwd=REPO, env=env,
                    capture_output=True, text=True, timeout=120,
                )  # fmt: skip
                if proc.returncode != 0:
                    raise RuntimeError(f"cold start run failed:\n{proc.stderr[-3000:]}")
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                result["process_ms"] = (time.perf_counter() - t0) * 1000
                results.append(result)
        finally:
            azurite.child.stop()
    return results


def summary(results: list[dict[str, Any]]) -> tuple[str, bool]:
    def stat(key: str) -> str:
        values = [r[key] for r in results]
        return f"median {statistics.median(values):.0f} ms / max {max(values):.0f} ms"

    heavy = sorted({m for r in results for m in r["heavy_after_notification"]})
    median_validation = statistics.median(r["validation_ms"] for r in results)
    median_notification = statistics.median(r["notification_ms"] for r in results)
    ok = (
        not heavy
        and median_validation <= TARGET_VALIDATION_MS
        and median_notification <= TARGET_NOTIFICATION_MS
    )
    line = (
        f"cold_start: {len(results)} fresh processes; import function_app {stat('import_ms')}; "
        f"import + first validation answer {stat('validation_ms')}; "
        f"+ first notification 202 {stat('notification_ms')} "
        f"(the notification alone {stat('first_notification_ms')}); "
        f"whole process {stat('process_ms')}; "
        f"heavy modules on the webhook path: {', '.join(heavy) or 'none'}"
    )
    return line, ok


def main() -> int:
    line, ok = summary(measure())
    print(line)
    return 0 if ok else 1


def _digest(client_state: str) -> str:
    """What the app stores for a clientState: its keyed digest (the local stack's key)."""
    from bookker_sync.domain.signing import CLIENT_STATE, keyed_digest
    from bookker_sync.settings import SecuritySettings

    return keyed_digest(SecuritySettings().key, CLIENT_STATE, client_state)


if __name__ == "__main__":
    if "--child" in sys.argv:
        _child()
    else:
        sys.exit(main())
