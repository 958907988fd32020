"""The emulator Flask app: Chatwoot, Attio, Linear and OpenAI-compatible embeddings on one port.

Every vendor request is logged, then checked against the fault queue (delays, canned answers,
dropped connections, rate limits, modifiers) before the vendor handler runs.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from .control import VENDOR_MODULES, load_fixtures
from .control import bp as control_bp
from .faults import MODIFIERS, Fault, drop_connection
from .state import EmulatorState

LOGGED_HEADERS = ("authorization", "api_access_token", "content-type", "accept", "user-agent", "x-request-id")


class VendorJSON(DefaultJSONProvider):
    """Raw UTF-8 like the real vendors; falls back to \\u escapes for lone surrogates."""

    ensure_ascii = False
    sort_keys = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        text = super().dumps(obj, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text = super().dumps(obj, **{**kwargs, "ensure_ascii": True})
        return text


class EmulatorFlask(Flask):
    json_provider_class = VendorJSON


def create_emulator_app(fixtures: dict[str, Any] | None = None) -> Flask:
    """Build the app; `fixtures` (the `POST /__emu/fixtures` body) are loaded up front."""
    app = EmulatorFlask(__name__)
    state = EmulatorState()
    app.extensions["emulator"] = state
    for module in VENDOR_MODULES.values():
        app.register_blueprint(module.bp)
    app.register_blueprint(control_bp)
    app.before_request(_before_vendor_request)
    app.after_request(_after_vendor_request)
    app.register_error_handler(HTTPException, _vendor_http_error)
    if fixtures:
        load_fixtures(state, fixtures)
    return app


def _vendor() -> str | None:
    head = request.path.split("/", 2)[1]
    return head if head in VENDOR_MODULES else None


def _before_vendor_request() -> Response | None:
    vendor = _vendor()
    if vendor is None:
        return None
    state: EmulatorState = current_app.extensions["emulator"]
    body = request.get_json(silent=True)
    operation = body.get("operationName") if vendor == "linear" and isinstance(body, dict) else None
    g.emu_entry = state.record({
        "ts": time.time(),
        "vendor": vendor,
        "method": request.method,
        "path": request.path,
        "query": request.args.to_dict(flat=True),
        "headers": {h: request.headers[h] for h in LOGGED_HEADERS if h in request.headers},
        "json": body,
        "operationName": operation,
        "fault": None,
        "status": None,
    })
    fault = state.take_fault(vendor, request.method, request.path, operation)
    return _apply_fault(state, vendor, fault) if fault else None


def _apply_fault(state: EmulatorState, vendor: str, fault: Fault) -> Response | None:
    g.emu_entry["fault"] = fault.kind
    if fault.delay_ms:
        state.sleep(fault.delay_ms / 1000)
    module = VENDOR_MODULES[vendor]
    if fault.kind == "drop_connection":
        drop_connection(request.environ)
        g.emu_dropped = True
        return Response(b"", status=500)  # never reaches the client
    if fault.kind == "rate_limit":
        return module.rate_limit_response(fault.retry_after)
    if fault.kind in MODIFIERS:
        g.emu_modifier = fault.kind
        return None
    if fault.kind != "response":
        return None  # plain delay: answer normally
    if fault.body is None:
        response = module.error_response(fault.status)
    else:
        response = Response(fault.body, content_type="application/json")
    response.status_code = fault.status or 500
    response.headers.update(fault.headers)
    if vendor == "attio" and response.status_code == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = module.retry_after_date(fault.retry_after)
    return response


def _after_vendor_request(response: Response) -> Response:
    entry = g.get("emu_entry")
    if entry is not None and not g.get("emu_dropped"):
        entry["status"] = response.status_code
    return response


def _vendor_http_error(exc: HTTPException) -> Response:
    """Unknown routes and wrong methods answer in the vendor's error shape."""
    if exc.response is not None:
        return exc.response
    vendor = _vendor()
    if vendor is None:
        return exc.get_response()
    return VENDOR_MODULES[vendor].error_response(exc.code or 500, exc.description)
