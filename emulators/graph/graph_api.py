"""Handlers of the Graph routes (events, calendar views, delta, extensions, rooms, users;
``/subscriptions`` lives in ``subscription_api``).

Collections page with ``$top`` (default 10) and ``@odata.nextLink`` carrying
``$skip`` (learn.microsoft.com/graph/paging); ``$filter``/``$orderby`` apply to the
Graph JSON of each item, ``$select`` trims it, ``$expand=extensions($filter=…)``
adds open extensions (learn.microsoft.com/graph/api/opentypeextension-get).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from . import delta, odata, recurrence, subscription_api, timezones
from .dispatch import Context, GraphResponse, Handler
from .errors import GraphError, bad_request
from .model import EventCopy
from .serialize import (
    SELECTABLE,
    EventOptions,
    etag,
    event_json,
    extension_json,
    room_json,
    user_json,
)
from .world import Response

DEFAULT_TOP = 10
RESPONSES: dict[str, Response] = {
    "accept": "accepted",
    "decline": "declined",
    "tentativelyAccept": "tentativelyAccepted",
}
MAX_TOP = 1000


# -- helpers ---------------------------------------------------------------------
def _prefer(ctx: Context) -> dict[str, str]:
    return odata.parse_prefer(ctx.request.prefer)


def _event_options(ctx: Context) -> EventOptions:
    q = ctx.request.query
    prefer = _prefer(ctx)
    tz = prefer.get("outlook.timezone") or "UTC"
    try:
        timezones.resolve(tz)
    except timezones.UnknownTimeZone as exc:
        raise recurrence.unsupported_tz(tz) from exc
    expand = odata.parse_expand(odata.option(q, "expand"))
    return EventOptions(
        tz=tz,
        select=odata.parse_select(odata.option(q, "select"), SELECTABLE, "microsoft.graph.event"),
        expand_extensions=expand.extensions,
        extension_filter=expand.extension_filter,
        body_content_type=(prefer.get("outlook.body-content-type") or "").lower() or None,
    )


def _preference_applied(ctx: Context) -> dict[str, str]:
    prefer = _prefer(ctx)
    applied = []
    if "outlook.timezone" in prefer:
        applied.append(f'outlook.timezone="{prefer["outlook.timezone"]}"')
    if "outlook.body-content-type" in prefer:
        applied.append(f'outlook.body-content-type="{prefer["outlook.body-content-type"]}"')
    return {"Preference-Applied": ", ".join(applied)} if applied else {}


def _self_url(ctx: Context) -> str:
    return f"{ctx.request.base_url}/v1.0{ctx.request.raw_path}"


def _context_url(ctx: Context, suffix: str) -> str:
    assert ctx.mailbox is not None
    user = quote(ctx.match.params["id"], safe="@.")
    return f"{ctx.request.base_url}/v1.0/$metadata#users('{user}'){suffix}"


def _collection(
    ctx: Context,
    items: list[EventCopy],
    context_suffix: str,
    opts: EventOptions | None = None,
) -> GraphResponse:
    """Filter, order, page and serialise a list of events. Only the page is rendered in
    the caller's shape; the filter and order see every candidate in UTC, as before."""
    q = ctx.request.query
    opts = opts or _event_options(ctx)
    flt = odata.option(q, "filter")
    orderby = odata.parse_orderby(odata.option(q, "orderby"))
    candidates = _narrowed_by_ical_uid(items, flt)
    if flt or orderby:
        utc_full = EventOptions(expand_extensions=opts.expand_extensions)
        rows: list[tuple[dict[str, Any], EventCopy]] = [
            (event_json(e, utc_full), e) for e in candidates
        ]
        if flt:
            pred = odata.parse_filter(flt)
            rows = [r for r in rows if pred(r[0])]
        if orderby:
            order = {id(r[0]): r for r in rows}
            rows = [order[id(j)] for j in odata.sort_items([r[0] for r in rows], orderby)]
        candidates = [e for _, e in rows]
    body = _page(ctx, candidates, _context_url(ctx, context_suffix), lambda e: event_json(e, opts))
    return GraphResponse(200, body, _preference_applied(ctx))


