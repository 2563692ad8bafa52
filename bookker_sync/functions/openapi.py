"""GET /api/openapi.json: the API description, generated from the same pydantic models
the functions validate with, so it always matches what they accept."""

from __future__ import annotations

from typing import Any

import azure.functions as func
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bookker_sync.domain.models import Booking, Space, Tenant, User
from bookker_sync.functions.api_models import (
    ID_PATTERN,
    BookingCreate,
    BookingPatch,
    ReleaseRequest,
    SpacePut,
    TenantPut,
    UserPut,
)
from bookker_sync.functions.bookings_api import MAX_IDEMPOTENCY_KEY
from bookker_sync.functions.responses import json_response

bp = func.Blueprint()  # type: ignore[no-untyped-call]
_MODELS: list[type[BaseModel]] = [
    TenantPut, SpacePut, UserPut, BookingCreate, BookingPatch, ReleaseRequest,
    Tenant, Space, User, Booking,
]  # fmt: skip


def _schemas() -> dict[str, Any]:
    _, top = models_json_schema(
        [(m, "validation") for m in _MODELS], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, Any] = dict(top.get("$defs", {}))
    schemas["Error"] = {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
            },
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"rule": {"type": "string"}, "message": {"type": "string"}},
                },
            },
        },
    }
    schemas["BookingList"] = {
        "type": "object",
        "required": ["value"],
        "properties": {"value": {"type": "array", "items": _ref("Booking")}},
    }
    schemas["BookingSeries"] = {
        "type": "object",
        "required": ["seriesId", "value"],
        "additionalProperties": False,
        "properties": {"seriesId": {"type": "string"}, **schemas["BookingList"]["properties"]},
    }
    # POST /bookings answers one Booking, or a BookingSeries for a recurrence.
    schemas["BookingOrSeries"] = {"oneOf": [_ref("Booking"), _ref("BookingSeries")]}
    return schemas


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(name: str) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": _ref(name)}}}


def _responses(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    out = dict(ok)
    for status in errors:
        out[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    return out


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


_ERROR_TEXT = {
    400: "malformed request",
    401: "missing or wrong function key",
    403: "the user may not book this space",
    404: "unknown tenant, space, user or booking",
    409: "overlaps a confirmed booking / wrong state",
    422: "rule violations",
    502: "Outlook refused the change (nothing stored)",
    503: "Outlook or storage unavailable (nothing stored)",
}


def _param(name: str, where: str = "path", **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "schema": {"type": "string", **schema},
    }


def openapi_document() -> dict[str, Any]:
    tenant = _param("tenantId", pattern=ID_PATTERN)
    booking = _param("bookingId", pattern=ID_PATTERN)
    key = {"name": "Idempotency-Key", "in": "header", "required": False,
           "schema": {"type": "string", "maxLength": MAX_IDEMPOTENCY_KEY}}  # fmt: skip
    put_ok = {"200": {"description": "replaced"}, "201": {"description": "created"}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "Bookker Sync API", "version": "1.0.0"},
        "servers": [{"url": "/api"}],
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "functionKey": {"type": "apiKey", "in": "header", "name": "x-functions-key"}
            },
        },
        "security": [{"functionKey": []}],
        "paths": {
            "/tenants/{tenantId}": {"put": {
                "operationId": "putTenant", "parameters": [tenant],
                "requestBody": _body("TenantPut"), "responses": _responses(put_ok, 400),
            }},
            "/tenants/{tenantId}/spaces/{spaceId}": {"put": {
                "operationId": "putSpace",
                "parameters": [tenant, _param("spaceId", pattern=ID_PATTERN)],
                "requestBody": _body("SpacePut"), "responses": _responses(put_ok, 400, 404),
            }},
            "/tenants/{tenantId}/users/{userId}": {"put": {
                "operationId": "putUser",
                "parameters": [tenant, _param("userId", pattern=ID_PATTERN)],
                "requestBody": _body("UserPut"), "responses": _responses(put_ok, 400, 404),
            }},
            "/tenants/{tenantId}/bookings": {
                "post": {
                    "operationId": "createBooking", "parameters": [tenant, key],
                    "requestBody": _body("BookingCreate"),
                    "responses": _responses(
                        {"201": _json("created (a series answers BookingSeries)",
                                      "BookingOrSeries"),
                         "200": _json("replay of an earlier request", "BookingOrSeries")},
                        400, 403, 404, 409, 422, 502, 503,
                    ),
                },
                "get": {
                    "operationId": "listBookings",
                    "parameters": [tenant, _param("spaceId", "query"), _param("userId", "query"),
                                   _param("from", "query", format="date-time"),
                                   _param("to", "query", format="date-time"),
                                   _param("status", "query",
                                          enum=["confirmed", "declined", "cancelled"])],
                    "responses": _responses({"200": _json("bookings", "BookingList")}, 400, 404),
                },
            },
            "/tenants/{tenantId}/bookings/{bookingId}": {
                "get": {"operationId": "getBooking", "parameters": [tenant, booking],
                        "responses": _responses({"200": _json("booking", "Booking")}, 400, 404)},
                "patch": {"operationId": "updateBooking", "parameters": [tenant, booking],
                          "requestBody": _body("BookingPatch"),
                          "responses": _responses({"200": _json("updated", "Booking")},
                                                  400, 403, 404, 409, 422, 502, 503)},
                "delete": {"operationId": "deleteBooking", "parameters": [tenant, booking],
                           "responses": _responses({"204": {"description": "cancelled"}},
                                                   400, 404, 502, 503)},
            },
            "/tenants/{tenantId}/bookings/{bookingId}/release": {"post": {
                "operationId": "releaseBooking", "parameters": [tenant, booking],
                "requestBody": _body("ReleaseRequest"),
                "responses": _responses({"202": _json("released", "Booking")}, 400, 404, 409),
            }},
        },
    }  # fmt: skip


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document())
