"""A cold instance must answer Graph fast: importing function_app and answering the
webhook (validation handshake, then a notification) must not load the Graph SDK,
azure-identity, the OpenTelemetry exporters or the API's request models. Each check
runs in a fresh interpreter, as a new instance would (bench/cold_start.py times it)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = (
    "msgraph",
    "kiota_abstractions",
    "kiota_http",
    "azure.identity",
    "azure.monitor.opentelemetry",
    "opentelemetry.sdk",
    "bookker_sync.graph.gateway",
    "bookker_sync.functions.api_models",
    "bookker_sync.domain.recurrence",
)
STORAGE_SDKS = ("azure.storage.queue", "azure.data.tables", "aiohttp")

SCRIPT = """
import asyncio, json, sys
import azure.functions as func
import function_app
from emulators.functions_host.invoker import Context

loaded = {}
loaded["import"] = sorted(sys.modules)
webhook = {f.get_function_name(): f.get_user_function()
           for f in function_app.app.get_functions()}["graph_notifications"]

def request(params, body):
    return func.HttpRequest(method="POST", url="http://localhost/api/graph/notifications",
                            params=params, body=body, headers={})

async def main():
    answer = await webhook(req=request({"validationToken": "t 1"}, b""), context=Context("v"))
    assert answer.status_code == 200 and answer.get_body() == b"t 1"
    loaded["validation"] = sorted(sys.modules)
    # A malformed item is rejected without a storage call, through the whole ingress path.
    body = json.dumps({"value": [{"subscriptionId": "not a guid!"}]}).encode()
    answer = await webhook(req=request({}, body), context=Context("n"))
    assert answer.status_code == 202, answer.get_body()
    loaded["notification"] = sorted(sys.modules)

asyncio.run(main())
print(json.dumps(loaded))
"""


def _loaded_after_each_step() -> dict[str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "APPLICATIONINSIGHTS_CONNECTION_STRING"}
    env.update({
        "PYTHONPATH": str(REPO), "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "GRAPH_CLIENT_ID": "cold", "GRAPH_CLIENT_SECRET": "cold-secret",
        "WEBHOOK_BASE_URL": "http://localhost:7071/api",
    })  # fmt: skip
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, list[str]] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _matching(modules: list[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted({p for p in prefixes for m in modules if m == p or m.startswith(p + ".")})


def test_webhook_path_loads_no_graph_sdk_identity_or_api_models() -> None:
    loaded = _loaded_after_each_step()
    for step in ("import", "validation", "notification"):
        assert _matching(loaded[step], HEAVY) == [], step
    # The handshake doesn't even wait for the storage SDKs; a notification needs them.
    assert _matching(loaded["validation"], STORAGE_SDKS) == []
    assert "bookker_sync.sync.inbound.ingress" in loaded["notification"]