_ICAL_UID_EQ = re.compile(r"^\s*iCalUId\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def _narrowed_by_ical_uid(items: list[EventCopy], flt: str | None) -> list[EventCopy]:
    """``$filter=iCalUId eq '…'`` (how a client finds a meeting's copy) narrowed by each
    copy's iCalUId before anything is serialised: a look-up in a mailbox of thousands of
    events must not render them all (Graph answers it from an index). The full filter
    still runs on what is left, so the answer is the same; the narrowing compares
    case-insensitively, so it never drops a copy the filter would keep."""
    found = _ICAL_UID_EQ.match(flt or "")
    if found is None:
        return items
    wanted = found.group(1).replace("''", "'").casefold()
    return [e for e in items if e.ical_uid().casefold() == wanted]


def _page(
    ctx: Context,
    values: Sequence[Any],
    context: str,
    render: Callable[[Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    q = ctx.request.query
    prefer = _prefer(ctx)
    default = DEFAULT_TOP
    if "odata.maxpagesize" in prefer:
        try:
            default = max(1, int(prefer["odata.maxpagesize"]))
        except ValueError:
            pass
    top = odata.parse_int(odata.option(q, "top"), "$top", default, MAX_TOP) or default
    skip = odata.parse_int(odata.option(q, "skip"), "$skip", 0)
    chunk = values[skip : skip + top]
    page = [render(v) for v in chunk] if render else list(chunk)
    body: dict[str, Any] = {"@odata.context": context, "value": page}
    if skip + top < len(values):
        params = {k: v for k, v in q.items() if k.lstrip("$").lower() not in ("skip", "top")}
        params["$top"] = str(top)
        params["$skip"] = str(skip + top)
        query = urlencode(params, safe="$',()=:@/", quote_via=quote)
        body["@odata.nextLink"] = f"{_self_url(ctx)}?{query}"
    return body


def _one(ctx: Context, ev: EventCopy, status: int = 200) -> GraphResponse:
    body = event_json(ev, _event_options(ctx))
    body = {"@odata.context": _context_url(ctx, "/events/$entity"), **body}
    return GraphResponse(status, body, _preference_applied(ctx))


def _window(ctx: Context) -> tuple[Any, Any]:
    q = ctx.request.query
    ws = odata.parse_instant(odata.option(q, "startDateTime"), "startDateTime")
    we = odata.parse_instant(odata.option(q, "endDateTime"), "endDateTime")
    return ws, we


def _ci(body: Any, key: str) -> Any:
    if isinstance(body, dict):
        for k, v in body.items():
            if str(k).lower() == key.lower():
                return v
    return None


def _check_if_match(ctx: Context, ev: EventCopy) -> None:
    wanted = ctx.request.headers.get("if-match")
    if (
        wanted
        and wanted.strip() != "*"
        and wanted.strip() not in (etag(ev.change_key), ev.change_key)
    ):
        raise GraphError(
            412,
            "ErrorIrresolvableConflict",
            "The send or update operation could not be performed because the change key "
            "passed in the request does not match the current change key for the item.",
        )


# -- users and rooms -------------------------------------------------------------
async def list_users(ctx: Context) -> GraphResponse:
    assert ctx.request.claims is not None
    values = [
        user_json(m) for m in ctx.emulator.world.directory.mailboxes(ctx.request.claims.tenant_id)
    ]
    flt = odata.option(ctx.request.query, "filter")
    if flt:
        pred = odata.parse_filter(flt)
        values = [v for v in values if pred(v)]
    return GraphResponse(200, _page(ctx, values, f"{ctx.request.base_url}/v1.0/$metadata#users"))


async def get_user(ctx: Context) -> GraphResponse:
    assert ctx.mailbox is not None
    body = {"@odata.context": f"{ctx.request.base_url}/v1.0/$metadata#users/$entity"}
    body.update(user_json(ctx.mailbox))
    return GraphResponse(200, body)


async def get_calendar(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    return GraphResponse(
        200,
        {
            "@odata.context": _context_url(ctx, "/calendar/$entity"),
            "id": f"AAMkCal{mb.id.replace('-', '')}",
            "name": "Calendar",
            "color": "auto",
            "hexColor": "",
            "isDefaultCalendar": True,
            "changeKey": "calendar",
            "canShare": True,
            "canViewPrivateItems": True,
            "canEdit": True,
            "allowedOnlineMeetingProviders": ["teamsForBusiness"],
            "defaultOnlineMeetingProvider": "teamsForBusiness",
            "isTallyingResponses": True,
            "isRemovable": False,
            "owner": {"name": mb.display_name, "address": mb.address},
        },
    )


async def rooms(ctx: Context) -> GraphResponse:
    assert ctx.request.claims is not None
    values = [
        room_json(m) for m in ctx.emulator.world.directory.rooms(ctx.request.claims.tenant_id)
    ]
    values.sort(key=lambda r: str(r["emailAddress"]).lower())
    flt = odata.option(ctx.request.query, "filter")
    if flt:
        pred = odata.parse_filter(flt)
        values = [v for v in values if pred(v)]
    context = f"{ctx.request.base_url}/v1.0/$metadata#places/microsoft.graph.room"
    return GraphResponse(200, _page(ctx, values, context))


# -- events ----------------------------------------------------------------------
async def events(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    world = ctx.emulator.world
    if ctx.request.method == "POST":
        opts = _event_options(ctx)
        ev, _created = world.create_event(mb, ctx.request.body)
        body = {"@odata.context": _context_url(ctx, "/events/$entity"), **event_json(ev, opts)}
        return GraphResponse(201, body, _preference_applied(ctx))
    return _collection(ctx, world.list_roots(mb), "/events")


async def event(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    world = ctx.emulator.world
    event_id = ctx.match.params["eventId"]
    method = ctx.request.method
    if method == "GET":
        return _one(ctx, world.get_event(mb, event_id))
    _check_if_match(ctx, world.get_event(mb, event_id))
    if method == "PATCH":
        opts = _event_options(ctx)
        ev = world.update_event(mb, event_id, ctx.request.body)
        body = {"@odata.context": _context_url(ctx, "/events/$entity"), **event_json(ev, opts)}
        return GraphResponse(200, body, _preference_applied(ctx))
    world.delete_event(mb, event_id)
    return GraphResponse(204)


async def calendar_view(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    ws, we = _window(ctx)
    return _collection(ctx, ctx.emulator.world.calendar_view(mb, ws, we), "/calendarView")


async def instances(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    ws, we = _window(ctx)
    items = ctx.emulator.world.instances(mb, ctx.match.params["eventId"], ws, we)
    return _collection(ctx, items, f"/events('{ctx.match.params['eventId']}')/instances")


async def delta_handler(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    link_base = _self_url(ctx)
    if link_base.endswith("()"):
        link_base = link_base[:-2]
    body, headers = delta.handle(
        ctx.emulator.world,
        ctx.emulator.deltas,
        mb,
        ctx.request.query,
        _prefer(ctx),
        link_base,
    )
    return GraphResponse(200, body, headers)


async def action(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    world = ctx.emulator.world
    name = ctx.match.params["action"]
    event_id = ctx.match.params["eventId"]
    body = ctx.request.body if ctx.request.body is not None else {}
    if not isinstance(body, dict):
        raise bad_request("Empty Payload. JSON content expected.", "BadRequest")
    comment = _ci(body, "comment")
    if comment is not None and not isinstance(comment, str):
        raise bad_request("Comment must be a string.", "RequestBodyRead")
    if name == "cancel":
        world.cancel_event(mb, event_id, comment)
        return GraphResponse(202)
    send = _ci(body, "sendResponse")
    if send is None:
        send = True
    if not isinstance(send, bool):
        raise bad_request("SendResponse must be a boolean.", "RequestBodyRead")
    world.respond(mb, event_id, RESPONSES[name], comment, send)
    return GraphResponse(202)


# -- open extensions -------------------------------------------------------------
def _extension_context(ctx: Context, entity: bool) -> str:
    suffix = f"/events('{ctx.match.params['eventId']}')/extensions"
    return _context_url(ctx, suffix + ("/$entity" if entity else ""))


async def extensions(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    world = ctx.emulator.world
    event_id = ctx.match.params["eventId"]
    if ctx.request.method == "POST":
        ext = world.add_extension(mb, event_id, ctx.request.body)
        return GraphResponse(
            201, {"@odata.context": _extension_context(ctx, True), **extension_json(ext)}
        )
    ev = world.get_event(mb, event_id)
    values = [extension_json(x) for x in ev.extensions.values()]
    flt = odata.option(ctx.request.query, "filter")
    if flt:
        pred = odata.parse_filter(flt)
        values = [v for v in values if pred(v)]
    return GraphResponse(200, {"@odata.context": _extension_context(ctx, False), "value": values})


async def extension(ctx: Context) -> GraphResponse:
    mb = ctx.mailbox
    assert mb is not None
    world = ctx.emulator.world
    event_id = ctx.match.params["eventId"]
    ext_id = ctx.match.params["extensionId"]
    method = ctx.request.method
    if method == "GET":
        ext = world.find_extension(world.get_event(mb, event_id), ext_id)
        return GraphResponse(
            200, {"@odata.context": _extension_context(ctx, True), **extension_json(ext)}
        )
    if method == "PATCH":
        world.update_extension(mb, event_id, ext_id, ctx.request.body)
        return GraphResponse(204)
    world.delete_extension(mb, event_id, ext_id)
    return GraphResponse(204)


def handlers(batch: Handler) -> dict[str, Handler]:
    table: dict[str, Callable[[Context], Any]] = {
        "list_users": list_users,
        "get_user": get_user,
        "get_calendar": get_calendar,
        "rooms": rooms,
        "events": events,
        "event": event,
        "calendar_view": calendar_view,
        "instances": instances,
        "delta": delta_handler,
        "action": action,
        "extensions": extensions,
        "extension": extension,
        "subscriptions": subscription_api.subscriptions,
        "subscription": subscription_api.subscription,
        "reauthorize": subscription_api.reauthorize,
        "batch": batch,
    }
    return table
