"""Handlers of ``/subscriptions``: create, list, get, renew (PATCH), delete, reauthorize.

Tenant-scoped by the app token: an app sees and manages only the subscriptions it
created in the token's tenant (others are 404). Create, update and delete share one
budget of ``subscriptionWritesPer20Seconds`` (500) per app per tenant, reauthorize has
its own ``subscriptionReauthorizationsPer20Seconds`` (1,000), both in real seconds
(learn.microsoft.com/graph/throttling-limits#subscription-service-limits); inner
requests of a ``$batch`` count too. Over the limit: 429 with ``Retry-After``.

Answers as documented: POST → 201 and the subscription; PATCH → 200 and the
subscription (learn.microsoft.com/graph/api/subscription-update); DELETE → 204;
reauthorize → 204 (learn.microsoft.com/graph/api/subscription-reauthorize).
"""

from __future__ import annotations

import uuid
from typing import Any

from . import subscriptions as subs
from .dispatch import Context, GraphResponse
from .errors import GraphError


def _app(ctx: Context) -> tuple[str, str]:
    claims = ctx.request.claims
    assert claims is not None
    return claims.tenant_id, claims.client_id


def _entity(ctx: Context, sub: subs.Subscription) -> dict[str, Any]:
    context = f"{ctx.request.base_url}/v1.0/$metadata#subscriptions/$entity"
    return {"@odata.context": context, **sub.to_json()}


def _take_write(ctx: Context) -> None:
    tenant, client = _app(ctx)
    limit = ctx.emulator.faults.subscriptionWritesPer20Seconds
    ctx.emulator.stats.subscription_write(tenant)  # attempts: what the app asked of Graph
    ctx.emulator.notifier.limiter.take((tenant, client, "write"), limit, "write")


async def subscriptions(ctx: Context) -> GraphResponse:
    if ctx.request.method == "POST":
        return await _create(ctx)
    tenant, client = _app(ctx)
    notifier = ctx.emulator.notifier
    notifier.store.expire(ctx.emulator.clock.now())
    values = [s.to_json() for s in notifier.store.of_app(tenant, client)]
    context = f"{ctx.request.base_url}/v1.0/$metadata#subscriptions"
    return GraphResponse(200, {"@odata.context": context, "value": values})


async def _create(ctx: Context) -> GraphResponse:
    _take_write(ctx)
    emu = ctx.emulator
    tenant, client = _app(ctx)
    body = subs.read_body(ctx.request.body)
    change_type, change_types = subs.parse_change_types(
        subs.get_str(body, "changeType", required=True) or ""
    )
    notification_url = subs.check_url(
        subs.get_str(body, "notificationUrl", required=True) or "", "notificationUrl"
    )
    lifecycle = subs.get_str(body, "lifecycleNotificationUrl")
    if lifecycle is not None:
        subs.check_url(lifecycle, "lifecycleNotificationUrl")
    resource = subs.get_str(body, "resource", required=True) or ""
    mailbox = subs.resolve_resource(emu.world.directory, tenant, resource)
    now = emu.clock.now()
    expires = subs.parse_expiration(body.get("expirationDateTime"), now)
    client_state = subs.parse_client_state(body.get("clientState"))
    tls = subs.check_tls_version(body.get("latestSupportedTlsVersion"))
    if body.get("includeResourceData"):
        raise subs.invalid(
            "includeResourceData needs an encryptionCertificate: notifications with "
            "resource data are not emulated."
        )
    notifier = emu.notifier
    key = (tenant, client, mailbox.key, change_types)

    def duplicate() -> None:
        notifier.store.expire(emu.clock.now())
        for other in notifier.store.of_app(tenant, client):
            if (other.mailbox, other.change_types) == (mailbox.key, change_types):
                raise GraphError(
                    409,
                    "Conflict",
                    f"Subscription Id {other.id} already exists for the requested combination",
                )
        if key in notifier.handshakes:
            raise GraphError(
                409, "Conflict", "A subscription for the requested combination is being created"
            )

    duplicate()
    notifier.handshakes.add(key)
    generation = notifier.generation
    try:
        urls = [notification_url] + ([lifecycle] if lifecycle is not None else [])
        await subs.validate_endpoints(notifier.session(), urls)
    finally:
        notifier.handshakes.discard(key)
    if generation != notifier.generation:
        raise GraphError(
            503, "serviceNotAvailable", "The emulator was reset while validating the endpoint."
        )
    duplicate()
    sub = subs.Subscription(
        id=subs.new_id(),
        tenant_id=tenant,
        client_id=client,
        creator_id=_service_principal(tenant, client),
        mailbox=mailbox.key,
        mailbox_id=mailbox.id,
        resource=resource,
        change_type=change_type,
        change_types=change_types,
        notification_url=notification_url,
        lifecycle_url=lifecycle,
        client_state=client_state,
        expires=expires,
        tls_version=tls,
    )
    notifier.authorized(sub)
    notifier.store.add(sub)
    return GraphResponse(201, _entity(ctx, sub))


