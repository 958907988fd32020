"""The JSON envelope (platform §2.3): every response body goes through ``ok()`` or ``error()``."""

from __future__ import annotations

import json
import uuid
from typing import Any

import orjson
from flask import Response, g

from shared.timeutil import iso

# orjson (C) encodes str/int/float/list/dict/UUID natively; datetimes pass through to ``_default`` so
# that they keep the API's one format (``shared.timeutil.iso``). NaN/Infinity become null.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return iso(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    if hasattr(value, "__float__"):  # Decimal
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def dumps(body: Any) -> bytes:
    """The API's JSON encoding (compact UTF-8)."""
    try:
        return orjson.dumps(body, default=_default, option=_OPTIONS)
    except TypeError:  # what orjson refuses but the stdlib writes (an integer beyond 64 bits, say)
        return json.dumps(body, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def _response(body: dict[str, Any], status: int, headers: dict[str, str] | None) -> Response:
    resp = Response(dumps(body), status=status, mimetype="application/json")
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def ok(payload: dict[str, Any] | None = None, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"ok": True}
    body.update({k: v for k, v in (payload or {}).items() if k not in ("ok", "request_id")})
    body["request_id"] = g.get("request_id")
    return _response(body, status, headers)


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None,
          headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"ok": False, "error": code, "message": message, "request_id": g.get("request_id")}
    if details is not None:
        body["details"] = details
    return _response(body, status, headers)
