"""Graph URL normalisation and the route table.

The msgraph-sdk does not always send the URL forms the REST pages show
(what msgraph-sdk really sends): ``calendarView/delta()`` with parentheses,
``places/graph.room`` (the ``graph`` namespace alias), and key segments may come as
``users('id')``. All forms map to one route whose *template* (e.g.
``/users/{id}/calendarView/delta``) names it in stats.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from .errors import GraphError

_KEY = re.compile(r"^(?P<name>[^()]+)\((?P<key>.*)\)$")
ACTIONS = ("accept", "decline", "tentativelyAccept", "cancel")


@dataclass(frozen=True)
class Route:
    methods: tuple[str, ...]
    segments: tuple[str, ...]  # literals, or "{param}"
    template: str
    handler: str


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


def _routes() -> list[Route]:
    out: list[Route] = []

    def add(methods: str, path: str, handler: str, template: str | None = None) -> None:
        segs = tuple(s for s in path.split("/") if s)
        out.append(Route(tuple(methods.split(",")), segs, template or path, handler))

    add("GET", "/users", "list_users")
    add("GET", "/users/{id}", "get_user")
    add("GET", "/users/{id}/calendar", "get_calendar")
    for prefix in ("/users/{id}", "/users/{id}/calendar"):
        add("GET,POST", f"{prefix}/events", "events")
        add("GET,PATCH,DELETE", f"{prefix}/events/{{eventId}}", "event")
        add("GET", f"{prefix}/events/{{eventId}}/instances", "instances")
        add("GET,POST", f"{prefix}/events/{{eventId}}/extensions", "extensions")
        add(
            "GET,PATCH,DELETE",
            f"{prefix}/events/{{eventId}}/extensions/{{extensionId}}",
            "extension",
        )
        for action in ACTIONS:
            add("POST", f"{prefix}/events/{{eventId}}/{action}", "action")
        add("GET", f"{prefix}/calendarView", "calendar_view")
        add("GET", f"{prefix}/calendarView/delta", "delta")
    add("GET", "/places/microsoft.graph.room", "rooms")
    add("GET,POST", "/subscriptions", "subscriptions")
    add("GET,PATCH,DELETE", "/subscriptions/{subscriptionId}", "subscription")
    add("POST", "/subscriptions/{subscriptionId}/reauthorize", "reauthorize")
    add("POST", "/$batch", "batch")
    return out


ROUTES = _routes()


def normalize(raw_path: str) -> list[str]:
    """Percent-decoded segments with key and function-call forms unfolded."""
    out: list[str] = []
    for raw in raw_path.split("/"):
        if not raw:
            continue
        seg = unquote(raw)
        m = _KEY.match(seg)
        if m is not None:
            name, key = m.group("name"), m.group("key").strip()
            if key.startswith("'") and key.endswith("'") and len(key) >= 2:
                key = key[1:-1].replace("''", "'")
            out.append(_alias(name))
            if key:
                out.append(key)
            continue
        out.append(_alias(seg))
    return out


def _alias(seg: str) -> str:
    low = seg.lower()
    if low in ("graph.room", "microsoft.graph.room"):
        return "microsoft.graph.room"
    for prefix in ("microsoft.graph.", "graph."):
        if low.startswith(prefix):
            return seg[len(prefix) :]
    return seg


def match(method: str, raw_path: str) -> Match:
    segs = normalize(raw_path)
    if segs and segs[0].lower() == "me":
        raise GraphError(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )
    path_matched = False
    for route in ROUTES:
        if len(route.segments) != len(segs):
            continue
        params: dict[str, str] = {}
        for want, got in zip(route.segments, segs, strict=True):
            if want.startswith("{"):
                params[want[1:-1]] = got
            elif want.lower() != got.lower():
                break
        else:
            if method.upper() in route.methods:
                if route.handler == "action":
                    params["action"] = next(a for a in ACTIONS if a.lower() == segs[-1].lower())
                return Match(route, params)
            path_matched = True
    if path_matched:
        raise GraphError(
            405, "Request_BadRequest", f"The HTTP method '{method.upper()}' is not allowed."
        )
    last = segs[-1] if segs else ""
    raise GraphError(400, "BadRequest", f"Resource not found for the segment '{last}'.")
