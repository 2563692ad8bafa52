"""The emulator as a separate process: CLI contract, clean stops, a 1,000-request burst."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder

from emulators.graph.tls import DEFAULT_CA_PATH
from tests.support.graph_emulator import REPO, graph_client, start_graph_emulator

from .sdk import attendee, config, event, room

CLIENTS = 20
REQUESTS = 1000


def test_cli_line_ca_files_and_sigterm(tmp_path: Path) -> None:
    emu = start_graph_emulator(tmp_path)
    try:
        assert emu.base_url.startswith("https://localhost:") and emu.port > 0
        assert Path(emu.ca_path).is_absolute()
        assert Path(emu.ca_path).read_bytes() == DEFAULT_CA_PATH.read_bytes()
        assert b"BEGIN CERTIFICATE" in Path(emu.ca_path).read_bytes()
        assert emu.http.get("/_emulator/clock").status_code == 200
    finally:
        assert emu.stop() == 0, emu.log_tail()


def test_sigint_stops_cleanly_and_only_loopback_binds(tmp_path: Path) -> None:
    emu = start_graph_emulator(tmp_path)
    emu.process.send_signal(signal.SIGINT)
    assert emu.process.wait(timeout=10) == 0
    emu.stop()
    bad = subprocess.run(
        [sys.executable, "-m", "emulators.graph", "--host", "0.0.0.0", "--port", "0"],
        cwd=REPO,
        capture_output=True,
        timeout=30,
    )
    assert bad.returncode == 2 and b"loopback" in bad.stderr


@pytest.mark.slow
def test_burst_of_1000_requests_from_20_clients(tmp_path: Path) -> None:
    emu = start_graph_emulator(tmp_path)
    try:
        asyncio.run(_burst(emu))
        assert emu.alive()
    finally:
        assert emu.stop() == 0, emu.log_tail()


async def _burst(emu: Any) -> None:
    tenant, client_id, secret = "burst-tenant", "burst-app", "burst-secret"
    emu.add_tenant(tenant, client_id, secret)
    users = [f"user{i}@burst.example" for i in range(10)]
    for u in users:
        emu.add_mailbox(tenant, u, u.split("@")[0].title())
    emu.add_mailbox(tenant, "hall@burst.example", "Hall", "room")
    emu.add_mailbox(tenant, "shared@burst.example", "Shared")
    # Real Graph answers in tens of milliseconds; with a little service time the
    # clients overlap on the shared mailbox and meet Outlook's concurrency limit.
    emu.set_faults(latencyMs=20)
    emu.clear_stats()
    base = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=1)
    window = (base - timedelta(days=1), base + timedelta(days=30))
    outcomes: Counter[str] = Counter()
    bad: list[str] = []
    per_client = REQUESTS // CLIENTS

    async def client(n: int) -> None:
        g = graph_client(emu, tenant, client_id, secret, retry=False)
        rnd = random.Random(n)
        me = users[n % len(users)]
        made: list[str] = []
        for i in range(per_client):
            kind = rnd.random()
            try:
                if kind < 0.25:
                    start = base + timedelta(hours=rnd.randrange(24 * 20))
                    atts = [attendee(users[(n + 1) % len(users)])]
                    if rnd.random() < 0.3:
                        atts.append(room("hall@burst.example"))
                    ev = await g.users.by_user_id(me).events.post(
                        event(f"c{n}-{i}", start, attendees=atts, transaction_id=f"c{n}-{i}")
                    )
                    made.append(ev.id)
                    outcomes["201"] += 1
                elif kind < 0.45:
                    q = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
                        top=2, select=["subject", "start"]
                    )
                    await g.users.by_user_id("shared@burst.example").events.get(config(q))
                    outcomes["200"] += 1
                elif kind < 0.65:
                    q = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
                        start_date_time=window[0].isoformat(),
                        end_date_time=window[1].isoformat(),
                        top=3,
                        select=["subject", "start", "end"],
                    )
                    await g.users.by_user_id(me).calendar_view.get(config(q))
                    outcomes["200"] += 1
                elif kind < 0.8:
                    q = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                        start_date_time=window[0].isoformat(), end_date_time=window[1].isoformat()
                    )
                    await g.users.by_user_id(me).calendar_view.delta.get(
                        config(q, {"Prefer": "odata.maxpagesize=3"})
                    )
                    outcomes["200"] += 1
                elif kind < 0.95 and made:
                    await g.users.by_user_id(me).events.by_event_id(rnd.choice(made)).get()
                    outcomes["200"] += 1
                else:
                    await g.places.graph_room.get()
                    outcomes["200"] += 1
            except ODataError as err:
                if (
                    err.response_status_code == 429
                    and err.error.code == "ApplicationThrottled"
                    and int(err.response_headers["retry-after"]) >= 1
                ):
                    outcomes["429"] += 1
                else:
                    bad.append(f"{err.response_status_code} {err.error.code} {err.error.message}")

    started = time.monotonic()
    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    elapsed = time.monotonic() - started
    assert not bad, bad[:5]
    assert sum(outcomes.values()) == REQUESTS
    stats = emu.stats()["requests"]
    assert sum(r["count"] for r in stats) == REQUESTS
    statuses = {r["status"] for r in stats}
    assert statuses <= {200, 201, 429}, statuses
    assert outcomes["429"] == sum(r["count"] for r in stats if r["status"] == 429)
    # still healthy afterwards
    assert emu.http.get("/_emulator/clock").status_code == 200
    print(f"burst: {REQUESTS} requests in {elapsed:.1f}s, outcomes {dict(outcomes)}")
