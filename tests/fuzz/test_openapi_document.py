"""``/openapi.json`` is a valid OpenAPI 3.1 document, so any tool (schemathesis, client generators) can use it.

Validated against the OAS 3.1 JSON Schema (``oas_3_1_schema.json``, the 2022-10-07 schema shipped by
openapi-spec-validator) with the ``jsonschema`` package, plus the semantic check validators add on top:
every ``default`` is valid against its own schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

OAS_SCHEMA = json.loads((Path(__file__).with_name("oas_3_1_schema.json")).read_text())


@pytest.fixture()
def document(client) -> dict[str, Any]:  # noqa: ANN001
    resp = client.get("/openapi.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    return resp.get_json()


def schemas_with_defaults(node: Any, path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "default" in node and "$ref" not in node:
            yield path, node
        for key, value in node.items():
            yield from schemas_with_defaults(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from schemas_with_defaults(value, f"{path}/{i}")


def test_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1.")
    errors = sorted(Draft202012Validator(OAS_SCHEMA).iter_errors(document), key=lambda e: list(e.absolute_path))
    assert errors == [], [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors[:10]]


def test_every_default_matches_its_schema(document: dict[str, Any]) -> None:
    bad = []
    for path, schema in schemas_with_defaults(document.get("components", {}).get("schemas", {}), "#/components"):
        checked = {k: v for k, v in schema.items() if k not in ("default", "title", "description")}
        if not Draft202012Validator(checked).is_valid(schema["default"]):
            bad.append(f"{path}: default {schema['default']!r} not valid against {checked}")
    assert bad == []


def test_every_operation_documents_its_errors_with_the_envelope(document: dict[str, Any]) -> None:
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                if int(status) < 400:
                    continue
                schema = response["content"]["application/json"]["schema"]
                assert schema["properties"]["ok"] == {"const": False}, f"{method.upper()} {path} {status}"
