"""The status page's sync-lag chart: inline SVG (no script), wide, with labelled axes.

One point per sync run (a stem from the axis, a dot at the lag), so even a handful of
runs is plainly visible. The window is the shortest of 10 min, 1 h, 6 h and 24 h that holds
every sample: a room synced a few times in the last minutes isn't a sliver at the
right edge of a day. Times are the app clock's (the report's ``generated_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape

from bookker_sync.sync.ops.status import human_span

WINDOWS = (timedelta(minutes=10), timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
WIDTH, HEIGHT = 680, 190
LEFT, RIGHT, TOP, BOTTOM = 58, 14, 26, 34  # margins: axis labels live there
GREEN, AMBER, GREY = "#1a7f37", "#9a6700", "#8c959f"
_NICE = (1, 2, 5)


def window_for(samples: list[tuple[datetime, float]], now: datetime) -> timedelta:
    oldest = min((t for t, _ in samples), default=now)
    return next((w for w in WINDOWS if now - oldest <= w), WINDOWS[-1])


# Tops for the y axis, in seconds: round numbers in the unit a person reads them in.
_TOPS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800,
         21600, 43200, 86400)  # fmt: skip


def _nice_ceiling(value: float) -> float:
    return float(next((top for top in _TOPS if top >= value), _TOPS[-1]))


def _ago(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    return f"&#8722;{minutes / 60:g} h" if minutes >= 120 else f"&#8722;{minutes:g} min"


def _span(window: timedelta) -> str:
    minutes = window.total_seconds() / 60
    return f"{minutes / 60:g} h" if minutes >= 60 else f"{minutes:g} min"


def _label(seconds: float) -> str:
    if seconds == 0:
        return "0"
    if seconds < 120:
        return f"{seconds:.3g} s"
    return f"{seconds / 60:g} min" if seconds < 7200 else f"{seconds / 3600:g} h"


def lag_chart(
    samples: list[tuple[datetime, float]], now: datetime, interval: timedelta, title: str
) -> str:
    """Lag of each sync run: green within the reconcile interval, amber past it, grey
    for runs that served no pending notification (lag 0)."""
    window = window_for(samples, now)
    start = now - window
    shown = [(t, v) for t, v in samples if start <= t <= now + timedelta(minutes=5)]
    peak = max((v for _, v in shown), default=0.0)
    top_value = _nice_ceiling(max(peak, 1.0))
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, HEIGHT - BOTTOM, TOP  # y0: the axis (lag 0)

    def x(moment: datetime) -> float:
        share = (moment - start).total_seconds() / window.total_seconds()
        return x0 + (x1 - x0) * max(0.0, min(1.0, share))

    def y(value: float) -> float:
        return y0 - (y0 - y1) * min(1.0, value / top_value)

    parts = [
        f'<rect x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}" fill="#fff" '
        'stroke="#d0d7de"/>',
        f'<text class="title" x="{x0}" y="16">{escape(title)} · last {_span(window)}</text>',
    ]
    for fraction in (0.0, 0.5, 1.0):  # y axis: 0, half, top
        value, at = top_value * fraction, y(top_value * fraction)
        parts.append(f'<line x1="{x0}" y1="{at:.1f}" x2="{x1}" y2="{at:.1f}" stroke="#eaeef2"/>')
        parts.append(
            f'<text x="{x0 - 6}" y="{at + 4:.1f}" text-anchor="end">{_label(value)}</text>'
        )
    if interval.total_seconds() <= top_value:  # the lagging threshold, when in range
        at = y(interval.total_seconds())
        parts.append(
            f'<line x1="{x0}" y1="{at:.1f}" x2="{x1}" y2="{at:.1f}" stroke="{AMBER}" '
            'stroke-dasharray="5 4"/>'
            f'<text x="{x1}" y="{at - 4:.1f}" text-anchor="end" fill="{AMBER}">'
            f"reconcile interval {human_span(interval.total_seconds())}</text>"
        )
    ticks = 6 if window >= timedelta(hours=6) else 4
    for i in range(ticks + 1):  # x axis: hours (or minutes) before now
        moment = start + window * i / ticks
        at = x(moment)
        text = "now" if i == ticks else _ago(now - moment)
        parts.append(f'<line x1="{at:.1f}" y1="{y1}" x2="{at:.1f}" y2="{y0}" stroke="#eaeef2"/>')
        parts.append(f'<text x="{at:.1f}" y="{y0 + 16}" text-anchor="middle">{text}</text>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x1}" y2="{y0}" stroke="#57606a"/>')
    parts.append(f'<line x1="{x0}" y1="{y0}" x2="{x0}" y2="{y1}" stroke="#57606a"/>')
    parts.append(
        f'<text x="{(x0 + x1) / 2:.0f}" y="{HEIGHT - 4}" text-anchor="middle">'
        "time of the sync run (app clock, UTC)</text>"
        f'<text x="12" y="{(y0 + y1) / 2:.0f}" text-anchor="middle" '
        f'transform="rotate(-90 12 {(y0 + y1) / 2:.0f})">lag</text>'
    )
    for moment, value in shown:
        color = GREY if value == 0 else AMBER if value > interval.total_seconds() else GREEN
        px, py = x(moment), y(value)
        parts.append(
            f'<g class="run"><title>{moment:%Y-%m-%d %H:%M:%S} UTC: lag '
            f"{escape(_label(value))}</title>"
            f'<line x1="{px:.1f}" y1="{y0}" x2="{px:.1f}" y2="{py:.1f}" stroke="{color}" '
            'stroke-width="2"/>'
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="4" fill="{color}"/></g>'
        )
    summary = f"{len(shown)} runs, max {_label(peak)}" if shown else "no sync runs in this window"
    parts.append(f'<text x="{x1}" y="16" text-anchor="end">{escape(summary)}</text>')
    aria = f"Sync lag over the last {_span(window)}: {summary}"
    return (
        f'<svg class="lag-timeline" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(aria)}">{"".join(parts)}</svg>'
    )
