"""Room resources of a tenant (``GET /places/microsoft.graph.room``), for onboarding.

The URL comes from the SDK's request builder (``client.places.graph_room``, which the
SDK sends as ``/places/graph.room``, the namespace alias Graph accepts); pages are
followed through ``@odata.nextLink``. Needs Place.Read.All.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.places.graph_room.graph_room_request_builder import (
    GraphRoomRequestBuilder,
)

from bookker_sync.domain.addresses import Mailbox
from bookker_sync.graph.transport import GraphTransport

# Places calls are throttled per app per tenant, not per mailbox: one gate.
GATE = "places"
PAGE_SIZE = 100
MAX_PAGES = 200


@dataclass(frozen=True)
class Room:
    email: str
    display_name: str
    capacity: int | None
    raw: dict[str, Any]


def _room(data: dict[str, Any]) -> Room | None:
    email = Mailbox.parse(str(data.get("emailAddress") or "").strip())
    if email is None:
        return None
    capacity = data.get("capacity")
    return Room(
        email=email,
        display_name=str(data.get("displayName") or email.split("@", 1)[0]),
        capacity=capacity if isinstance(capacity, int) and capacity >= 0 else None,
        raw=data,
    )


class PlacesApi:
    def __init__(self, transport: GraphTransport) -> None:
        self._t = transport
        self._rooms = transport.client.places.graph_room

    async def rooms(self) -> list[Room]:
        """Every room mailbox of the tenant, sorted by address."""
        query = GraphRoomRequestBuilder.GraphRoomRequestBuilderGetQueryParameters(top=PAGE_SIZE)
        info = self._rooms.to_get_request_information(RequestConfiguration(query_parameters=query))
        found: list[Room] = []
        page = await self._t.send(GATE, info) or {}
        for _ in range(MAX_PAGES):
            found.extend(r for r in map(_room, page.get("value") or []) if r is not None)
            next_link = page.get("@odata.nextLink")
            if not next_link:
                break
            info = self._rooms.with_url(next_link).to_get_request_information()
            page = await self._t.send(GATE, info) or {}
        unique = {r.email: r for r in found}
        return sorted(unique.values(), key=lambda r: r.email)
