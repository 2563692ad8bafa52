"""The OpenAPI document (GET /api/openapi.json) is written for people too: every
operation has a summary and a description, every schema a name and a description (no
pydantic auto-titles such as "Tenantid"), every error response is the named Error
schema, and the examples are requests the API really accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from bookker_sync.functions import api_models
from bookker_sync.functions.openapi import openapi_document

DOC = openapi_document()
METHODS = ("get", "put", "post", "patch", "delete")
ERROR_REF = "#/components/schemas/Error"


def operations() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in DOC["paths"].items():
        for method in METHODS:
            if method in item:
                yield path, method, item[method]


def resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = DOC
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def walk(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every JSON object in ``node``, with its JSON pointer."""
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}/{index}")


def test_the_document_has_every_operation() -> None:
    ids = sorted(op["operationId"] for _, _, op in operations())
    assert ids == sorted([
        "putTenant", "putSpace", "putUser", "createBooking", "listBookings", "getBooking",
        "updateBooking", "deleteBooking", "releaseBooking", "getTenant", "offboardTenant",
        "listSpaces", "getSpace", "deleteSpace", "listUsers", "getUser", "deleteUser",
        "listEvents", "getConsentLink",
    ])  # fmt: skip


@pytest.mark.parametrize(("path", "method", "op"), list(operations()))
def test_every_operation_has_a_summary_description_and_tag(
    path: str, method: str, op: dict[str, Any]
) -> None:
    assert op["summary"].strip() and len(op["summary"]) <= 60, op["summary"]
    assert len(op["description"]) > len(op["summary"]), op["description"]
    assert op["tags"] and all(t in {x["name"] for x in DOC["tags"]} for t in op["tags"])
    for param in op.get("parameters", []):
        assert param["description"].strip() and "example" in param, param


@pytest.mark.parametrize(("path", "method", "op"), list(operations()))
def test_every_error_response_is_the_error_schema(
    path: str, method: str, op: dict[str, Any]
) -> None:
    errors = {s: r for s, r in op["responses"].items() if int(s) >= 400}
    assert {"500", "503"} <= set(errors), sorted(errors)
    if "requestBody" in op:
        assert "400" in errors and "413" in errors, sorted(errors)
    for status, response in errors.items():
        media = resolve(response)["content"]["application/json"]
        assert media["schema"] == {"$ref": ERROR_REF}, (status, media)
        assert isinstance(media["example"]["error"]["code"], str), (status, media)
        assert resolve(response)["description"].strip(), status


def test_the_error_schema_names_the_error_and_the_rule_list() -> None:
    error = DOC["components"]["schemas"]["Error"]
    assert error["required"] == ["error"]
    detail = resolve(error["properties"]["error"])
    assert detail["required"] == ["code", "message"]
    violation = resolve(error["properties"]["errors"]["items"])
    assert violation["required"] == ["rule", "message"]
    statuses = {int(s) for _, _, op in operations() for s in op["responses"]}
    assert {400, 403, 404, 409, 413, 422, 500, 502, 503} <= statuses


def test_no_schema_has_an_auto_generated_title() -> None:
    schemas = DOC["components"]["schemas"]
    props = {p for _, node in walk(schemas) for p in node.get("properties", {})}
    # pydantic's default title of a field is its alias, title-cased: tenantId → Tenantid.
    auto = {p.title() for p in props} | {p.replace("_", " ").title() for p in props}
    for name, schema in schemas.items():
        assert schema.get("title") == name, (name, schema.get("title"))
        assert schema.get("description", "").strip(), f"{name} has no description"
        for pointer, node in walk(schema):
            if pointer and "title" in node and isinstance(node["title"], str):
                raise AssertionError(f"{name}{pointer} has title {node['title']!r}")
    # Nor anywhere else in the document (inline schemas of parameters and responses).
    named = {f"/components/schemas/{name}" for name in schemas}
    for pointer, node in walk(DOC):
        if pointer not in named and isinstance(node.get("title"), str):
            assert node["title"] not in auto, (pointer, node["title"])


def test_no_json_schema_examples_keyword_in_an_openapi_3_0_document() -> None:
    # OpenAPI 3.0 schemas take ``example``; JSON Schema's ``examples`` is not allowed.
    found = [p for p, node in walk(DOC["components"]["schemas"]) if "examples" in node]
    assert not found, found


@pytest.mark.parametrize(("path", "method", "op"), list(operations()))
def test_request_examples_are_accepted_by_the_api_models(
    path: str, method: str, op: dict[str, Any]
) -> None:
    if "requestBody" not in op:
        return
    media = op["requestBody"]["content"]["application/json"]
    model = getattr(api_models, media["schema"]["$ref"].rsplit("/", 1)[1])
    assert issubclass(model, BaseModel)
    model.model_validate_json(json.dumps(media["example"]), strict=True)


def test_field_examples_are_valid_values_of_their_fields() -> None:
    """The per-field examples, put together, make a body the model accepts."""
    for name in ("TenantPut", "SpacePut", "UserPut", "BookingCreate", "BookingPatch",
                 "ReleaseRequest"):  # fmt: skip
        schema = DOC["components"]["schemas"][name]
        props = {p: s if "example" in s else resolve(s) for p, s in schema["properties"].items()}
        body = {p: s["example"] for p, s in props.items() if "example" in s}
        assert set(schema.get("required", [])) <= set(body), (name, body)
        getattr(api_models, name).model_validate_json(json.dumps(body), strict=True)
