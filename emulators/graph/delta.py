"""``GET /users/{id}/calendarView/delta``: state tokens, paging, incremental rounds.

Behaviour (learn.microsoft.com/graph/delta-query-events, …/api/event-delta):

- The first request carries ``startDateTime``/``endDateTime``; the window is encoded in
  the state token, later requests only follow ``@odata.nextLink`` (``$skiptoken``)
  and finally get ``@odata.deltaLink`` (``$deltatoken``).
- Pages hold at most ``Prefer: odata.maxpagesize`` items (answered with
  ``Preference-Applied``); the default is 10.
- Items are single instances, occurrences and exceptions, never series masters.
- A round started from a delta link returns only what changed since that link was
  issued: created/updated items in full, deleted ones and ones that moved out of
  the window as ``{"id", "@removed": {"reason": "deleted"}}``.
- Changes are found through the world's change log: only the stored items (single
  events, series masters) the log mentions since the token's sequence number are
  re-expanded and compared, by changeKey, with what the token last delivered.
- Tokens can be evicted (``POST /_emulator/delta/evict``), and old ones fall out
  after ``MAX_STATES_PER_MAILBOX`` rounds; either way → 410 ``SyncStateNotFound``.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .directory import Mailbox
from .errors import GraphError
from .model import EventCopy
from .odata import option, parse_instant
from .serialize import EventOptions, event_json
from .world import World

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 1000
MAX_STATES_PER_MAILBOX = 500

Snapshot = dict[str, tuple[str, str]]  # item id → (root id, changeKey)


@dataclass
class DeltaState:
    mailbox: str
    window: tuple[datetime, datetime]
    seq: int
    snapshot: Snapshot
    tz: str


@dataclass
class PageState:
    mailbox: str
    items: list[dict[str, Any]]
    offset: int
    page_size: int
    final: DeltaState


class DeltaStore:
    """State tokens per mailbox, oldest first (bounded, like Exchange's sync states)."""

    def __init__(self) -> None:
        self._by_mailbox: dict[str, OrderedDict[str, DeltaState | PageState]] = {}

    def reset(self) -> None:
        self._by_mailbox.clear()

    def evict(self, mailbox: str | None = None) -> int:
        if mailbox is None:
            count = sum(len(v) for v in self._by_mailbox.values())
            self._by_mailbox.clear()
            return count
        gone = self._by_mailbox.pop(mailbox.lower(), None)
        return len(gone) if gone else 0

    def put(self, state: DeltaState | PageState) -> str:
        token = secrets.token_urlsafe(24)
        states = self._by_mailbox.setdefault(state.mailbox, OrderedDict())
        states[token] = state
        while len(states) > MAX_STATES_PER_MAILBOX:
            states.popitem(last=False)
        return token

    def get(self, token: str, mailbox: str) -> DeltaState | PageState:
        state = self._by_mailbox.get(mailbox, OrderedDict()).get(token)
        if state is None:
            raise sync_state_not_found()
        return state

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_mailbox.values())


def sync_state_not_found() -> GraphError:
    return GraphError(
        410,
        "SyncStateNotFound",
        "The sync state generation is not found. Restart the synchronization "
        "without a state token.",
    )


def _removed(event_id: str) -> dict[str, Any]:
    return {
        "@odata.type": "#microsoft.graph.event",
        "id": event_id,
        "@removed": {"reason": "deleted"},
    }


def _initial(
    world: World, mb: Mailbox, ws: datetime, we: datetime, tz: str
) -> tuple[list[dict[str, Any]], DeltaState]:
    items = world.calendar(mb).view(ws, we)
    opts = EventOptions(tz=tz)
    snapshot: Snapshot = {e.id: (e.root_id, e.change_key) for e in items}
    state = DeltaState(mb.key, (ws, we), world.changes.last_seq, snapshot, tz)
    return [event_json(e, opts) for e in items], state


def _incremental(
    world: World, mb: Mailbox, prev: DeltaState
) -> tuple[list[dict[str, Any]], DeltaState]:
    changes = world.changes.since(mb.key, prev.seq)
    seq = world.changes.last_seq
    if not changes:
        return [], DeltaState(mb.key, prev.window, seq, prev.snapshot, prev.tz)
    ws, we = prev.window
    cal = world.calendar(mb)
    by_root: dict[str, set[str]] = {}
    for item_id, (root, _ck) in prev.snapshot.items():
        by_root.setdefault(root, set()).add(item_id)
    snapshot = dict(prev.snapshot)
    changed: list[EventCopy] = []
    removed: list[str] = []
    for root_id in dict.fromkeys(c.root_id for c in changes):
        stored = cal.events.get(root_id)
        current = cal.items_of_root(stored, ws, we) if stored is not None else []
        seen: set[str] = set()
        for item in current:
            seen.add(item.id)
            known = snapshot.get(item.id)
            if known is None or known[1] != item.change_key:
                changed.append(item)
                snapshot[item.id] = (item.root_id, item.change_key)
        for gone in sorted(by_root.get(root_id, set()) - seen):
            removed.append(gone)
            snapshot.pop(gone, None)
    changed.sort(key=lambda e: (e.start, e.id))
    opts = EventOptions(tz=prev.tz)
    out = [event_json(e, opts) for e in changed] + [_removed(i) for i in removed]
    return out, DeltaState(mb.key, prev.window, seq, snapshot, prev.tz)


def handle(
    world: World,
    store: DeltaStore,
    mb: Mailbox,
    query: dict[str, str],
    prefer: dict[str, str],
    link_base: str,
) -> tuple[dict[str, Any], dict[str, str]]:
    """One delta request → (JSON body, extra headers)."""
    headers: dict[str, str] = {}
    page_size: int | None = None
    if "odata.maxpagesize" in prefer:
        try:
            page_size = max(1, min(MAX_PAGE_SIZE, int(prefer["odata.maxpagesize"])))
            headers["Preference-Applied"] = f"odata.maxpagesize={page_size}"
        except ValueError:
            page_size = None
    tz = prefer.get("outlook.timezone") or "UTC"

    skip = option(query, "skiptoken")
    delta = option(query, "deltatoken")
    if skip is not None:
        state = store.get(skip, mb.key)
        if not isinstance(state, PageState):
            raise sync_state_not_found()
        page = PageState(
            state.mailbox, state.items, state.offset, page_size or state.page_size, state.final
        )
    else:
        if delta is not None:
            prev = store.get(delta, mb.key)
            if not isinstance(prev, DeltaState):
                raise sync_state_not_found()
            items, final = _incremental(world, mb, prev)
        else:
            ws = parse_instant(option(query, "startDateTime"), "startDateTime")
            we = parse_instant(option(query, "endDateTime"), "endDateTime")
            items, final = _initial(world, mb, ws, we, tz)
        page = PageState(mb.key, items, 0, page_size or DEFAULT_PAGE_SIZE, final)

    chunk = page.items[page.offset : page.offset + page.page_size]
    rest = page.offset + len(chunk)
    body: dict[str, Any] = {"@odata.context": _context(link_base), "value": chunk}
    if rest < len(page.items):
        token = store.put(PageState(page.mailbox, page.items, rest, page.page_size, page.final))
        body["@odata.nextLink"] = f"{link_base}?$skiptoken={token}"
    else:
        token = store.put(page.final)
        body["@odata.deltaLink"] = f"{link_base}?$deltatoken={token}"
    return body, headers


def _context(link_base: str) -> str:
    root = link_base.split("/v1.0/")[0]
    return f"{root}/v1.0/$metadata#Collection(event)"
