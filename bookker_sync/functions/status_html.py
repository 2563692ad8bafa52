"""The status page as one self-contained HTML document: inline CSS, inline SVG, no
script, no build step. Every value that comes from data (tenant and room names,
subjects, reasons, errors) goes through ``html.escape``."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from bookker_sync.functions.status_chart import lag_chart
from bookker_sync.storage.repositories import DeclineKind, DeclineRecord
from bookker_sync.sync.ops.status import (
    RoomHealth,
    RoomStatus,
    StatusReport,
    TenantStatus,
    human_span,
)

CSS = """
:root { color-scheme: light; --ok:#1a7f37; --ok-bg:#dafbe1; --lag:#9a6700; --lag-bg:#fff8c5;
  --bad:#cf222e; --bad-bg:#ffebe9; --line:#d0d7de; --muted:#57606a; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif;
  margin: 0; padding: 24px 32px; color: #1f2328; background: #f6f8fa; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 28px 0 8px; }
h2 small { font-weight: normal; color: var(--muted); font-size: 13px; }
.meta { color: var(--muted); margin: 0 0 10px; }
.summary .badge { font-size: 13px; padding: 3px 10px; margin-right: 6px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; vertical-align: top; padding: 8px 10px;
  border-bottom: 1px solid var(--line); overflow-wrap: break-word; }
td.room-name { min-width: 150px; max-width: 260px; overflow-wrap: anywhere; }
ul.changes, ul.declines { min-width: 190px; overflow-wrap: anywhere; }
th { background: #f0f3f6; font-size: 12px; text-transform: uppercase; letter-spacing: .03em;
  color: var(--muted); }
tr.room td:first-child { border-left: 4px solid var(--line); }
tr.in-sync td:first-child { border-left-color: var(--ok); }
tr.lagging td:first-child { border-left-color: var(--lag); }
tr.failing td:first-child { border-left-color: var(--bad); }
tr.failing { background: #fff7f7; }
.badge { display: inline-block; border-radius: 999px; padding: 1px 9px; font-weight: 600;
  font-size: 12px; white-space: nowrap; }
.badge.in-sync { color: var(--ok); background: var(--ok-bg); }
.badge.lagging { color: var(--lag); background: var(--lag-bg); }
.badge.failing { color: var(--bad); background: var(--bad-bg); }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px;
  color: var(--muted); }
.muted { color: var(--muted); }
td.when { white-space: nowrap; }
ul { margin: 4px 0 0; padding-left: 16px; }
li { margin: 1px 0; }
ul.reasons li { color: var(--bad); }
tr.lagging ul.reasons li { color: var(--lag); }
.note { background: #fff; border: 1px solid var(--line); padding: 10px 12px; margin: 0; }
.poison-nonzero { color: var(--bad); font-weight: 600; }
svg text { font: 12px system-ui, sans-serif; fill: var(--muted); }
svg text.title { font-weight: 600; fill: #1f2328; }
.lag-charts { display: flex; flex-wrap: wrap; gap: 12px; margin: 12px 0 0; }
.lag-charts figure { margin: 0; }
.lag-charts svg { display: block; max-width: 100%; height: auto; }
ul.declines .kind { font-weight: 600; }
ul.declines .who { color: #1f2328; }
"""

_HEALTH_CLASS = {
    RoomHealth.IN_SYNC: "in-sync",
    RoomHealth.LAGGING: "lagging",
    RoomHealth.FAILING: "failing",
}


def render(report: StatusReport) -> str:
    now = report.generated_at
    poison = " · ".join(
        f'<span class="{"poison-nonzero" if n else ""}">{escape(q)} {n}</span>'
        for q, n in report.poison.items()
    )
    summary = " ".join(
        f'<span class="badge {_HEALTH_CLASS[h]}" data-count="{_HEALTH_CLASS[h]}">'
        f"{report.count(h)} {escape(h.value)}</span>"
        for h in RoomHealth
    )
    tenants = "\n".join(_tenant(t, report) for t in report.tenants) or (
        '<p class="note">No tenants yet.</p>'
    )
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="refresh" content="60">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Bookker Sync — status</title>
<style>{CSS}</style>
</head>
<body>
<header>
<h1>Bookker Sync — status</h1>
<p class="meta">Generated {_time(now)} · a room is <em>lagging</em> when its last successful
delta is older than {report.reconcile_interval_minutes} min, <em>failing</em> when its sync
or subscription is failing · poison queues: {poison}</p>
<p class="summary">{summary}</p>
</header>
<main>
{tenants}
</main>
</body>
</html>
"""


def _tenant(tenant: TenantStatus, report: StatusReport) -> str:
    title = escape(tenant.display_name or tenant.tenant_id)
    head = (
        f'<section class="tenant" id="tenant-{escape(tenant.tenant_id)}" '
        f'data-tenant="{escape(tenant.tenant_id)}">\n'
        f"<h2>{title} <small>{escape(tenant.tenant_id)} · {escape(tenant.mode)} · "
        f"Graph tenant {escape(tenant.graph_tenant_id)}</small></h2>\n"
    ) + _events(tenant)
    if tenant.mode != "bidirectional":
        note = (
            "Unidirectional: bookings are written to users' calendars; "
            "no room mailboxes are synced."
        )
        return f'{head}<p class="note">{note}</p>\n</section>'
    if not tenant.rooms:
        return f'{head}<p class="note">No rooms with a room mailbox yet.</p>\n</section>'
    rows = "\n".join(_room(room, report) for room in tenant.rooms)
    return f"""{head}<table class="rooms">
<thead><tr><th>Room</th><th>State</th><th>Subscription</th><th>Last notification</th>
<th>Last delta</th><th>Lag</th><th>Last changes</th>
<th>Recent declines and reverts</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h3>Sync lag of each room</h3>
<div class="lag-charts">
{_charts(tenant, report)}
</div>
</section>"""


def _events(tenant: TenantStatus) -> str:
    """Events told to Bookker: the log, the push and what it gave up on."""
    ev = tenant.events
    if ev is None:
        return ""
    if ev.push_url is None:
        push = "not pushed (pull feed only)"
    else:
        push = f"pushed up to #{ev.delivered_seq}"
        if ev.attempts:
            push += f", retrying ({ev.attempts} failed tries: {escape(ev.last_error or '')})"
    dead = (
        f' · <span class="poison-nonzero">{ev.dead_letters} dead-lettered</span>'
        if ev.dead_letters
        else ""
    )
    return (
        f'<p class="note events" data-dead-letters="{ev.dead_letters}">Events: '
        f"{ev.last_seq} logged, {push}{dead}</p>\n"
    )


def _charts(tenant: TenantStatus, report: StatusReport) -> str:
    interval = timedelta(minutes=report.reconcile_interval_minutes)
    return "\n".join(
        f'<figure class="lag-chart" data-room="{escape(room.space_id)}">'
        f"{lag_chart(room.lag_samples, report.generated_at, interval, room.space_name)}"
        "</figure>"
        for room in tenant.rooms
    )


def _room(room: RoomStatus, report: StatusReport) -> str:
    now = report.generated_at
    css = _HEALTH_CLASS[room.health]
    reasons = "".join(f"<li>{escape(r)}</li>" for r in room.reasons)
    expiry = (
        f'<br><span class="muted">expires {_time(room.subscription_expires_at, now)}</span>'
        if room.subscription_expires_at
        else ""
    )
    lag = _seconds(room.lag_seconds) if room.lag_seconds is not None else "—"
    return (
        f'<tr class="room {css}" data-room="{escape(room.space_id)}" '
        f'data-state="{css}">'
        f'<td class="room-name"><strong>{escape(room.space_name)}</strong><br>'
        f'<span class="mono">{escape(room.mailbox)}</span></td>'
        f'<td><span class="badge {css}">{escape(room.health.value)}</span>'
        f"{f'<ul class=reasons>{reasons}</ul>' if reasons else ''}</td>"
        f'<td class="when">{escape(room.subscription_state)}{expiry}</td>'
        f'<td class="when">{_time(room.last_notification_at, now)}</td>'
        f'<td class="when">{_time(room.last_sync_at, now)}</td>'
        f'<td class="when">{lag}</td>'
        f"<td>{_changes(room, now)}</td>"
        f"<td>{_declines(room, now)}</td>"
        "</tr>"
    )


def _changes(room: RoomStatus, now: datetime) -> str:
    if not room.changes:
        return '<span class="muted">none in 24 h</span>'
    items = []
    for c in room.changes:
        subject = f" “{escape(c.subject)}”" if c.subject else ""
        reason = f' <span class="muted">({escape(c.reason)})</span>' if c.reason else ""
        items.append(
            f"<li>{_time(c.updated_at, now)} {escape(c.status)}{subject}"
            f' <span class="muted">from {escape(c.source)}, '
            f"{c.start:%a %d %b %H:%M}&ndash;{c.end:%H:%M}</span>{reason}</li>"
        )
    return f'<ul class="changes">{"".join(items)}</ul>'


def _declines(room: RoomStatus, now: datetime) -> str:
    if not room.declines:
        return '<span class="muted">none</span>'
    items = "".join(_decline(d, now) for d in room.declines)
    return f'<ul class="declines">{items}</ul>'


def _decline(d: DeclineRecord, now: datetime) -> str:
    """When, what (declined / moved back), whose meeting, and the reason given."""
    kind = "moved back" if d.kind is DeclineKind.REVERT else "declined"
    who = f' <span class="who">{escape(d.organizer)}</span>' if d.organizer else ""
    subject = f" “{escape(d.subject)}”" if d.subject else ""
    when = ""
    if d.start and d.end:
        asked = "asked for " if d.kind is DeclineKind.REVERT else ""
        when = (
            f' <span class="muted">{asked}{d.start:%a %d %b %H:%M}&ndash;{d.end:%H:%M} UTC</span>'
        )
    return (
        f'<li data-kind="{escape(d.kind.value)}">{_time(d.at, now)} '
        f'<span class="kind">{kind}</span>{who}{subject}{when}: {escape(d.reason)}</li>'
    )


def _seconds(value: float) -> str:
    return human_span(value)


def _relative(moment: datetime, now: datetime) -> str:
    delta = (now - moment).total_seconds()
    future = delta < 0
    text = _seconds(abs(delta))
    return f"in {text}" if future else f"{text} ago"


def _time(moment: datetime | None, now: datetime | None = None) -> str:
    """Relative to ``now`` (absolute time on hover), or absolute without ``now``."""
    if moment is None:
        return '<span class="muted">never</span>'
    iso = escape(moment.isoformat())
    absolute = f"{moment:%Y-%m-%d %H:%M} UTC"
    if now is None:
        return f'<time datetime="{iso}">{absolute}</time>'
    return f'<time datetime="{iso}" title="{absolute}">{_relative(moment, now)}</time>'


def error_page(title: str, message: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{escape(title)}</h1><p class="note">{escape(message)}</p></body></html>'
    )
