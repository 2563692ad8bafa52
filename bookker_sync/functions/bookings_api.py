"""The Bookker API as HTTP functions: thin wrappers over sync/.

The request models and use cases are imported inside the functions, when first run:
importing them at start-up would slow every cold instance, the webhook's included
(functions/deps.py).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import azure.functions as func

from bookker_sync.functions.auth import API_LEVEL, ROLE_BOOKINGS, caller, requires
from bookker_sync.functions.deps import services
from bookker_sync.functions.http_helpers import handle, parse_body, route_id
from bookker_sync.functions.observability import observed
from bookker_sync.functions.responses import json_response
from bookker_sync.sync.errors import BadRequestError

if TYPE_CHECKING:
    from bookker_sync.storage.repositories import BookingRecord

bp = func.Blueprint()  # type: ignore[no-untyped-call]
MAX_IDEMPOTENCY_KEY = 200


@bp.route(route="tenants/{tenantId}", methods=["PUT", "GET", "DELETE"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def put_tenant(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import TenantPut
    from bookker_sync.sync.ops import offboarding
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        tenant_id = route_id(req, "tenantId")
        method = req.method.upper()
        if method == "GET":
            tenant = await config.get_tenant(services(), tenant_id)
            return json_response(await config.tenant_view(services(), tenant))
        if method == "DELETE":
            report = await offboarding.offboard(services(), tenant_id, req.params.get("confirm"))
            return json_response({
                "tenantId": tenant_id, "subscriptionsDeleted": report.subscriptions_deleted,
                "rowsDeleted": report.rows_deleted,
            })  # fmt: skip
        body = parse_body(req, TenantPut)
        tenant, created = await config.put_tenant(
            services(), tenant_id, body.to_command(), body.events_change(),
            may_bind=caller().may_bind,
        )  # fmt: skip
        return json_response(await config.tenant_view(services(), tenant), 201 if created else 200)

    return await handle(work)


@bp.route(route="tenants/{tenantId}/spaces", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def spaces_collection(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        found = await config.list_spaces(services(), route_id(req, "tenantId"))
        return json_response({"value": [s.to_json_dict() for s in found]})

    return await handle(work)


@bp.route(
    route="tenants/{tenantId}/spaces/{spaceId}",
    methods=["PUT", "GET", "DELETE"],
    auth_level=API_LEVEL,
)
@observed
@requires(ROLE_BOOKINGS)
async def put_space(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import SpacePut
    from bookker_sync.sync.outbound import spaces
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        tenant_id, space_id = route_id(req, "tenantId"), route_id(req, "spaceId")
        method = req.method.upper()
        if method == "GET":
            await config.get_tenant(services(), tenant_id)
            space = await config.get_space(services(), tenant_id, space_id)
            return json_response(space.to_json_dict())
        if method == "DELETE":
            force = _flag(req, "force")
            await spaces.delete_space(services(), tenant_id, space_id, force=force)
            return func.HttpResponse(status_code=204)
        body = parse_body(req, SpacePut).to_command()
        space, created = await config.put_space(services(), tenant_id, space_id, body)
        return json_response(space.to_json_dict(), 201 if created else 200)

    return await handle(work)


@bp.route(route="tenants/{tenantId}/users", methods=["GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def users_collection(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        found = await config.list_users(services(), route_id(req, "tenantId"))
        return json_response({"value": [u.to_json_dict() for u in found]})

    return await handle(work)


@bp.route(
    route="tenants/{tenantId}/users/{userId}",
    methods=["PUT", "GET", "DELETE"],
    auth_level=API_LEVEL,
)
@observed
@requires(ROLE_BOOKINGS)
async def put_user(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import UserPut
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        tenant_id, user_id = route_id(req, "tenantId"), route_id(req, "userId")
        method = req.method.upper()
        if method == "GET":
            await config.get_tenant(services(), tenant_id)
            user = await config.get_user(services(), tenant_id, user_id)
            return json_response(user.to_json_dict())
        if method == "DELETE":
            await config.get_tenant(services(), tenant_id)
            await config.delete_user(services(), tenant_id, user_id)
            return func.HttpResponse(status_code=204)
        body = parse_body(req, UserPut).to_command()
        user, created = await config.put_user(services(), tenant_id, user_id, body)
        return json_response(user.to_json_dict(), 201 if created else 200)

    return await handle(work)


def _flag(req: func.HttpRequest, name: str) -> bool:
    raw = (req.params.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise BadRequestError(f"{name} must be true or false")
    return raw == "true"


@bp.route(route="tenants/{tenantId}/bookings", methods=["POST", "GET"], auth_level=API_LEVEL)
@observed
@requires(ROLE_BOOKINGS)
async def bookings_collection(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import BookingCreate
    from bookker_sync.sync.outbound import bookings

    async def work() -> func.HttpResponse:
        tenant_id = route_id(req, "tenantId")
        if req.method.upper() == "GET":
            return await _list(req, tenant_id)
        body = parse_body(req, BookingCreate).to_command()
        key = req.headers.get("idempotency-key") or req.headers.get("x-ms-client-request-id")
        if key is not None and len(key) > MAX_IDEMPOTENCY_KEY:  # as openapi.json says
            raise BadRequestError(f"Idempotency-Key is longer than {MAX_IDEMPOTENCY_KEY}")
        created = await bookings.create_booking(services(), tenant_id, body, key)
        status = 200 if created.replayed else 201
        if created.series_id is None:
            return json_response(_out(created.records[0]), status)
        return json_response(
            {"seriesId": created.series_id, "value": [_out(r) for r in created.records]},
            status,
        )

    return await handle(work)


async def _list(req: func.HttpRequest, tenant_id: str) -> func.HttpResponse:
    from bookker_sync.domain.models import BookingStatus
    from bookker_sync.sync.outbound import bookings

    status = req.params.get("status")
    if status is not None and status not in {s.value for s in BookingStatus}:
        raise BadRequestError("status must be confirmed, declined or cancelled")
    found = await bookings.list_bookings(
        services(),
        tenant_id,
        space_id=req.params.get("spaceId") or None,
        user_id=req.params.get("userId") or None,
        start_from=_time_param(req, "from"),
        until=_time_param(req, "to"),
        status=BookingStatus(status) if status else None,
    )
    return json_response({"value": [_out(b) for b in found]})


def _time_param(req: func.HttpRequest, name: str) -> datetime | None:
    raw = req.params.get(name)
    if not raw:
        return None
    from bookker_sync.functions.api_models import parse_api_time

    try:  # an unescaped "+" in a query string arrives as a space
        return parse_api_time(raw.replace(" ", "+"))  # UTC, as the storage query is
    except ValueError as exc:
        raise BadRequestError(f"{name}: {exc}") from exc


@bp.route(
    route="tenants/{tenantId}/bookings/{bookingId}",
    methods=["GET", "PATCH", "DELETE"],
    auth_level=API_LEVEL,
)
@observed
@requires(ROLE_BOOKINGS)
async def booking_item(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import BookingPatch
    from bookker_sync.sync.outbound import bookings
    from bookker_sync.sync.outbound import tenants as config

    async def work() -> func.HttpResponse:
        tenant_id, booking_id = route_id(req, "tenantId"), route_id(req, "bookingId")
        method = req.method.upper()
        if method == "GET":
            await config.get_tenant(services(), tenant_id)
            expand = req.params.get("expand")
            if expand not in (None, "", "outlook"):
                raise BadRequestError("expand: the only expansion is outlook")
            stored = await bookings.get_booking(services(), tenant_id, booking_id)
            return json_response(_out(stored.value, expand_outlook=expand == "outlook"))
        if method == "PATCH":
            patch = parse_body(req, BookingPatch).to_command()
            updated = await bookings.update_booking(services(), tenant_id, booking_id, patch)
            return json_response(_out(updated))
        await bookings.delete_booking(services(), tenant_id, booking_id)
        return func.HttpResponse(status_code=204)

    return await handle(work)


@bp.route(
    route="tenants/{tenantId}/bookings/{bookingId}/release", methods=["POST"], auth_level=API_LEVEL
)
@observed
@requires(ROLE_BOOKINGS)
async def release_booking(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    from bookker_sync.functions.api_models import ReleaseRequest
    from bookker_sync.sync.outbound import bookings

    async def work() -> func.HttpResponse:
        tenant_id, booking_id = route_id(req, "tenantId"), route_id(req, "bookingId")
        body = parse_body(req, ReleaseRequest)
        released = await bookings.release_booking(services(), tenant_id, booking_id, body.reason)
        return json_response(_out(released), 202)

    return await handle(work)


def _out(record: BookingRecord, *, expand_outlook: bool = False) -> dict[str, object]:
    from bookker_sync.sync.booking_view import booking_json

    return booking_json(record, expand_outlook=expand_outlook)
