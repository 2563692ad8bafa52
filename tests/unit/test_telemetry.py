"""Structured, redacted log lines; OpenTelemetry export only with a connection string.

Installing the logging setup and the OpenTelemetry providers is process-wide, so the
``configure`` tests run in a fresh interpreter each.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from bookker_sync import log_context
from bookker_sync.log_context import KeyValueFormatter, bind, log_scope, redact

REPO = Path(__file__).resolve().parents[2]
STATE = "Zx8pQ_real-client-state-value-0123456789abcdefABCDEF"


def record(msg: str, *args: object, exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise RuntimeError(f"AccountKey=abc123secret;clientState={STATE}")
        except RuntimeError:
            exc_info = sys.exc_info()
    made = log_context._record_factory(
        "bookker_sync.test", logging.WARNING, __file__, 1, msg, args, exc_info
    )
    return made


@pytest.mark.parametrize(
    "text",
    [
        f'{{"clientState": "{STATE}", "id": "x"}}',
        f"{{'clientState': '{STATE}'}}",
        f"clientState={STATE}&x=1",
        f"client_state={STATE!r}",
        f"https://host/api/graph?code={STATE}&x=1",
        f"Authorization: Bearer {STATE}",
        f"DefaultEndpointsProtocol=https;AccountName=a;AccountKey={STATE};EndpointSuffix=x",
        f"client_secret={STATE}",
    ],
)
def test_secrets_and_client_states_are_masked(text: str):
    assert STATE not in redact(text)
    assert "***" in redact(text)


def test_registered_secret_values_are_masked_anywhere():
    log_context.register_secrets({
        "GRAPH_CLIENT_SECRET": "plain-secret-value-42",
        "AzureWebJobsStorage": "AccountName=a;AccountKey=K3y/With+Chars==;BlobEndpoint=x",
        "FUNCTIONS_HOST_FUNCTION_KEY": "abc",  # too short to mask safely: ignored
    })  # fmt: skip
    assert redact("token plain-secret-value-42 and K3y/With+Chars== here") == (
        "token *** and *** here"
    )
    assert redact("abc stays") == "abc stays"


def test_lines_carry_function_invocation_tenant_and_mailbox():
    formatter = KeyValueFormatter()
    with log_scope(function="sync_mailbox", invocation="inv-1", tenant="t 1"):
        bind(mailbox="room@x")
        line = formatter.format(record("synced %s: %d items", "room@x", 3))
    assert " level=warning logger=bookker_sync.test function=sync_mailbox invocation=inv-1 " in line
    assert 'tenant="t 1" mailbox=room@x msg="synced room@x: 3 items"' in line
    outside = formatter.format(record("later"))
    assert "function=- invocation=- tenant=- mailbox=- msg=later" in outside
    assert "\n" not in formatter.format(record("two\nlines"))


def test_messages_and_tracebacks_are_redacted_in_lines():
    formatter = KeyValueFormatter()
    made = record("notification %s", {"clientState": STATE}, exc=True)
    assert STATE not in made.getMessage()  # already at record creation, for every handler
    line = formatter.format(made)
    assert STATE not in line and "abc123secret" not in line and "exc=" in line


def test_callers_extra_fields_do_not_clash():
    logger = logging.getLogger("bookker_sync.test.extra")
    old = logging.getLogRecordFactory()
    logging.setLogRecordFactory(log_context._record_factory)
    try:
        made = logger.makeRecord(logger.name, logging.INFO, __file__, 1, "x", (), None,
                                 extra={"tenant": "mine", "mailbox": "m"})  # fmt: skip
    finally:
        logging.setLogRecordFactory(old)
    assert made.tenant == "mine"  # type: ignore[attr-defined]


def run_python(home: Path, code: str, **env: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=REPO, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO), "HOME": str(home),
                       "TMPDIR": str(home), **env},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_without_a_connection_string_nothing_is_exported_and_nothing_breaks(tmp_path: Path):
    out = run_python(
        tmp_path,
        """
        import logging, sys
        logging.basicConfig(stream=sys.stdout, level=logging.INFO)
        from opentelemetry import metrics
        from bookker_sync import telemetry
        print("exporting", telemetry.configure({}))
        telemetry.NOTIFICATIONS_RECEIVED.add(2)
        telemetry.count_graph_request(429)
        telemetry.record_sync("t", "r@x", 0.5, 1.0)
        with telemetry.tracer.start_as_current_span("x"):
            logging.getLogger("bookker_sync.x").info("clientState=%s", "s3cr3t-state-value")
        print(type(metrics.get_meter_provider()).__name__)
    """,
    )
    assert "exporting False" in out
    assert "_ProxyMeterProvider" in out  # no SDK provider: the API's no-op proxy
    assert "s3cr3t-state-value" not in out and "clientState=***" in out


def test_with_a_connection_string_metrics_and_traces_reach_application_insights(tmp_path: Path):
    """The Azure Monitor exporter posts to the ingestion endpoint of the connection
    string: here a local server that records what it receives."""
    out = run_python(
        tmp_path,
        """
        import gzip, json, threading
        from http.server import BaseHTTPRequestHandler, HTTPServer
        got = []
        class Ingest(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["content-length"]))
                if self.headers.get("content-encoding") == "gzip":
                    body = gzip.decompress(body)
                got.append(body.decode())
                self.send_response(200); self.end_headers()
                self.wfile.write(b'{"itemsReceived": 1, "itemsAccepted": 1, "errors": []}')
            def log_message(self, *args): pass
        server = HTTPServer(("127.0.0.1", 0), Ingest)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        from bookker_sync import telemetry
        conn = ("InstrumentationKey=00000000-0000-0000-0000-000000000001;"
                f"IngestionEndpoint=http://127.0.0.1:{server.server_port}/")
        print("exporting", telemetry.configure({telemetry.CONNECTION_SETTING: conn}))
        telemetry.NOTIFICATIONS_RECEIVED.add(3)
        telemetry.NOTIFICATIONS_REJECTED.add(1, {"reason": "clientState mismatch"})
        telemetry.count_graph_request(200)
        telemetry.count_graph_request(429)
        telemetry.record_sync("t1", "Room@X", 0.25, 12.0)
        telemetry.POISON_MESSAGES.add(1, {"queue": "lifecycle"})
        with telemetry.tracer.start_as_current_span("sync_mailbox"):
            pass
        from opentelemetry import metrics, trace
        import time
        metrics.get_meter_provider().force_flush()
        trace.get_tracer_provider().force_flush()
        deadline = time.monotonic() + 20  # exporters post from their own threads
        while time.monotonic() < deadline and not (
            any("sync_mailbox" in b for b in got) and any("bookker.queue.poison" in b for b in got)
        ):
            time.sleep(0.1)
        print(json.dumps(got))
    """,
        # Tests talk to nothing but this machine: no statsbeat, SDK stats or control plane.
        APPLICATIONINSIGHTS_STATSBEAT_DISABLED_ALL="true",
        APPLICATIONINSIGHTS_SDKSTATS_DISABLED="true",
        APPLICATIONINSIGHTS_CONTROLPLANE_DISABLED="true",
        # The distro's default sampler is rate limited and may drop a process' first span.
        OTEL_TRACES_SAMPLER="always_on",
    )
    assert "exporting True" in out
    sent = out.split("\n", 1)[1]
    for name in ("bookker.notifications.received", "bookker.notifications.rejected",
                 "bookker.graph.requests", "bookker.graph.throttled", "bookker.sync.duration",
                 "bookker.sync.lag", "bookker.queue.poison"):  # fmt: skip
        assert name in sent, name
    assert "sync_mailbox" in sent and "RemoteDependency" in sent  # the span
    assert "bookker-sync" in sent  # cloud role = service name