def _service_principal(tenant: str, client: str) -> str:
    """The app's service principal: the object id its tokens carry as ``oid``."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{tenant}/{client}"))


async def subscription(ctx: Context) -> GraphResponse:
    emu = ctx.emulator
    tenant, client = _app(ctx)
    sub_id = ctx.match.params["subscriptionId"]
    method = ctx.request.method
    if method in ("PATCH", "DELETE"):
        _take_write(ctx)
    emu.notifier.store.expire(emu.clock.now())
    sub = emu.notifier.store.owned(tenant, client, sub_id)
    if method == "GET":
        return GraphResponse(200, _entity(ctx, sub))
    if method == "DELETE":
        emu.notifier.store.delete(sub.id)
        return GraphResponse(204)
    return await _update(ctx, sub)


async def _update(ctx: Context, sub: subs.Subscription) -> GraphResponse:
    emu = ctx.emulator
    body = subs.read_body(ctx.request.body)
    if "lifecycleNotificationUrl" in body and body["lifecycleNotificationUrl"] != sub.lifecycle_url:
        raise subs.invalid(
            "lifecycleNotificationUrl can't be added or changed on an existing subscription: "
            "delete it and create a new one."
        )
    fixed = {
        "changeType": sub.change_type,
        "resource": sub.resource,
        "clientState": sub.client_state,
    }
    for name, value in fixed.items():
        if body.get(name) is not None and body[name] != value:
            raise subs.invalid(
                f"'{name}' can't be updated: PATCH takes expirationDateTime and notificationUrl."
            )
    expiration = body.get("expirationDateTime")
    url = subs.get_str(body, "notificationUrl")
    if expiration is None and url is None:
        raise subs.invalid(
            "Subscription must contain either the 'expirationDateTime' or 'notificationUrl' "
            "property and its value."
        )
    expires = subs.parse_expiration(expiration, emu.clock.now()) if expiration is not None else None
    if url is not None and url != sub.notification_url:
        subs.check_url(url, "notificationUrl")
        await subs.validate_endpoints(emu.notifier.session(), [url])
    if emu.notifier.store.get(sub.id) is not sub:  # deleted or expired meanwhile
        raise subs.not_found()
    if expires is not None:
        sub.expires = expires
    if url is not None:
        sub.notification_url = url
    emu.notifier.authorized(sub)  # "renewing your subscription also reauthorizes"
    return GraphResponse(200, _entity(ctx, sub))


async def reauthorize(ctx: Context) -> GraphResponse:
    emu = ctx.emulator
    tenant, client = _app(ctx)
    limit = emu.faults.subscriptionReauthorizationsPer20Seconds
    emu.notifier.limiter.take((tenant, client, "reauthorize"), limit, "reauthorize")
    emu.notifier.store.expire(emu.clock.now())
    sub = emu.notifier.store.owned(tenant, client, ctx.match.params["subscriptionId"])
    emu.notifier.authorized(sub)
    return GraphResponse(204)
