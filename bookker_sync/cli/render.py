"""How the CLI shows things: rich tables and progress bars, or JSON (``--json``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from bookker_sync.log_context import redact
from bookker_sync.storage.repositories import DeadLetter, DeclineKind
from bookker_sync.sync.ops.operator_commands import (
    OnboardReport,
    PoisonMessage,
    PoisonResult,
    ResyncOutcome,
    RoomMapping,
    TenantSummary,
)
from bookker_sync.sync.ops.status import (
    EventsStatus,
    RoomHealth,
    RoomStatus,
    StatusReport,
    human_span,
)
from bookker_sync.sync.subscriptions.renewal import RenewalReport

HEALTH_STYLE = {
    RoomHealth.IN_SYNC: "green",
    RoomHealth.LAGGING: "yellow",
    RoomHealth.FAILING: "bold red",
}


def console() -> Console:
    """Terminal width on a terminal; a roomy fixed width (or $COLUMNS) in pipes."""
    width = None if sys.stdout.isatty() else int(os.environ.get("COLUMNS") or 160)
    return Console(width=width, highlight=False, soft_wrap=False)


def text(value: object) -> Text:
    """Data as plain text: never interpreted as rich markup, secrets masked."""
    return Text(redact("" if value is None else str(value)))


def when(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    span = _span(abs(seconds))
    relative = f"in {span}" if seconds < 0 else f"{span} ago"
    return f"{moment:%Y-%m-%d %H:%M} ({relative})"


def _span(seconds: float) -> str:
    return human_span(seconds)


def lag(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s" if value < 120 else _span(value)


@contextmanager
def progress_bar(out: Console, title: str, total: int) -> Iterator[Any]:
    """Yields ``advance(item, outcome)``: one line per item above a live bar."""
    with Progress(
        SpinnerColumn(), TextColumn("[bold]{task.description}"), BarColumn(),
        MofNCompleteColumn(), TimeElapsedColumn(), console=out,
    ) as bar:  # fmt: skip
        task = bar.add_task(title, total=total)

        def advance(item: str, outcome: str) -> None:
            bar.console.print(Text.assemble("  ", text(item), ": ", text(outcome)))
            bar.advance(task)

        yield advance


# -- tables ------------------------------------------------------------------------------
def tenants_table(summaries: list[TenantSummary]) -> Table:
    table = Table(title="Tenants")
    for column in ("Tenant", "Name", "Mode", "Graph tenant", "Spaces", "Rooms", "Subscriptions"):
        table.add_column(column)
    for s in summaries:
        subs = ", ".join(f"{k} {v}" for k, v in sorted(s.subscriptions.items())) or "-"
        t = s.tenant
        table.add_row(
            text(t.id), text(t.display_name), text(t.mode.value), text(t.graph_tenant_id),
            str(s.spaces), str(s.rooms), text(subs),
        )  # fmt: skip
    return table


def tenants_json(summaries: list[TenantSummary]) -> list[dict[str, Any]]:
    return [
        {
            "tenantId": s.tenant.id, "displayName": s.tenant.display_name,
            "mode": s.tenant.mode.value, "graphTenantId": s.tenant.graph_tenant_id,
            "spaces": s.spaces, "rooms": s.rooms, "subscriptions": s.subscriptions,
        }
        for s in summaries
    ]  # fmt: skip


def mapping_table(mappings: list[RoomMapping]) -> Table:
    table = Table(title="Rooms found")
    for column in ("Room mailbox", "Display name", "Capacity", "Space", "Space is"):
        table.add_column(column)
    for m in mappings:
        table.add_row(
            text(m.room.email), text(m.room.display_name),
            "-" if m.room.capacity is None else str(m.room.capacity), text(m.space_id),
            "existing" if m.existing else "new",
        )  # fmt: skip
    return table


def onboard_table(report: OnboardReport) -> Table:
    table = Table(title=f"Onboarding {report.tenant.id}")
    for column in ("Room mailbox", "Space", "Outcome"):
        table.add_column(column)
    for m in report.rooms:
        table.add_row(
            text(m.room.email), text(m.space_id), Text(redact(m.outcome), "" if m.ok else "red")
        )
    return table


def status_tables(report: StatusReport) -> list[Table | Text]:
    now = report.generated_at
    out: list[Table | Text] = []
    for tenant in report.tenants:
        title = f"{tenant.display_name or tenant.tenant_id} ({tenant.tenant_id}, {tenant.mode})"
        if tenant.mode != "bidirectional":
            out.append(Text(redact(f"{title}: unidirectional, no room mailboxes synced")))
            continue
        table = Table(title=redact(title), title_justify="left")
        for column in (
            "Room", "Mailbox", "State", "Subscription", "Expires", "Last notification",
            "Last delta", "Lag", "Why",
        ):  # fmt: skip
            table.add_column(column)
        for room in tenant.rooms:
            table.add_row(*_room_cells(room, now))
        if not tenant.rooms:
            table.add_row("-", "no rooms with a room mailbox", "", "", "", "", "", "", "")
        out.append(table)
        declined = _declines_table(tenant.rooms, now)
        if declined is not None:
            out.append(declined)
    counts = ", ".join(f"{report.count(h)} {h.value}" for h in RoomHealth)
    poison = ", ".join(f"{q}-poison {n}" for q, n in report.poison.items())
    out.append(Text(f"Rooms: {counts}. Poison queues: {poison}."))
    return out


def _declines_table(rooms: list[RoomStatus], now: datetime) -> Table | None:
    rows = sorted(
        ((room, d) for room in rooms for d in room.declines), key=lambda rd: rd[1].at, reverse=True
    )
    if not rows:
        return None
    table = Table(title="Recent declines and reverts", title_justify="left")
    for column in ("When", "Room", "What", "Organizer", "Meeting", "Reason"):
        table.add_column(column)
    for room, d in rows:
        meeting = d.subject or ""
        if d.start and d.end:
            meeting += f" ({d.start:%a %d %b %H:%M}-{d.end:%H:%M} UTC)"
        table.add_row(
            when(d.at, now), text(room.space_name),
            "moved back" if d.kind is DeclineKind.REVERT else "declined",
            text(d.organizer or "-"), text(meeting.strip() or "-"), text(d.reason),
        )  # fmt: skip
    return table


def _room_cells(room: RoomStatus, now: datetime) -> list[Text | str]:
    return [
        text(room.space_name),
        text(room.mailbox),
        Text(room.health.value, HEALTH_STYLE[room.health]),
        text(room.subscription_state),
        when(room.subscription_expires_at, now) if room.subscription_expires_at else "-",
        when(room.last_notification_at, now),
        when(room.last_sync_at, now),
        lag(room.lag_seconds),
        text("; ".join(room.reasons) or "-"),
    ]


def events_json(events: EventsStatus) -> dict[str, Any]:
    return {
        "lastSequence": events.last_seq, "pushUrl": events.push_url,
        "deliveredSequence": events.delivered_seq, "attempts": events.attempts,
        "lastError": redact(events.last_error) if events.last_error else None,
        "nextAttemptAt": events.next_attempt_at.isoformat() if events.next_attempt_at else None,
        "deadLetters": events.dead_letters,
    }  # fmt: skip


def dead_letters_json(letters: list[DeadLetter]) -> list[dict[str, Any]]:
    return [
        {
            "tenantId": d.tenant_id, "sequence": d.seq, "eventId": d.event_id, "type": d.type,
            "bookingId": d.booking_id, "attempts": d.attempts, "deadAt": d.dead_at.isoformat(),
            "lastError": redact(d.last_error) if d.last_error else None,
        }
        for d in letters
    ]  # fmt: skip


def dead_letters_table(letters: list[DeadLetter]) -> Table:
    table = Table(title=f"{len(letters)} dead-lettered event(s)")
    for column in ("Tenant", "#", "Type", "Booking", "Tries", "Dead since", "Last error"):
        table.add_column(column)
    for d in letters:
        table.add_row(
            text(d.tenant_id), str(d.seq), text(d.type.removeprefix("com.bookker.sync.")),
            text(d.booking_id or "-"), str(d.attempts), d.dead_at.strftime("%Y-%m-%d %H:%M"),
            text(redact(d.last_error or "-")),
        )  # fmt: skip
    return table


def status_json(report: StatusReport) -> dict[str, Any]:
    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    return {
        "generatedAt": iso(report.generated_at),
        "reconcileIntervalMinutes": report.reconcile_interval_minutes,
        "poisonQueues": report.poison,
        "tenants": [
            {
                "tenantId": t.tenant_id, "displayName": t.display_name, "mode": t.mode,
                "events": events_json(t.events) if t.events else None,
                "rooms": [
                    {
                        "spaceId": r.space_id, "name": r.space_name, "mailbox": r.mailbox,
                        "state": r.health.value, "reasons": [redact(x) for x in r.reasons],
                        "subscription": r.subscription_state,
                        "subscriptionExpiresAt": iso(r.subscription_expires_at),
                        "lastNotificationAt": iso(r.last_notification_at),
                        "lastSyncAt": iso(r.last_sync_at), "lagSeconds": r.lag_seconds,
                        "consecutiveFailures": r.consecutive_failures,
                        "recentDeclines": [
                            {"at": iso(d.at), "kind": d.kind.value, "reason": redact(d.reason),
                             "organizer": redact(d.organizer or "") or None,
                             "subject": redact(d.subject or "") or None,
                             "start": iso(d.start), "end": iso(d.end)}
                            for d in r.declines
                        ],
                    }
                    for r in t.rooms
                ],
            }
            for t in report.tenants
        ],
    }  # fmt: skip


def resync_table(tenant_id: str, outcomes: list[ResyncOutcome]) -> Table:
    table = Table(title=f"Resync of {tenant_id}")
    for column in ("Space", "Room mailbox", "Outcome"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(
            text(o.space_id), text(o.mailbox), Text(redact(o.detail), "" if o.ok else "red")
        )
    return table


def preview(body: str, limit: int = 80) -> str:
    flat = redact(" ".join(body.split()))
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def poison_table(queue: str, depth: int, messages: list[PoisonMessage]) -> Table:
    shown = f"showing {len(messages)}" if depth > len(messages) else f"{len(messages)}"
    table = Table(title=f"{queue}-poison: about {depth} message(s), {shown}")
    for column in ("Id", "Inserted", "Dequeues", "Reason", "Body"):
        table.add_column(column)
    for m in messages:
        inserted = m.message.inserted_at
        table.add_row(
            text(m.id), f"{inserted:%Y-%m-%d %H:%M:%S}" if inserted else "-",
            str(m.message.dequeue_count),
            text(preview(m.reason, 60) if m.reason else "(host: maxDequeueCount)"),
            text(preview(m.body)),
        )  # fmt: skip
    return table


def poison_json(queue: str, depth: int, messages: list[PoisonMessage]) -> dict[str, Any]:
    return {
        "queue": f"{queue}-poison", "approximateCount": depth,
        "messages": [
            {
                "id": m.id,
                "insertedAt": m.message.inserted_at.isoformat() if m.message.inserted_at else None,
                "dequeueCount": m.message.dequeue_count, "reason": m.reason,
                "originalId": m.original_id, "body": redact(m.body),
            }
            for m in messages
        ],
    }  # fmt: skip


def poison_result(verb: str, result: PoisonResult) -> Text:
    return Text(f"{verb} {len(result.done)} message(s) of {result.queue}")


def renewal_table(report: RenewalReport) -> Table:
    table = Table(title="Subscription renewal")
    for column in ("Due", "Renewed", "Recreated", "Needs consent", "Failed", "Deferred", "Seconds"):
        table.add_column(column)
    table.add_row(*(str(v) for v in (
        report.due, report.renewed, report.recreated, report.needs_consent, report.failed,
        report.deferred, f"{report.seconds:.1f}",
    )))  # fmt: skip
    return table
