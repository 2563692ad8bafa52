"""The unauthenticated JSON control API under ``/_emulator``.

Tests and the demo drive the world through it; everything a user would do in Outlook
goes through the ordinary Graph API. Errors are ``{"error": {"code", "message"}}``.

- ``POST /_emulator/notifications/flush``: runs what is due on the virtual clock,
  delivers every notification due now and waits for the receivers' answers (and for
  deliveries the background pump had already started). Answers the counts of this
  flush: ``sent``, ``failed``, ``retried``, ``dropped``, ``duplicated``, ``posts``, and
  ``pending`` / ``nextDue`` (virtual) for what is queued for later.
- ``POST /_emulator/subscriptions/{id}/lifecycle {lifecycleEvent}``: queues a lifecycle
  notification (any string; ``subscriptionRemoved`` also deletes the subscription) for
  the lifecycleNotificationUrl, else the notificationUrl; delivered like the others.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .control_identity import parse_certificates
from .directory import RoomPolicy
from .errors import GraphError
from .faults import Faults
from .lost_answers import AnswerRule
from .state import Emulator
from .subscriptions import Subscription, new_id


def _error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


async def _json(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        return {}
    return json.loads(raw)


class ControlApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/_emulator/reset", self.reset),
            web.get("/_emulator/tenants", self.list_tenants),
            web.post("/_emulator/tenants", self.add_tenant),
            web.get("/_emulator/mailboxes", self.list_mailboxes),
            web.post("/_emulator/mailboxes", self.add_mailbox),
            web.get("/_emulator/clock", self.get_clock),
            web.post("/_emulator/clock", self.set_clock),
            web.get("/_emulator/faults", self.get_faults),
            web.put("/_emulator/faults", self.put_faults),
            web.get("/_emulator/faults/next", self.get_next_faults),
            web.post("/_emulator/faults/next", self.add_next_fault),
            web.delete("/_emulator/faults/next", self.clear_next_faults),
            web.get("/_emulator/freeze", self.get_freeze),
            web.post("/_emulator/freeze", self.freeze),
            web.post("/_emulator/notifications/flush", self.flush),
            web.post("/_emulator/subscriptions/{id}/lifecycle", self.lifecycle),
            web.post("/_emulator/bulk/mailboxes", self.bulk_mailboxes),
            web.post("/_emulator/bulk/subscriptions", self.bulk_subscriptions),
            web.post("/_emulator/bulk/events", self.bulk_events),
            web.post("/_emulator/delta/evict", self.evict),
            web.get("/_emulator/stats", self.get_stats),
            web.delete("/_emulator/stats", self.clear_stats),
        ]

    async def reset(self, request: web.Request) -> web.Response:
        self.emu.reset()
        return web.json_response({"status": "reset", "now": self.emu.clock.now().isoformat()})

    async def list_tenants(self, request: web.Request) -> web.Response:
        tenants = [
            {"tenantId": t.tenant_id, "clientIds": sorted(t.apps)}
            for t in self.emu.world.directory.tenants.values()
        ]
        return web.json_response({"value": tenants})

    async def add_tenant(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        fields = ("tenantId", "clientId")
        if not isinstance(body, dict) or not all(
            isinstance(body.get(f), str) and body.get(f) for f in fields
        ):
            return _error(400, "badRequest", "tenantId, clientId and clientSecret are required")
        secret = body.get("clientSecret")
        try:
            certificates = parse_certificates(body.get("certificates", []))
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        if not (isinstance(secret, str) and secret) and (secret is not None or not certificates):
            return _error(
                400, "badRequest", "clientSecret (or certificates: [PEM, ...]) is required"
            )
        lifetime = body.get("tokenLifetimeSeconds")
        if lifetime is not None and (
            isinstance(lifetime, bool) or not isinstance(lifetime, int) or lifetime < 1
        ):
            return _error(400, "badRequest", "tokenLifetimeSeconds must be a positive integer")
        tenant, created = self.emu.world.directory.add_tenant(
            body["tenantId"], body["clientId"], secret, lifetime
        )
        tenant.apps[body["clientId"]].certificates.extend(certificates)
        return web.json_response(
            {"tenantId": tenant.tenant_id, "clientIds": sorted(tenant.apps)},
            status=201 if created else 200,
        )

    async def list_mailboxes(self, request: web.Request) -> web.Response:
        tenant = request.query.get("tenantId")
        return web.json_response(
            {"value": [m.to_json() for m in self.emu.world.directory.mailboxes(tenant)]}
        )

    async def add_mailbox(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "badRequest", "body must be a JSON object")
        tenant_id, address = body.get("tenantId"), body.get("address")
        display, kind = body.get("displayName"), body.get("kind", "user")
        if not isinstance(tenant_id, str) or not isinstance(address, str) or "@" not in address:
            return _error(400, "badRequest", "tenantId and an email address are required")
        if kind not in ("user", "room"):
            return _error(400, "badRequest", "kind must be 'user' or 'room'")
        if display is None:
            display = address.split("@")[0]
        if not isinstance(display, str):
            return _error(400, "badRequest", "displayName must be a string")
        capacity = body.get("capacity")
        if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)):
            return _error(400, "badRequest", "capacity must be an integer")
        if tenant_id not in self.emu.world.directory.tenants:
            return _error(404, "notFound", f"unknown tenant {tenant_id}")
        try:
            policy = RoomPolicy.from_json(body.get("policy"))
            mailbox, created = self.emu.world.directory.add_mailbox(
                tenant_id, address, display, kind, policy, capacity
            )
        except ValueError as exc:
            status = 409 if "belongs to" in str(exc) else 400
            return _error(status, "conflict" if status == 409 else "badRequest", str(exc))
        return web.json_response(mailbox.to_json(), status=201 if created else 200)

    async def bulk_mailboxes(self, request: web.Request) -> web.Response:
        """Benchmarks: many mailboxes in one call ``{tenantId, kind, addresses: [...]}``."""
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("addresses"), list):
            return _error(400, "badRequest", "body needs tenantId, kind and addresses")
        tenant_id, kind = body.get("tenantId"), body.get("kind", "room")
        if tenant_id not in self.emu.world.directory.tenants or kind not in ("user", "room"):
            return _error(400, "badRequest", "unknown tenant or kind")
        for address in body["addresses"]:
            if not isinstance(address, str) or "@" not in address:
                return _error(400, "badRequest", f"not an address: {address!r}")
            self.emu.world.directory.add_mailbox(
                tenant_id, address, address.split("@")[0], kind, RoomPolicy.from_json(None), None
            )
        return web.json_response({"created": len(body["addresses"])}, status=201)

    async def bulk_subscriptions(self, request: web.Request) -> web.Response:
        """Benchmarks: subscriptions as if created earlier (no handshake, no rate limit):
        ``{tenantId, clientId, notificationUrl, lifecycleNotificationUrl, items:
        [{mailbox, clientState, expirationDateTime}]}`` → ``{"value": [{id, mailbox}]}``."""
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return _error(400, "badRequest", "body needs tenantId, clientId, urls and items")
        tenant, client = str(body.get("tenantId")), str(body.get("clientId"))
        out = []
        for item in body["items"]:
            mailbox = self.emu.world.directory.resolve(str(item.get("mailbox")))
            if mailbox is None or mailbox.tenant_id != tenant:
                return _error(404, "notFound", f"unknown mailbox {item.get('mailbox')!r}")
            expires = datetime.fromisoformat(str(item["expirationDateTime"]).replace("Z", "+00:00"))
            sub = Subscription(
                id=new_id(), tenant_id=tenant, client_id=client, creator_id=client,
                mailbox=mailbox.key, mailbox_id=mailbox.id,
                resource=f"/users/{mailbox.key}/events", change_type="created,updated,deleted",
                change_types=frozenset({"created", "updated", "deleted"}),
                notification_url=str(body.get("notificationUrl")),
                lifecycle_url=body.get("lifecycleNotificationUrl"),
                client_state=item.get("clientState"), expires=expires,
            )  # fmt: skip
            self.emu.notifier.authorized(sub)
            self.emu.notifier.store.add(sub)
            out.append({"id": sub.id, "mailbox": mailbox.key})
        return web.json_response({"value": out}, status=201)

    async def bulk_events(self, request: web.Request) -> web.Response:
        """Benchmarks: events the mailbox organizes itself, as if made earlier:
        ``{mailbox, items: [event bodies as for POST /users/{id}/events]}`` → ``{created}``.
        They are changes like any other: a subscription on the mailbox hears of them."""
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return _error(400, "badRequest", "body needs mailbox and items")
        mailbox = self.emu.world.directory.resolve(str(body.get("mailbox")))
        if mailbox is None:
            return _error(404, "notFound", f"unknown mailbox {body.get('mailbox')!r}")
        world = self.emu.world
        for item in body["items"]:
            try:
                world.create_event(mailbox, item)
            except GraphError as exc:
                return _error(400, "badRequest", exc.message)
        world.pump()
        return web.json_response({"created": len(body["items"])}, status=201)

    async def get_clock(self, request: web.Request) -> web.Response:
        return web.json_response({"now": self.emu.clock.now().isoformat()})

    async def set_clock(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        if not isinstance(body, dict):
            return _error(400, "badRequest", "body must be a JSON object")
        if "advanceSeconds" in body:
            secs = body["advanceSeconds"]
            if isinstance(secs, bool) or not isinstance(secs, int | float):
                return _error(400, "badRequest", "advanceSeconds must be a number")
            self.emu.clock.advance(float(secs))
        elif "set" in body:
            try:
                text = str(body["set"])
                when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            except ValueError:
                return _error(400, "badRequest", "set must be an ISO 8601 date-time")
            self.emu.clock.set(when)
        else:
            return _error(400, "badRequest", "give advanceSeconds or set")
        self.emu.tick()
        return web.json_response({"now": self.emu.clock.now().isoformat()})

    async def get_faults(self, request: web.Request) -> web.Response:
        return web.json_response(self.emu.faults.to_json())

    async def put_faults(self, request: web.Request) -> web.Response:
        try:
            faults = Faults.from_json(await _json(request))
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        self.emu.set_faults(faults)
        return web.json_response(faults.to_json())

    async def get_next_faults(self, request: web.Request) -> web.Response:
        return web.json_response({"value": [r.to_json() for r in self.emu.answer_rules.rules]})

    async def add_next_fault(self, request: web.Request) -> web.Response:
        try:
            rule = AnswerRule.from_json(await _json(request))
        except ValueError as exc:
            return _error(400, "badRequest", str(exc))
        self.emu.answer_rules.rules.append(rule)
        return web.json_response(rule.to_json(), status=201)

    async def clear_next_faults(self, request: web.Request) -> web.Response:
        self.emu.answer_rules.reset()
        return web.json_response({"value": []})

    def _freeze_json(self) -> dict[str, Any]:
        until = self.emu.freezer.frozen_until
        return {
            "frozen": until is not None,
            "frozenUntil": None
            if until is None
            else datetime.fromtimestamp(until, UTC).isoformat(),
            "held": self.emu.freezer.held(),
        }

    async def get_freeze(self, request: web.Request) -> web.Response:
        return web.json_response(self._freeze_json())

    async def freeze(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        seconds = body.get("seconds") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            return _error(400, "badRequest", "seconds (a non-negative number) is required")
        self.emu.freezer.freeze(float(seconds))
        return web.json_response(self._freeze_json())

    async def flush(self, request: web.Request) -> web.Response:
        return web.json_response(await self.emu.notifier.flush(self.emu.tick))

    async def lifecycle(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        event = body.get("lifecycleEvent") if isinstance(body, dict) else None
        if not isinstance(event, str) or not event:
            return _error(400, "badRequest", "lifecycleEvent (a string) is required")
        notifier = self.emu.notifier
        notifier.store.expire(self.emu.clock.now())
        sub = notifier.store.get(request.match_info["id"])
        if sub is None:
            return _error(404, "notFound", f"no subscription {request.match_info['id']}")
        url = notifier.lifecycle(sub, event)
        removed = event == "subscriptionRemoved"
        if removed:
            notifier.store.delete(sub.id)
        self.emu.tick()
        return web.json_response(
            {"subscriptionId": sub.id, "lifecycleEvent": event, "url": url, "removed": removed},
            status=202,
        )

    async def evict(self, request: web.Request) -> web.Response:
        try:
            body = await _json(request)
        except ValueError:
            return _error(400, "badRequest", "body must be JSON")
        mailbox = body.get("mailbox") if isinstance(body, dict) else None
        if mailbox is not None:
            mb = self.emu.world.directory.resolve(str(mailbox))
            key = mb.key if mb is not None else str(mailbox).lower()
            return web.json_response({"evicted": self.emu.deltas.evict(key)})
        return web.json_response({"evicted": self.emu.deltas.evict(None)})

    async def get_stats(self, request: web.Request) -> web.Response:
        return web.json_response(self.emu.stats.to_json())

    async def clear_stats(self, request: web.Request) -> web.Response:
        self.emu.stats.reset()
        return web.json_response(self.emu.stats.to_json())
