"""The OpenAPI 3.1 document, generated from the route declarations (``web.api.REGISTRY``)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response

from web.api import REGISTRY, RouteSpec, route

bp = Blueprint("openapi", __name__)

ERROR_SCHEMA = {
    "type": "object",
    "required": ["ok", "error", "message", "request_id"],
    "properties": {
        "ok": {"const": False}, "error": {"type": "string"}, "message": {"type": "string"},
        "request_id": {"type": "string"}, "details": {"type": "object"},
    },
}
SUCCESS_SCHEMA = {
    "type": "object", "required": ["ok", "request_id"],
    "properties": {"ok": {"const": True}, "request_id": {"type": "string"}},
    "additionalProperties": True,
}
# Routes whose success answer is not the JSON envelope (platform §2.3: /metrics is text; the document is bare).
RAW_SUCCESS: dict[str, tuple[str, dict[str, Any]]] = {
    "/metrics": ("text/plain", {"type": "string"}),
    "/openapi.json": ("application/json", {"type": "object", "required": ["openapi", "info", "paths"]}),
}
_STATUS_TEXT = {
    400: "Invalid input", 401: "Not authenticated", 403: "CSRF token missing or invalid", 404: "Not found",
    405: "Method not allowed", 409: "Conflict (e.g. no active project)", 410: "Gone", 413: "Body too large",
    415: "Body is not JSON", 429: "Rate limited", 503: "Dependency unavailable",
}


def _json_schema(model: Any) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return _drop_invalid_null_defaults(schema)


def _allows_null(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is not None:
        return kind == "null" or (isinstance(kind, list) and "null" in kind)
    if "enum" in schema:
        return None in schema["enum"]
    if "const" in schema:
        return schema["const"] is None
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return any(isinstance(s, dict) and _allows_null(s) for s in schema[key])
    return True


def _drop_invalid_null_defaults(node: Any) -> Any:
    """Loose body fields (``Any = None`` with a documented type) get ``"default": null``, a value their own
    schema rejects; validators of the document (openapi-spec-validator) flag it, so it is left out."""
    if isinstance(node, dict):
        if "default" in node and node["default"] is None and not _allows_null(node):
            node = {k: v for k, v in node.items() if k != "default"}
        return {k: _drop_invalid_null_defaults(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_drop_invalid_null_defaults(v) for v in node]
    return node


def _operation(spec: RouteSpec, components: dict[str, Any]) -> dict[str, Any]:
    params: list[dict[str, Any]] = []
    for name, param in spec.path.items():
        schema = {"type": "string"} if param.kind != "int" else {"type": "string", "pattern": "^[0-9]+$"}
        if param.kind == "uuid":
            schema["format"] = "uuid"
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    if spec.query is not None:
        qs = _json_schema(spec.query)
        for name, prop in qs.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": False, "schema": _query_schema(prop)})
    media_type, success_schema = RAW_SUCCESS.get(spec.rule, ("application/json", SUCCESS_SCHEMA))
    op: dict[str, Any] = {
        "operationId": spec.endpoint.replace(".", "_") + "_" + spec.method.lower(),
        "summary": spec.summary, "tags": list(spec.tags), "parameters": params,
        "responses": {str(spec.success): {"description": "Success",
                                          "content": {media_type: {"schema": success_schema}}}},
    }
    if spec.body is not None:
        components[spec.body.__name__] = _json_schema(spec.body)
        op["requestBody"] = {"required": False, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{spec.body.__name__}"}}}}
    for status in sorted(s for s in spec.responses if s < 400):  # another success status (e.g. 200 beside 201)
        op["responses"][str(status)] = {"description": spec.responses[status] or "Success",
                                        "content": {"application/json": {"schema": SUCCESS_SCHEMA}}}
    errors = {400, 405, 413, 415} | {s for s in spec.responses if s >= 400}
    if not spec.public:
        errors |= {401, 404}
        op["security"] = [{"session": [], "csrf": []}] if spec.csrf else [{"session": []}]
        if spec.csrf:
            errors.add(403)
        if spec.project or spec.account:
            errors.add(409)
    if spec.rule.startswith("/jobs") or spec.success == 202:
        errors.add(503)
    for status in sorted(errors):
        op["responses"][str(status)] = {"description": _STATUS_TEXT.get(status, "Error"),
                                        "content": {"application/json": {"schema": ERROR_SCHEMA}}}
    return op


def _query_schema(prop: dict[str, Any]) -> dict[str, Any]:
    """Query values arrive as strings; document the accepted form."""
    out: dict[str, Any] = {"type": "string"}
    if "enum" in prop:
        out["enum"] = prop["enum"]
    if prop.get("type") == "integer":
        out["pattern"] = "^-?[0-9]+$"
    return out


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    components: dict[str, Any] = {}
    for spec in sorted(REGISTRY.values(), key=lambda s: (s.openapi_path, s.method)):
        paths.setdefault(spec.openapi_path, {})[spec.method.lower()] = _operation(spec, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Keel API", "version": "1", "description":
                 "Every path is also served under /v1. Errors use the envelope {ok:false,error,message,request_id}."},
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "sid"},
            "csrf": {"type": "apiKey", "in": "header", "name": "x-csrf-token"},
        }},
    }


@route(bp, "/openapi.json", public=True, summary="This OpenAPI document")
def openapi_document() -> Response:
    """Served as the bare document (not in the envelope) so tools can read it."""
    return Response(json.dumps(build_document()), mimetype="application/json")
