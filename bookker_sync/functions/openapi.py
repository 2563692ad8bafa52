"""GET /api/openapi.json: the API description, generated from the same pydantic models
the functions validate with, so it always matches what they accept.

OpenAPI 3.0.3: schemas carry ``example`` (3.0), not JSON Schema's ``examples`` list;
property schemas carry no auto-made title (pydantic's "Tenantid" for ``tenantId``):
the named component schemas are the titles.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import azure.functions as func

from bookker_sync.functions.bookings_api import MAX_IDEMPOTENCY_KEY
from bookker_sync.functions.http_helpers import MAX_BODY_BYTES
from bookker_sync.functions.openapi_text import (
    API_DESCRIPTION,
    ERRORS,
    OPERATIONS,
    PROPERTY_TEXT,
    SCHEMA_TEXT,
)
from bookker_sync.functions.responses import json_response

if TYPE_CHECKING:
    from pydantic import BaseModel

bp = func.Blueprint()  # type: ignore[no-untyped-call]
SCHEMA_PREFIX = "#/components/schemas/"


def _models() -> list[type[BaseModel]]:
    # Imported when the document is first built, not at start-up (functions/deps.py).
    from bookker_sync.domain.models import Booking, Space, Tenant, User
    from bookker_sync.functions.api_models import (
        BookingCreate,
        BookingPatch,
        ReleaseRequest,
        SpacePut,
        TenantPut,
        UserPut,
    )

    return [
        TenantPut, SpacePut, UserPut, BookingCreate, BookingPatch, ReleaseRequest,
        Tenant, Space, User, Booking,
    ]  # fmt: skip


def _model_schemas() -> dict[str, Any]:
    from pydantic.json_schema import GenerateJsonSchema, models_json_schema
    from pydantic_core import core_schema

    class NoFieldTitles(GenerateJsonSchema):
        def field_title_should_be_set(
            self, schema: core_schema.CoreSchema | core_schema.DataclassField
        ) -> bool:
            return False

    _, top = models_json_schema(
        [(m, "validation") for m in _models()],
        ref_template=SCHEMA_PREFIX + "{model}",
        schema_generator=NoFieldTitles,
    )
    schemas: dict[str, Any] = {k: _openapi30(v) for k, v in top.get("$defs", {}).items()}
    for name, schema in schemas.items():
        schema["title"] = name
        if "enum" in schema:
            schema.setdefault("example", schema["enum"][0])
        if name in SCHEMA_TEXT:
            schema["description"] = SCHEMA_TEXT[name]
        for prop, text in PROPERTY_TEXT.get(name, {}).items():
            _describe(schema["properties"][prop], text)
    schemas["Booking"]["properties"].update(_booking_view_properties())
    schemas["Tenant"]["properties"]["events"] = {
        "type": "object", "nullable": True, "required": ["url"],
        "properties": {"url": {"type": "string", "example": "https://bookker.example.com/h"}},
        "description": "Where the tenant's events are pushed (the secret is never shown).",
    }  # fmt: skip
    return schemas


def _booking_view_properties() -> dict[str, Any]:
    """What an answered booking carries beyond the stored booking: its Outlook event's
    fields (none of a private meeting's content), its sync state, and with
    ``?expand=outlook`` the stored Outlook JSON."""
    strings = {"type": "array", "items": {"type": "string"}}
    event = {"type": "object", "nullable": True, "additionalProperties": True}
    return {
        "attendees": {**strings, "description": "People invited (not the room)."},
        "body": {**_ref_wrapped("BodyIn"), "description": "The event's body (Bookker-made)."},
        "bodyPreview": {"type": "string", "description": "The start of the event's body."},
        "isOnlineMeeting": {"type": "boolean", "description": "A Teams meeting."},
        "onlineMeeting": {
            "type": "object", "properties": {"joinUrl": {"type": "string"}},
            "description": "The Teams meeting Outlook created: its join link.",
        },
        "sensitivity": {"type": "string", "description": "normal, personal, private or "
                        "confidential; a private meeting shows nothing of its content."},
        "showAs": {"type": "string", "description": "Free/busy."},
        "categories": {**strings, "description": "Outlook categories."},
        "reminderMinutesBeforeStart": {"type": "integer", "description": "Reminder."},
        "sync": _ref_wrapped("SyncState", "How far Outlook is in step with the booking."),
        "outlookEvent": {**event, "description": "?expand=outlook: the organizer's event "
                         "JSON as stored."},
        "roomEvent": {**event, "description": "?expand=outlook: the room's copy as stored."},
    }  # fmt: skip


def _ref_wrapped(name: str, description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"allOf": [_ref(name)]}
    if description:
        out["description"] = description
    return out


def _openapi30(node: Any) -> Any:
    """JSON Schema's ``examples: [x]`` as OpenAPI 3.0's ``example: x``, everywhere."""
    if isinstance(node, list):
        return [_openapi30(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi30(v) for k, v in node.items() if k != "examples"}
    if isinstance(node.get("examples"), list) and node["examples"]:
        out["example"] = node["examples"][0]
    return out


def _describe(prop: dict[str, Any], text: str) -> None:
    # A $ref's siblings are ignored in OpenAPI 3.0: wrap it to describe it.
    if "$ref" in prop:
        prop["allOf"] = [{"$ref": prop.pop("$ref")}]
    prop["description"] = text


def _error_schemas() -> dict[str, Any]:
    return {
        "Error": {
            "title": "Error",
            "description": SCHEMA_TEXT["Error"],
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": _ref("ErrorDetail"),
                "errors": {
                    "type": "array",
                    "items": _ref("Violation"),
                    "description": "On 422 (and 403): every rule the request breaks.",
                },
            },
            "example": {
                "error": {"code": "RuleViolation", "message": ERRORS["RuleViolations"][3]},
                "errors": [{"rule": "maxMinutes", "message": (
                    "Focus 214 can be booked for at most 240 minutes; this booking is "
                    "300 minutes."
                )}],
            },
        },
        "ErrorDetail": {
            "title": "ErrorDetail",
            "description": SCHEMA_TEXT["ErrorDetail"],
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "description": "Stable, for programs.",
                         "example": "BadRequest"},
                "message": {"type": "string", "description": "For people; may change.",
                            "example": "invalid request: end: Field required"},
                "details": {
                    "type": "array",
                    "description": "On 400: the fields that failed validation.",
                    "items": _ref("FieldError"),
                },
            },
        },
        "FieldError": {
            "title": "FieldError",
            "description": SCHEMA_TEXT["FieldError"],
            "type": "object",
            "required": ["field", "message"],
            "properties": {
                "field": {"type": "string", "description": "Dotted path in the body.",
                          "example": "rules.maxMinutes"},
                "message": {"type": "string", "example": "Input should be greater than 0"},
            },
        },
        "Violation": {
            "title": "Violation",
            "description": SCHEMA_TEXT["Violation"],
            "type": "object",
            "required": ["rule", "message"],
            "properties": {
                "rule": {"type": "string", "description": "The rule key, as in the space's or "
                         "user's rules (or access).", "example": "maxMinutes"},
                "message": {"type": "string", "example": "longer than 240 minutes"},
            },
        },
    }  # fmt: skip


def _event_schemas() -> dict[str, Any]:
    from bookker_sync.domain.events import EventType

    return {
        "SyncState": {
            "title": "SyncState", "description": SCHEMA_TEXT["SyncState"], "type": "object",
            "required": ["state", "roomResponse", "lastSyncedAt"],
            "properties": {
                "state": {"type": "string", "enum": ["synced", "pending", "failed"]},
                "roomResponse": {"type": "string", "nullable": True,
                                 "description": "The room's answer (accepted, declined, ...)."},
                "lastSyncedAt": {"type": "string", "format": "date-time", "nullable": True},
            },
        },
        "CloudEvent": {
            "title": "CloudEvent", "description": SCHEMA_TEXT["CloudEvent"], "type": "object",
            "required": ["specversion", "id", "source", "type", "time", "datacontenttype",
                         "data"],
            "properties": {
                "specversion": {"type": "string", "enum": ["1.0"]},
                "id": {"type": "string", "description": "Receivers dedupe by it."},
                "source": {"type": "string", "example": "/tenants/contoso"},
                "type": {"type": "string", "enum": [t.cloud_type for t in EventType]},
                "time": {"type": "string", "format": "date-time"},
                "subject": {"type": "string", "example": "bookings/b-7c9e6679"},
                "datacontenttype": {"type": "string", "enum": ["application/json"]},
                "sequence": {"type": "string", "description": "Order in the tenant's log."},
                "data": {
                    "type": "object", "required": ["origin"], "additionalProperties": True,
                    "properties": {
                        "origin": {"type": "string", "enum": ["outlook", "bookker", "system"]},
                        "booking": _ref("Booking"),
                        "reason": {"type": "string"},
                        "violations": {"type": "array", "items": _ref("Violation")},
                    },
                },
            },
        },
        "EventList": {
            "title": "EventList", "description": SCHEMA_TEXT["EventList"], "type": "object",
            "required": ["value", "cursor"],
            "properties": {
                "value": {"type": "array", "items": _ref("CloudEvent")},
                "cursor": {"type": "string", "description": "Pass as `after` for what "
                           "follows (opaque)."},
            },
        },
        "OffboardReport": {
            "title": "OffboardReport", "description": SCHEMA_TEXT["OffboardReport"],
            "type": "object", "required": ["tenantId", "subscriptionsDeleted", "rowsDeleted"],
            "properties": {
                "tenantId": {"type": "string"},
                "subscriptionsDeleted": {"type": "integer"},
                "rowsDeleted": {"type": "object", "additionalProperties": {"type": "integer"}},
            },
        },
        "SpaceList": {
            "title": "SpaceList", "description": SCHEMA_TEXT["SpaceList"], "type": "object",
            "required": ["value"],
            "properties": {"value": {"type": "array", "items": _ref("Space")}},
        },
        "UserList": {
            "title": "UserList", "description": SCHEMA_TEXT["UserList"], "type": "object",
            "required": ["value"],
            "properties": {"value": {"type": "array", "items": _ref("User")}},
        },
    }  # fmt: skip


def _list_schemas() -> dict[str, Any]:
    value = {"type": "array", "items": _ref("Booking")}
    return {
        "BookingList": {
            "title": "BookingList",
            "description": SCHEMA_TEXT["BookingList"],
            "type": "object",
            "required": ["value"],
            "properties": {"value": value},
        },
        "BookingSeries": {
            "title": "BookingSeries",
            "description": SCHEMA_TEXT["BookingSeries"],
            "type": "object",
            "required": ["seriesId", "value"],
            "additionalProperties": False,
            "properties": {
                "seriesId": {"type": "string", "description": "Shared by every occurrence."},
                "value": value,
            },
        },
        "ConsentLink": {
            "title": "ConsentLink",
            "description": "Where to send the customer's administrator for admin consent.",
            "type": "object",
            "required": ["consentUrl"],
            "properties": {"consentUrl": {"type": "string", "format": "uri"}},
        },
        # POST /bookings answers one Booking, or a BookingSeries for a recurrence.
        "BookingOrSeries": {
            "title": "BookingOrSeries",
            "description": SCHEMA_TEXT["BookingOrSeries"],
            "oneOf": [_ref("Booking"), _ref("BookingSeries")],
        },
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": SCHEMA_PREFIX + name}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


def _error_responses() -> dict[str, Any]:
    """One named response per error status, each an Error with its real code."""
    return {
        name: {
            "description": text,
            "content": {"application/json": {
                "schema": _ref("Error"),
                "example": {"error": {"code": code, "message": sample}},
            }},
        }
        for name, (_, code, text, sample) in ERRORS.items()
    }  # fmt: skip


_BY_STATUS = {status: name for name, (status, *_) in ERRORS.items()}
_ALWAYS = (401, 500, 503)  # any operation: no credential, unexpected error, storage down


def _operation(op_id: str, ok: dict[str, Any], *errors: int, **more: Any) -> dict[str, Any]:
    tag, summary, description = OPERATIONS[op_id]
    responses = dict(ok)
    statuses = {*errors, *_ALWAYS} | ({413} if "requestBody" in more else set())
    for status in sorted(statuses):
        responses[str(status)] = {"$ref": f"#/components/responses/{_BY_STATUS[status]}"}
    return {
        "operationId": op_id, "tags": [tag], "summary": summary, "description": description,
        **more, "responses": responses,
    }  # fmt: skip


def _body(schema: str, example: dict[str, Any]) -> dict[str, Any]:
    media = {"schema": _ref(schema), "example": example}
    return {"required": True, "content": {"application/json": media}}


def _param(name: str, where: str, text: str, example: str, **schema: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": where == "path",
        "description": text,
        "schema": {"type": "string", **schema},
        "example": example,
    }


def _id(name: str, text: str, example: str) -> dict[str, Any]:
    from bookker_sync.functions.api_models import ID_PATTERN

    return _param(name, "path", text, example, pattern=ID_PATTERN)


def _paths() -> dict[str, Any]:
    from bookker_sync.functions.api_models import ID_PATTERN

    tenant = _id("tenantId", "The Bookker tenant.", "contoso")
    booking = _id("bookingId", "The booking.", "b-7c9e6679")
    key = _param("Idempotency-Key", "header",
                 "Makes a retried POST safe: the same key answers the first result (200) "
                 "instead of booking twice; the same key with a different request answers "
                 "422 IdempotencyKeyReused. x-ms-client-request-id is read too.",
                 "3f1c2b7e-retry-1", maxLength=MAX_IDEMPOTENCY_KEY)  # fmt: skip
    put_ok = {"200": {"description": "Replaced."}, "201": {"description": "Created."}}
    when = "2031-03-04T10:00:00Z"
    query = [
        _param("spaceId", "query", "Only this space's bookings.", "focus-214"),
        _param("userId", "query", "Only this user's bookings.", "alice"),
        _param("from", "query", "Bookings ending after this time.", when, format="date-time"),
        _param("to", "query", "Bookings starting before this time.", "2031-03-05T00:00:00Z",
               format="date-time"),
        _param("status", "query", "Only bookings in this state.", "confirmed",
               enum=["confirmed", "declined", "cancelled"]),
    ]  # fmt: skip
    create = {"spaceId": "focus-214", "userId": "alice", "start": when,
              "end": "2031-03-04T11:00:00Z", "subject": "Planning"}  # fmt: skip
    space = _id("spaceId", "The space.", "focus-214")
    user = _id("userId", "The user.", "alice")
    return {
        "/tenants/{tenantId}/consent": {"get": _operation(
            "getConsentLink",
            {"302": {
                "description": "To Entra ID's admin consent page (Location, and consentUrl).",
                "headers": {"Location": {"schema": {"type": "string"}}},
                "content": {"application/json": {"schema": _ref("ConsentLink")}},
            }},
            403, 404, parameters=[tenant],
        )},
        "/tenants/{tenantId}": {
            "put": _operation(
                "putTenant", put_ok, 400, 403, 409, parameters=[tenant],
                requestBody=_body("TenantPut", {
                    "graphTenantId": "8f2c1a4e-5b6d-4c3e-9a7f-1d2e3f4a5b6c",
                    "mode": "bidirectional", "displayName": "Contoso",
                    "events": {"url": "https://bookker.example.com/hooks/outlook-sync",
                               "secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}}),
            ),
            "get": _operation("getTenant", {"200": _json("The tenant.", "Tenant")}, 400, 404,
                              parameters=[tenant]),
            "delete": _operation(
                "offboardTenant", {"200": _json("Offboarded.", "OffboardReport")}, 400, 404,
                parameters=[tenant, _param("confirm", "query", "The tenant id again.",
                                           "contoso", pattern=ID_PATTERN)],
            ),
        },
        "/tenants/{tenantId}/spaces": {"get": _operation(
            "listSpaces", {"200": _json("The spaces.", "SpaceList")}, 400, 404,
            parameters=[tenant],
        )},
        "/tenants/{tenantId}/users": {"get": _operation(
            "listUsers", {"200": _json("The users.", "UserList")}, 400, 404, parameters=[tenant],
        )},
        "/tenants/{tenantId}/events": {"get": _operation(
            "listEvents", {"200": _json("Events in order, and the cursor to go on.",
                                        "EventList")},
            400, 404, parameters=[
                tenant,
                _param("after", "query", "The cursor of the last page (none: from the oldest "
                       "event kept).", "djE6MTI"),
                _param("limit", "query", "At most this many events (1-1000, default 100).",
                       "100", pattern="^[0-9]{1,4}$"),
            ],
        )},
        "/tenants/{tenantId}/spaces/{spaceId}": {"put": _operation(
            "putSpace", put_ok, 400, 403, 404, 409, 422,
            parameters=[tenant, space],
            requestBody=_body("SpacePut", {
                "name": "Focus Room 2.14", "resourceEmail": "focus-2.14@contoso.com",
                "capacity": 6, "rules": {
                    "timeZone": "Europe/Madrid",
                    "openingHours": {"monday": [{"start": "08:00", "end": "18:00"}]},
                    "minMinutes": 15, "maxMinutes": 240, "bookingWindowDays": 90,
                    "allowedGroups": ["finance"]}}),
        ),
            "get": _operation("getSpace", {"200": _json("The space.", "Space")}, 400, 404,
                              parameters=[tenant, space]),
            "delete": _operation(
                "deleteSpace", {"204": {"description": "Removed."}}, 400, 404, 409, 502, 503,
                parameters=[tenant, space, _param(
                    "force", "query", "true: cancel its future bookings (in Bookker and "
                    "Outlook) first.", "false", enum=["true", "false"])],
            ),
        },
        "/tenants/{tenantId}/users/{userId}": {"put": _operation(
            "putUser", put_ok, 400, 404,
            parameters=[tenant, user],
            requestBody=_body("UserPut", {"email": "alice@contoso.com", "groups": ["finance"],
                                          "rules": {"maxBookingsPerDay": 2}}),
        ),
            "get": _operation("getUser", {"200": _json("The user.", "User")}, 400, 404,
                              parameters=[tenant, user]),
            "delete": _operation("deleteUser", {"204": {"description": "Removed."}}, 400, 404,
                                 parameters=[tenant, user]),
        },
        "/tenants/{tenantId}/bookings": {
            "post": _operation(
                "createBooking",
                {"201": _json("Created: a Booking, or a BookingSeries for a recurrence.",
                              "BookingOrSeries"),
                 "200": _json("A replay of an earlier request with the same Idempotency-Key.",
                              "BookingOrSeries")},
                400, 403, 404, 409, 422, 502, 503,
                parameters=[tenant, key], requestBody=_body("BookingCreate", create),
            ),
            "get": _operation("listBookings", {"200": _json("The bookings.", "BookingList")},
                              400, 404, parameters=[tenant, *query]),
        },
        "/tenants/{tenantId}/bookings/{bookingId}": {
            "get": _operation("getBooking", {"200": _json("The booking.", "Booking")}, 400, 404,
                              parameters=[tenant, booking, _param(
                                  "expand", "query", "outlook: add the stored Outlook JSON "
                                  "(outlookEvent, roomEvent).", "outlook", enum=["outlook"])]),
            "patch": _operation(
                "updateBooking", {"200": _json("The updated booking.", "Booking")},
                400, 403, 404, 409, 422, 502, 503, parameters=[tenant, booking],
                requestBody=_body("BookingPatch", {"start": "2031-03-04T10:30:00Z",
                                                   "end": "2031-03-04T11:30:00Z"}),
            ),
            "delete": _operation("deleteBooking", {"204": {"description": "Cancelled."}},
                                 400, 404, 502, 503, parameters=[tenant, booking]),
        },
        "/tenants/{tenantId}/bookings/{bookingId}/release": {"post": _operation(
            "releaseBooking", {"202": _json("Released: the booking, now cancelled.", "Booking")},
            400, 404, 409, parameters=[tenant, booking],
            requestBody=_body("ReleaseRequest", {"reason": "Nobody checked in within 15 minutes"}),
        )},
    }  # fmt: skip


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Bookker Sync API",
            "version": "1.0.0",
            "description": API_DESCRIPTION.format(max_body=MAX_BODY_BYTES // 1024),
        },
        "servers": [{"url": "/api"}],
        "tags": [
            {"name": "Configuration", "description": "Tenants, their spaces and users."},
            {"name": "Bookings", "description": "Bookings, kept in step with Outlook."},
            {"name": "Events", "description": "What the sync decided, told to Bookker."},
        ],
        "components": {
            "schemas": {
                **_model_schemas(),
                **_error_schemas(),
                **_list_schemas(),
                **_event_schemas(),
            },
            "responses": _error_responses(),
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "API_AUTH=entra: an Entra ID access token for the API.",
                },
                "functionKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "x-functions-key",
                    "description": "The Function App's function (or host) key.",
                },
            },
        },
        "security": [{"bearer": []}, {"functionKey": []}],
        "paths": _paths(),
    }


@bp.route(route="openapi.json", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
async def openapi(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(openapi_document())
