"""Pure parts of the operator tools: verdicts, lag samples, room mapping, poison
unwrapping, and the status page's HTML (escaping, SVG timeline)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from bookker_sync.domain.models import Space
from bookker_sync.functions.status_chart import lag_chart
from bookker_sync.functions.status_html import render
from bookker_sync.graph.places import Room
from bookker_sync.storage.queue_admin import QueuedMessage
from bookker_sync.storage.repositories import (
    DeclineKind,
    DeclineRecord,
    MailboxState,
    SubscriptionRecord,
    SubscriptionState,
)
from bookker_sync.sync.errors import BadRequestError
from bookker_sync.sync.ops import lag
from bookker_sync.sync.ops.operator_commands import map_rooms, resolve_queue, space_id_for, unwrap
from bookker_sync.sync.ops.status import (
    RoomHealth,
    RoomStatus,
    StatusReport,
    TenantStatus,
    classify,
)

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
INTERVAL = timedelta(minutes=15)


def sub(**kw) -> SubscriptionRecord:
    base = dict(tenant_id="t", mailbox="r@x", space_id="s", graph_tenant_id="g",
                subscription_id="sub-1", state=SubscriptionState.ACTIVE,
                expires_at=NOW + timedelta(days=3))  # fmt: skip
    return SubscriptionRecord(**{**base, **kw})


def state(**kw) -> MailboxState:
    return MailboxState(tenant_id="t", mailbox="r@x", **kw)


# -- verdicts -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "mailbox", "health", "reason"),
    [
        (sub(), state(last_sync_at=NOW - timedelta(minutes=3)), RoomHealth.IN_SYNC, None),
        (sub(), state(last_sync_at=NOW - timedelta(minutes=40)), RoomHealth.LAGGING, "40 min"),
        (sub(), None, RoomHealth.LAGGING, "never synced"),
        (sub(), state(), RoomHealth.LAGGING, "never synced"),
        (None, state(last_sync_at=NOW), RoomHealth.FAILING, "no subscription"),
        (sub(state=SubscriptionState.FAILING, last_error="Graph 404 x"), state(last_sync_at=NOW),
         RoomHealth.FAILING, "subscription failing: Graph 404 x"),
        (sub(state=SubscriptionState.NEEDS_CONSENT), state(last_sync_at=NOW),
         RoomHealth.FAILING, "subscription needs-consent"),
        (sub(state=SubscriptionState.MISSING, subscription_id=None), state(last_sync_at=NOW),
         RoomHealth.FAILING, "subscription missing"),
        (sub(expires_at=NOW - timedelta(minutes=1)), state(last_sync_at=NOW),
         RoomHealth.FAILING, "subscription expired"),
        (sub(), state(last_sync_at=NOW, consecutive_failures=2, last_error="boom"),
         RoomHealth.FAILING, "2 failed sync runs: boom"),
    ],
)  # fmt: skip
def test_verdicts_follow_the_thresholds(record, mailbox, health, reason):
    got, reasons = classify(NOW, INTERVAL, record, mailbox)
    assert got is health
    if reason is None:
        assert reasons == []
    else:
        assert any(reason in r for r in reasons), reasons


def test_failing_beats_lagging():
    got, reasons = classify(NOW, INTERVAL, None, state(consecutive_failures=1))
    assert got is RoomHealth.FAILING and len(reasons) == 2


# -- lag samples ---------------------------------------------------------------------------
def test_lag_is_time_from_the_served_notification_to_the_end_of_the_run():
    s = state(last_notification_at=NOW - timedelta(seconds=30),
              last_sync_at=NOW - timedelta(minutes=5))  # fmt: skip
    assert lag.pending_lag(s, run_started=NOW - timedelta(seconds=2), finished=NOW) == 30
    # already served by the previous run, or arrived after this run started: 0
    s.last_sync_at = NOW - timedelta(seconds=10)
    assert lag.pending_lag(s, NOW - timedelta(seconds=2), NOW) == 0
    s.last_sync_at, s.last_notification_at = None, NOW
    assert lag.pending_lag(s, NOW - timedelta(seconds=2), NOW) == 0
    assert lag.pending_lag(state(), NOW, NOW) == 0


def test_lag_samples_keep_24_hours_and_a_cap():
    s = state()
    s.lag_samples = [(NOW - timedelta(hours=30), 5.0), (NOW - timedelta(hours=2), 7.0)]
    lag.add_sample(s, NOW, 1.25)
    assert s.lag_samples == [(NOW - timedelta(hours=2), 7.0), (NOW, 1.25)]
    for i in range(lag.MAX_SAMPLES + 50):
        lag.add_sample(s, NOW + timedelta(seconds=i), 0.0)
    assert len(s.lag_samples) == lag.MAX_SAMPLES
    assert s.lag_samples[-1][0] == NOW + timedelta(seconds=lag.MAX_SAMPLES + 49)
    # the model round-trips through JSON (the mailboxes table stores it so)
    again = MailboxState.model_validate_json(s.model_dump_json())
    assert again.lag_samples == s.lag_samples


# -- onboarding map ------------------------------------------------------------------------
def room(email: str, name: str = "Room") -> Room:
    return Room(email=email, display_name=name, capacity=None, raw={})


def test_rooms_map_to_spaces_by_address_else_to_new_ids():
    spaces = [
        Space(id="board", tenant_id="t", name="Board", resource_email="Board.Room@x.com"),
        Space(id="focus", tenant_id="t", name="Focus (old desk)"),
    ]
    found = map_rooms(
        [room("board.room@x.com"), room("focus@x.com"), room("focus@y.com"),
         room("é+weird name@x.com")],
        spaces,
    )  # fmt: skip
    assert [(m.space_id, m.existing) for m in found] == [
        ("board", True),  # existing space with that address: kept
        ("focus-2", False),  # "focus" is taken by a space without that address
        ("focus-3", False),
        ("weird-name", False),
    ]
    assert space_id_for("...@x.com", set()) == "room"
    assert len(space_id_for("a" * 100 + "@x.com", set())) <= 64


# -- poison queues --------------------------------------------------------------------------
def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def msg(content: str) -> QueuedMessage:
    return QueuedMessage(id="m1", inserted_at=NOW, dequeue_count=5, content=content)


def test_poison_messages_unwrap_to_their_original_body():
    original = '{"tenantId":"t","mailbox":"r@x"}'
    host_moved = unwrap(msg(b64(original)))
    assert host_moved.body == original and host_moved.reason is None
    wrapped = unwrap(msg(b64(json.dumps({"reason": "bad", "body": "not json", "id": "o1"}))))
    assert (wrapped.body, wrapped.reason, wrapped.original_id) == ("not json", "bad", "o1")
    # a JSON message that only looks similar is not ours: kept whole
    lookalike = json.dumps({"reason": "x", "body": "y", "id": "z", "tenantId": "t"})
    assert unwrap(msg(b64(lookalike))).body == lookalike
    # content that isn't base64 text at all is shown (and replayed) as it is
    assert unwrap(msg("%%% not base64")).body == "%%% not base64"


@pytest.mark.parametrize("name", ["mailbox-sync", "LIFECYCLE", "outbound-poison"])
def test_queue_names(name):
    assert resolve_queue(name) in ("mailbox-sync", "lifecycle", "outbound")


def test_cli_knows_the_app_queues():
    from bookker_sync.cli.main import QUEUE_NAMES
    from bookker_sync.storage.queues import APP_QUEUES

    assert QUEUE_NAMES == APP_QUEUES


def test_unknown_queue_is_a_bad_request():
    with pytest.raises(BadRequestError, match="unknown queue 'nope'"):
        resolve_queue("nope")


# -- the page -------------------------------------------------------------------------------
EVIL = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'


def report() -> StatusReport:
    samples = [(NOW - timedelta(hours=h), float(h * 40)) for h in range(0, 24, 3)]
    rooms = [
        RoomStatus(
            space_id="s1", space_name=EVIL, mailbox="r1@x", health=RoomHealth.FAILING,
            reasons=[f"subscription failing: {EVIL}"], subscription_state="failing",
            subscription_expires_at=None, subscription_error=EVIL, last_notification_at=None,
            last_sync_at=None, lag_seconds=None, consecutive_failures=3, last_error=EVIL,
            declines=[DeclineRecord(tenant_id="t", space_id="s1", mailbox="r1@x",
                                    room_event_id="e", reason=EVIL, at=NOW),
                      DeclineRecord(tenant_id="t", space_id="s1", mailbox="r1@x",
                                    room_event_id="e2", reason="Sala Sol is for finance",
                                    at=NOW, organizer="Bob <bob@x>", subject="Team lunch",
                                    start=datetime(2024, 1, 2, 12, tzinfo=UTC),
                                    end=datetime(2024, 1, 2, 13, tzinfo=UTC)),
                      DeclineRecord(tenant_id="t", space_id="s1", mailbox="r1@x",
                                    room_event_id="o1", reason="closed at 22:00", at=NOW,
                                    kind=DeclineKind.REVERT, organizer="bob@x",
                                    start=datetime(2024, 1, 2, 22, tzinfo=UTC),
                                    end=datetime(2024, 1, 2, 23, tzinfo=UTC))],
        ),
        RoomStatus(
            space_id="s2", space_name="Calm", mailbox="r2@x", health=RoomHealth.IN_SYNC,
            reasons=[], subscription_state="active",
            subscription_expires_at=NOW + timedelta(days=2), subscription_error=None,
            last_notification_at=NOW - timedelta(minutes=1), last_sync_at=NOW,
            lag_seconds=3.0, consecutive_failures=0, last_error=None, lag_samples=samples,
        ),
    ]  # fmt: skip
    tenants = [
        TenantStatus("t", EVIL, "bidirectional", "g", rooms),
        TenantStatus("u", "Uni", "unidirectional", "g2", []),
    ]
    return StatusReport(NOW, 15, tenants, {"mailbox-sync": 0, "lifecycle": 2, "outbound": 0})


def test_page_escapes_every_data_value():
    html = render(report())
    assert "<script>alert" not in html and "<img" not in html
    assert html.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;") >= 4
    assert 'data-room="s1" data-state="failing"' in html
    assert 'data-room="s2" data-state="in-sync"' in html
    assert "1 failing" in html and "1 in sync" in html and "0 lagging" in html
    assert "Unidirectional" in html and "lifecycle 2" in html


def test_lag_chart_draws_one_point_per_run_with_labelled_axes():
    samples = [(NOW - timedelta(hours=23), 0.0), (NOW - timedelta(hours=12), 1200.0),
               (NOW - timedelta(minutes=1), 30.0)]  # fmt: skip
    svg = lag_chart(samples, NOW, INTERVAL, "Calm <room>")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'width="680"' in svg  # wide enough to read
    assert svg.count("<circle") == 3 and svg.count('<g class="run">') == 3
    assert "#9a6700" in svg  # 20 min > the 15 min interval: amber
    assert "#8c959f" in svg and "#1a7f37" in svg  # idle run grey, small lag green
    assert "3 runs, max 20 min" in svg and 'role="img"' in svg
    assert "reconcile interval 15 min" in svg  # the threshold line, labelled
    assert "&#8722;24 h" in svg and "&#8722;12 h" in svg and ">now<" in svg  # x axis
    assert ">0<" in svg and ">20 min<" in svg and ">lag<" in svg  # y axis, 0 to a nice top
    assert "Calm &lt;room&gt;" in svg and "<room>" not in svg
    assert "last 24 h" in svg


def test_lag_chart_zooms_to_the_window_holding_the_samples():
    recent = [(NOW - timedelta(minutes=m), 0.4 * m) for m in (40, 20, 5)]
    svg = lag_chart(recent, NOW, INTERVAL, "r")
    assert "last 1 h" in svg and "&#8722;30 min" in svg  # not a sliver of a day
    assert "last 10 min" in lag_chart(recent[-1:], NOW, INTERVAL, "r")
    assert svg.count("<circle") == 3
    assert "reconcile interval" not in svg  # 15 min is far above a 20 s axis
    assert "no sync runs" in lag_chart([], NOW, INTERVAL, "r")


def test_declines_and_reverts_say_whose_meeting():
    html = render(report())
    assert 'data-kind="decline"' in html and "Bob &lt;bob@x&gt;" in html
    assert "“Team lunch”" in html and "Tue 02 Jan 12:00&ndash;13:00 UTC" in html
    assert 'data-kind="revert"' in html and "moved back" in html
    assert "asked for Tue 02 Jan 22:00&ndash;23:00 UTC" in html
