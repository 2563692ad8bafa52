"""Graph change-notification subscriptions on room mailboxes' events.

Rules (Microsoft Graph docs: subscription resource, change notifications overview):
events subscriptions live at most 10,080 minutes, and a create or renew asking for more
is refused (400 ExtensionError), not capped, on Graph's clock; PATCH renews; a
lifecycleNotificationUrl can't be added by PATCH; a second identical subscription is a
409 duplicate; reauthorize has its own endpoint.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from kiota_abstractions.method import Method

from bookker_sync.graph.batch import BatchItem, BatchResult
from bookker_sync.graph.errors import GraphError, GraphNotFoundError
from bookker_sync.graph.graph_times import graph_instant, parse_instant
from bookker_sync.graph.graph_types import JsonObject, SubscriptionJson
from bookker_sync.graph.transport import GraphTransport, request

CHANGE_TYPES = "created,updated,deleted"
# Subscription calls are throttled per app per tenant, not per mailbox: one gate.
GATE = "subscriptions"
# learn.microsoft.com/graph/api/resources/subscription ("Subscription lifetime"):
# Outlook events without resource data live at most 10,080 minutes, and "requests to
# create or renew a subscription beyond the maximum value will fail". Graph judges
# that on its own clock, so we ask for less: the margin absorbs clock skew.
MAX_EVENTS_LIFETIME = timedelta(minutes=10_080)
LIFETIME_SAFETY_MARGIN = timedelta(minutes=60)
LONGEST_REQUEST = MAX_EVENTS_LIFETIME - LIFETIME_SAFETY_MARGIN


def capped_expiry(now: datetime, wanted: datetime) -> datetime:
    """The expiry to ask for: ``wanted``, at most ``LONGEST_REQUEST`` after ``now``."""
    return min(wanted, now + LONGEST_REQUEST)


@dataclass(frozen=True)
class RemoteSubscription:
    id: str
    resource: str
    expires_at: datetime
    raw: SubscriptionJson


def events_resource(mailbox: str) -> str:
    return f"/users/{mailbox}/events"


def _iso(moment: datetime) -> str:
    return graph_instant(moment)


def _renewal(expires_at: datetime) -> JsonObject:
    return {"expirationDateTime": _iso(expires_at)}


def renew_item(item_id: str, subscription_id: str, expires_at: datetime) -> BatchItem:
    """The renewal PATCH as a $batch item (send with gate GATE)."""
    return BatchItem(item_id, "PATCH", f"/subscriptions/{subscription_id}", _renewal(expires_at))


def granted_expiry(result: BatchResult) -> datetime | None:
    """The expiry Graph granted in a renewal's answer (it may shorten what we asked)."""
    return parse_instant(cast(SubscriptionJson, result.body or {}).get("expirationDateTime"))


def _parse(found: JsonObject) -> RemoteSubscription:
    data = cast(SubscriptionJson, found)
    expires = parse_instant(data.get("expirationDateTime"))
    if expires is None:
        raise GraphError(502, "BadResponse", "subscription without expirationDateTime")
    return RemoteSubscription(
        id=str(data["id"]), resource=str(data.get("resource", "")), expires_at=expires, raw=data
    )


class SubscriptionsApi:
    def __init__(self, transport: GraphTransport) -> None:
        self._t = transport
        self._subs = transport.client.subscriptions

    async def create(
        self,
        mailbox: str,
        *,
        notification_url: str,
        lifecycle_url: str,
        client_state: str,
        expires_at: datetime,
    ) -> RemoteSubscription:
        info = request(Method.POST, self._subs.url_template, self._subs.path_parameters)
        body = {
            "changeType": CHANGE_TYPES,
            "notificationUrl": notification_url,
            "lifecycleNotificationUrl": lifecycle_url,
            "resource": events_resource(mailbox),
            "expirationDateTime": _iso(expires_at),
            "clientState": client_state,
        }
        created = await self._t.send(GATE, info, body)
        if created is None:
            raise GraphError(502, "EmptyResponse", "subscription creation returned no body")
        return _parse(created)

    async def renew(self, subscription_id: str, expires_at: datetime) -> RemoteSubscription:
        rb = self._subs.by_subscription_id(subscription_id)
        info = request(Method.PATCH, rb.url_template, rb.path_parameters)
        renewed = await self._t.send(GATE, info, _renewal(expires_at))
        if renewed is None:
            raise GraphError(502, "EmptyResponse", "subscription renewal returned no body")
        return _parse(renewed)

    async def reauthorize(self, subscription_id: str) -> None:
        rb = self._subs.by_subscription_id(subscription_id).reauthorize
        info = request(Method.POST, rb.url_template, rb.path_parameters)
        await self._t.send(GATE, info)

    async def delete(self, subscription_id: str) -> None:
        rb = self._subs.by_subscription_id(subscription_id)
        try:
            await self._t.send(GATE, rb.to_delete_request_information())
        except GraphNotFoundError:
            return

    async def get(self, subscription_id: str) -> RemoteSubscription | None:
        rb = self._subs.by_subscription_id(subscription_id)
        try:
            found = await self._t.send(GATE, rb.to_get_request_information())
        except GraphNotFoundError:
            return None
        return _parse(found) if found else None

    async def list_all(self) -> list[RemoteSubscription]:
        info = self._subs.to_get_request_information()
        page = await self._t.send(GATE, info) or {}
        out = [_parse(s) for s in page.get("value") or []]
        while page.get("@odata.nextLink"):
            info = self._subs.with_url(page["@odata.nextLink"]).to_get_request_information()
            page = await self._t.send(GATE, info) or {}
            out.extend(_parse(s) for s in page.get("value") or [])
        return out
