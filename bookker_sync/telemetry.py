"""Telemetry: structured logs always; OpenTelemetry metrics and traces exported to
Application Insights when ``APPLICATIONINSIGHTS_CONNECTION_STRING`` is set.

``configure()`` runs once, at import of ``function_app`` (and by the CLI). Without the
connection string nothing is exported: the instruments below are OpenTelemetry API
no-ops, so recording costs next to nothing and nothing breaks. Logs are not exported
by OpenTelemetry (the Functions host already ships the worker's log lines to
Application Insights; exporting them twice would duplicate every trace).

Traces: one span per function invocation (``functions/observability.py``) plus what the
distro instruments (HTTP calls to Graph, storage calls). The distro's default sampler is
rate limited; ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG`` change it.

Instruments (names as they appear in Application Insights ``customMetrics``):

| name | kind | attributes |
|---|---|---|
| ``bookker.notifications.received`` | counter | |
| ``bookker.notifications.rejected`` | counter | ``reason`` |
| ``bookker.sync.duration`` | histogram (s) | ``tenant`` |
| ``bookker.sync.lag`` | histogram (s) | ``tenant``, ``mailbox`` |
| ``bookker.graph.requests`` | counter | ``status`` |
| ``bookker.graph.throttled`` | counter | |
| ``bookker.queue.poison`` | counter | ``queue`` |
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

from opentelemetry import metrics, trace

from bookker_sync import log_context
from bookker_sync.domain.addresses import Mailbox

CONNECTION_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
SERVICE_NAME = "bookker-sync"

log = logging.getLogger(__name__)
_meter = metrics.get_meter("bookker_sync")
tracer = trace.get_tracer("bookker_sync")

NOTIFICATIONS_RECEIVED = _meter.create_counter(
    "bookker.notifications.received", unit="{notification}",
    description="Graph notification items received (before authentication)",
)  # fmt: skip
NOTIFICATIONS_REJECTED = _meter.create_counter(
    "bookker.notifications.rejected", unit="{notification}",
    description="Graph notifications rejected (unknown subscription, clientState, tenant)",
)  # fmt: skip
SYNC_DURATION = _meter.create_histogram(
    "bookker.sync.duration", unit="s", description="Duration of one mailbox sync run"
)
SYNC_LAG = _meter.create_histogram(
    "bookker.sync.lag", unit="s",
    description="From a room's notification to the end of the sync that processed it",
)  # fmt: skip
GRAPH_REQUESTS = _meter.create_counter(
    "bookker.graph.requests", unit="{request}", description="Graph requests sent, by status"
)
GRAPH_THROTTLED = _meter.create_counter(
    "bookker.graph.throttled", unit="{request}", description="Graph answers 429"
)
POISON_MESSAGES = _meter.create_counter(
    "bookker.queue.poison", unit="{message}", description="Messages moved to a poison queue"
)

_exporting = False


def configure(env: Mapping[str, str] | None = None) -> bool:
    """Structured logs, and export to Application Insights when its connection string
    is set. Idempotent; never raises. Returns whether telemetry is exported."""
    global _exporting
    source = os.environ if env is None else env
    log_context.install(source)
    connection = source.get(CONNECTION_SETTING, "").strip()
    if _exporting or not connection:
        return _exporting
    try:
        from azure.monitor.opentelemetry import configure_azure_monitor
        from opentelemetry.sdk.resources import Resource

        configure_azure_monitor(
            connection_string=connection,
            resource=Resource.create({"service.name": SERVICE_NAME}),
            disable_logging=True,
            enable_live_metrics=False,
        )
    except Exception as exc:  # telemetry must never stop the app
        log.warning("telemetry export disabled: %s: %s", type(exc).__name__, exc)
        return False
    _exporting = True
    log.info("telemetry: exporting metrics and traces to Application Insights")
    return True


def exporting() -> bool:
    return _exporting


def count_graph_request(status: int) -> None:
    GRAPH_REQUESTS.add(1, {"status": status})
    if status == 429:
        GRAPH_THROTTLED.add(1)


def record_sync(tenant_id: str, mailbox: str, seconds: float, lag_seconds: float | None) -> None:
    SYNC_DURATION.record(seconds, {"tenant": tenant_id})
    if lag_seconds is not None:
        SYNC_LAG.record(lag_seconds, {"tenant": tenant_id, "mailbox": Mailbox(mailbox)})
