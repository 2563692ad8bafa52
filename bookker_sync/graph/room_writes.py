"""Writes on a room's copy of an event, as $batch items: the room declines. (The
single-request form is on CalendarApi.)"""

from __future__ import annotations

from urllib.parse import quote

from bookker_sync.graph.batch import BatchItem
from bookker_sync.graph.graph_types import JsonObject


def decline_body(comment: str) -> JsonObject:
    """sendResponse: the organizer gets the room's answer with the reason."""
    return {"comment": comment, "sendResponse": True}


def decline_item(item_id: str, room: str, event_id: str, comment: str) -> BatchItem:
    return BatchItem(
        item_id, "POST", f"{_event_url(room, event_id)}/decline", decline_body(comment)
    )


def _event_url(mailbox: str, event_id: str) -> str:
    return f"/users/{mailbox}/events/{_segment(event_id)}"


def _segment(value: str) -> str:
    """An id as one URL path segment (ids may hold '/', '+', '=')."""
    return quote(value, safe="")
