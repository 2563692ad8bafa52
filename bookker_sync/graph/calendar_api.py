"""Calendar operations on one tenant's mailboxes (events, responses, extensions, delta).

URLs come from msgraph-sdk request builders (the shapes the SDK really sends). Events
come back as GraphEvent: typed accessors over the whole JSON (kept for full fidelity).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_abstractions.method import Method
from msgraph.generated.users.item.calendar_view.calendar_view_request_builder import (
    CalendarViewRequestBuilder,
)
from msgraph.generated.users.item.calendar_view.delta.delta_request_builder import (
    DeltaRequestBuilder,
)
from msgraph.generated.users.item.events.events_request_builder import EventsRequestBuilder
from msgraph.generated.users.item.events.item.event_item_request_builder import (
    EventItemRequestBuilder,
)
from msgraph.generated.users.item.events.item.instances.instances_request_builder import (
    InstancesRequestBuilder,
)

from bookker_sync.graph.errors import GraphError, GraphNotFoundError
from bookker_sync.graph.event_json import EXTENSION_ID
from bookker_sync.graph.graph_types import GraphEvent, JsonObject
from bookker_sync.graph.room_writes import decline_body
from bookker_sync.graph.transport import GraphTransport, request

# Times in UTC; ids stable within a mailbox (Graph docs: Prefer IdType="ImmutableId").
PREFER = 'outlook.timezone="UTC", IdType="ImmutableId"'
EXPAND_OURS = f"extensions($filter=id eq '{EXTENSION_ID}')"


@dataclass(frozen=True)
class DeltaPage:
    items: list[GraphEvent]
    next_link: str | None
    delta_link: str | None


class CalendarApi:
    def __init__(self, transport: GraphTransport) -> None:
        self._t = transport
        self._users = transport.client.users

    @property
    def transport(self) -> GraphTransport:
        return self._t

    async def mailbox_exists(self, mailbox: str) -> bool:
        """Whether the directory has this mailbox: ``GET /users/{id}/calendar``, which
        needs only the calendar permission the app already holds (``GET /users/{id}``
        would need User.Read.All). Graph answers 404 ``ErrorInvalidUser`` for an address
        no mailbox has (calendar-get, learn.microsoft.com/graph/api/calendar-get)."""
        rb = self._users.by_user_id(mailbox).calendar
        try:
            await self._t.send(mailbox, rb.to_get_request_information())
        except GraphNotFoundError:
            return False
        return True

    # -- events --------------------------------------------------------------------
    async def create_event(self, mailbox: str, body: JsonObject) -> GraphEvent:
        """POST an event. A retried POST with the same transactionId returns the same event."""
        rb = self._users.by_user_id(mailbox).events
        info = request(Method.POST, rb.url_template, rb.path_parameters)
        created = await self._t.send(mailbox, info, body, {"Prefer": PREFER})
        if created is None:
            raise GraphError(502, "EmptyResponse", "event creation returned no body")
        return GraphEvent(created)

    async def get_event(self, mailbox: str, event_id: str) -> GraphEvent | None:
        rb = self._users.by_user_id(mailbox).events.by_event_id(event_id)
        query = EventItemRequestBuilder.EventItemRequestBuilderGetQueryParameters(
            expand=[EXPAND_OURS]
        )
        info = rb.to_get_request_information(RequestConfiguration(query_parameters=query))
        try:
            found = await self._t.send(mailbox, info, headers={"Prefer": PREFER})
        except GraphNotFoundError:
            return None
        return GraphEvent(found) if found is not None else None

    async def find_by_ical_uid(self, mailbox: str, ical_uid: str) -> GraphEvent | None:
        """The mailbox's copy of an event (or occurrence) by its iCalUId."""
        escaped = ical_uid.replace("'", "''")
        query = EventsRequestBuilder.EventsRequestBuilderGetQueryParameters(
            filter=f"iCalUId eq '{escaped}'", top=2, expand=[EXPAND_OURS]
        )
        rb = self._users.by_user_id(mailbox).events
        info = rb.to_get_request_information(RequestConfiguration(query_parameters=query))
        page = await self._t.send(mailbox, info, headers={"Prefer": PREFER}) or {}
        found = page.get("value") or []
        return GraphEvent(found[0]) if found else None

    async def update_event(
        self, mailbox: str, event_id: str, patch: JsonObject, *, if_match: str | None = None
    ) -> GraphEvent | None:
        """PATCH; the updated event, or None if Graph answered without a body.

        ``if_match``: the changeKey the caller judged. If the event changed since,
        GraphChangedError (412) and nothing is written."""
        rb = self._users.by_user_id(mailbox).events.by_event_id(event_id)
        info = request(Method.PATCH, rb.url_template, rb.path_parameters)
        updated = await self._t.send(mailbox, info, patch, _headers(if_match))
        return GraphEvent(updated) if updated else None

    async def delete_event(
        self, mailbox: str, event_id: str, *, if_match: str | None = None
    ) -> None:
        """Delete; already gone counts as done (idempotent). ``if_match`` as above."""
        rb = self._users.by_user_id(mailbox).events.by_event_id(event_id)
        info = rb.to_delete_request_information()
        try:
            await self._t.send(mailbox, info, headers=_conditional(if_match))
        except GraphNotFoundError:
            return

    async def cancel_event(
        self, mailbox: str, event_id: str, comment: str, *, if_match: str | None = None
    ) -> None:
        """Organizer cancels a meeting: attendees (the room) get the cancellation.
        ``if_match`` as above."""
        rb = self._users.by_user_id(mailbox).events.by_event_id(event_id).cancel
        info = request(Method.POST, rb.url_template, rb.path_parameters)
        try:
            await self._t.send(mailbox, info, {"comment": comment}, _conditional(if_match))
        except GraphNotFoundError:
            return

    async def decline_event(self, mailbox: str, event_id: str, comment: str) -> None:
        """Attendee (the room) declines with a reason; a copy already gone, or cancelled
        by its organizer (Exchange keeps cancelled copies on room calendars and refuses
        responses to them with a 400), counts as done."""
        rb = self._users.by_user_id(mailbox).events.by_event_id(event_id).decline
        info = request(Method.POST, rb.url_template, rb.path_parameters)
        try:
            await self._t.send(mailbox, info, decline_body(comment))
        except GraphNotFoundError:
            return
        except GraphError as exc:
            if exc.status != 400:
                raise
            current = await self.get_event(mailbox, event_id)
            if current is not None and not current.is_cancelled:
                raise

    async def find_by_transaction_id(
        self, mailbox: str, transaction_id: str, start: datetime, end: datetime
    ) -> GraphEvent | None:
        """The event (a series' master) created with ``transaction_id``, looked for in
        the mailbox's calendarView over [start, end]: single events carry their
        transactionId; occurrences lead to their master, read once each."""
        rb = self._users.by_user_id(mailbox).calendar_view
        query = CalendarViewRequestBuilder.CalendarViewRequestBuilderGetQueryParameters(
            start_date_time=start.isoformat(), end_date_time=end.isoformat(), top=100
        )
        info = rb.to_get_request_information(RequestConfiguration(query_parameters=query))
        masters: set[str] = set()
        while True:
            page = await self._t.send(mailbox, info, headers={"Prefer": PREFER}) or {}
            for event in (GraphEvent(e) for e in page.get("value") or []):
                if event.fields.get("transactionId") == transaction_id:
                    return event
                master = event.series_master_id
                if master and master not in masters:
                    masters.add(master)
                    found = await self.get_event(mailbox, master)
                    if found is not None and found.fields.get("transactionId") == transaction_id:
                        return found
            link = page.get("@odata.nextLink")
            if not link:
                return None
            info = rb.with_url(link).to_get_request_information()

    async def instances(
        self, mailbox: str, series_id: str, start: datetime, end: datetime
    ) -> list[GraphEvent]:
        rb = self._users.by_user_id(mailbox).events.by_event_id(series_id).instances
        query = InstancesRequestBuilder.InstancesRequestBuilderGetQueryParameters(
            start_date_time=start.isoformat(), end_date_time=end.isoformat(), top=500
        )
        info = rb.to_get_request_information(RequestConfiguration(query_parameters=query))
        found: list[GraphEvent] = []
        page = await self._t.send(mailbox, info, headers={"Prefer": PREFER}) or {}
        found.extend(GraphEvent(e) for e in page.get("value") or [])
        while page.get("@odata.nextLink"):
            next_info = rb.with_url(page["@odata.nextLink"]).to_get_request_information()
            page = await self._t.send(mailbox, next_info, headers={"Prefer": PREFER}) or {}
            found.extend(GraphEvent(e) for e in page.get("value") or [])
        return found

    # -- delta ---------------------------------------------------------------------
    async def delta_page(
        self,
        mailbox: str,
        *,
        link: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        page_size: int = 50,
    ) -> DeltaPage:
        """One page of calendarView delta: from a stored next/delta link, or a fresh window."""
        rb = self._users.by_user_id(mailbox).calendar_view.delta
        if link:
            info = rb.with_url(link).to_get_request_information()
        else:
            if start is None or end is None:
                raise ValueError("a fresh delta needs start and end")
            query = DeltaRequestBuilder.DeltaRequestBuilderGetQueryParameters(
                start_date_time=start.isoformat(), end_date_time=end.isoformat()
            )
            info = rb.to_get_request_information(RequestConfiguration(query_parameters=query))
        prefer = f"{PREFER}, odata.maxpagesize={page_size}"
        page = await self._t.send(mailbox, info, headers={"Prefer": prefer}) or {}
        return DeltaPage(
            items=[GraphEvent(item) for item in page.get("value") or []],
            next_link=page.get("@odata.nextLink"),
            delta_link=page.get("@odata.deltaLink"),
        )

    async def delta_all(
        self, mailbox: str, *, link: str | None, start: datetime, end: datetime
    ) -> AsyncIterator[DeltaPage]:
        page = await self.delta_page(mailbox, link=link, start=start, end=end)
        yield page
        while page.next_link:
            page = await self.delta_page(mailbox, link=page.next_link)
            yield page


def _conditional(change_key: str | None) -> dict[str, str]:
    """If-Match on the version a decision was made on: Graph refuses the write (412)
    when the event changed since. The ETag of an event is W/"<changeKey>"."""
    return {"If-Match": f'W/"{change_key}"'} if change_key else {}


def _headers(if_match: str | None) -> dict[str, str]:
    return {"Prefer": PREFER, **_conditional(if_match)}
