"""host.json holds what the code and the deployment rely on.

- Queue messages are base64: QueueSender (bookker_sync/storage/queues.py) encodes them with
  TextBase64EncodePolicy, so the queue trigger must decode base64.
- Failed messages are retried, then moved to "<queue>-poison": that needs a
  maxDequeueCount of at least 1.
- HTTP routes live under /api: WEBHOOK_BASE_URL (infra/main.bicep) and the routes Graph
  and Bookker call include that prefix.
- functionTimeout fits the Flex Consumption plan (infra/).
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest

from tests.infra.bicep_model import REPO

HOST_JSON = REPO / "host.json"

# Flex Consumption: default timeout 30 min, no enforced maximum, but on scale-in a running
# execution gets at most 60 minutes of grace, so a longer or unbounded (-1) timeout would
# only be cut by the platform instead. Work here is short (one mailbox's delta round).
# https://learn.microsoft.com/azure/azure-functions/functions-scale#timeout
FLEX_MAX_TIMEOUT = timedelta(minutes=60)
# The queue trigger fetches at most 32 messages per batch.
MAX_QUEUE_BATCH = 32

TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2})$")


def host() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(HOST_JSON.read_text())
    return data


def timespan(value: str) -> timedelta:
    match = TIMESPAN.match(value)
    assert match, f"not a [d.]hh:mm:ss timespan: {value!r}"
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    assert minutes < 60 and seconds < 60, value
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def queues() -> dict[str, Any]:
    section: dict[str, Any] = host()["extensions"]["queues"]
    return section


def test_schema_version() -> None:
    assert host()["version"] == "2.0"


def test_queue_messages_are_base64() -> None:
    assert queues()["messageEncoding"] == "base64"


def test_failed_messages_are_retried_then_poisoned() -> None:
    count = queues()["maxDequeueCount"]
    assert isinstance(count, int) and not isinstance(count, bool)
    assert count >= 1


def test_queue_batching_within_host_limits() -> None:
    section = queues()
    batch = section.get("batchSize", 16)
    assert 1 <= batch <= MAX_QUEUE_BATCH
    assert 0 <= section.get("newBatchThreshold", batch // 2) < batch * 2
    for key in ("visibilityTimeout", "maxPollingInterval"):
        if key in section:
            timespan(section[key])


def test_http_route_prefix_is_api() -> None:
    assert host()["extensions"]["http"]["routePrefix"] == "api"


def test_function_timeout_fits_flex_consumption() -> None:
    value = host().get("functionTimeout")
    assert value is not None, "set functionTimeout explicitly"
    assert value != "-1", "unbounded: Flex would cut it at scale-in anyway"
    timeout = timespan(value)
    assert timedelta(seconds=1) <= timeout <= FLEX_MAX_TIMEOUT


def test_extension_bundle_supports_identity_based_storage() -> None:
    """Identity-based AzureWebJobsStorage for queue triggers needs Storage extension 5.x,
    which extension bundles ship from version 3 on."""
    bundle = host()["extensionBundle"]
    assert bundle["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    match = re.match(r"^\[(\d+)\.", bundle["version"])
    assert match, f"version range {bundle['version']!r}"
    assert int(match.group(1)) >= 3


@pytest.mark.parametrize("value", ["00:10:00", "0.00:10:00", "01:00:00"])
def test_timespan_parsing(value: str) -> None:
    assert timespan(value) <= FLEX_MAX_TIMEOUT
