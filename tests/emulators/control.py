"""Test-only control endpoints under `/__emu` (spec connectors-rag §17).

    POST   /__emu/reset      clear fixtures, faults and the request log
    POST   /__emu/fixtures   load fixtures; each vendor key given replaces that vendor's data
    GET    /__emu/fixtures   per-vendor counts of what is loaded
    POST   /__emu/faults     queue faults (one object, a list, or {"faults": [...]}); see faults.py
    GET    /__emu/faults     faults still queued;  DELETE clears them
    GET    /__emu/requests   request log (?vendor=…);  DELETE clears it
    POST   /__emu/mutate     change vendor data: {"vendor", "op", …} or {"ops": [...]}
    GET    /__emu/health
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from . import attio, chatwoot, linear, loops, openai
from .faults import parse_specs
from .state import EmulatorState

VENDOR_MODULES: dict[str, Any] = {"chatwoot": chatwoot, "attio": attio, "linear": linear, "openai": openai,
                                  "loops": loops}
STORES: dict[str, Any] = {
    "chatwoot": chatwoot.ChatwootStore,
    "attio": attio.AttioStore,
    "linear": linear.LinearStore,
    "openai": openai.OpenAIStore,
    "loops": loops.LoopsStore,
}

bp = Blueprint("emu", __name__, url_prefix="/__emu")


def load_fixtures(state: EmulatorState, fixtures: dict[str, Any]) -> dict[str, Any]:
    """Build every vendor store first, then swap them in together."""
    unknown = [k for k in fixtures if k not in STORES and not k.startswith("_")]
    if unknown:
        raise ValueError(f"unknown vendor(s) {unknown}; expected {sorted(STORES)}")
    built = {vendor: STORES[vendor].from_fixture(fx or {}) for vendor, fx in fixtures.items() if vendor in STORES}
    with state.lock:
        state.stores.update(built)
    return {vendor: store.summary() for vendor, store in built.items()}


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


def _bad_request(message: str, status: int = 400) -> Response:
    response = jsonify({"ok": False, "error": message})
    response.status_code = status
    return response


@bp.get("/health")
def health() -> Response:
    return jsonify({"ok": True})


@bp.post("/reset")
def reset() -> Response:
    _state().reset()
    return jsonify({"ok": True})


@bp.post("/fixtures")
def post_fixtures() -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return _bad_request("fixtures must be a JSON object")
    try:
        return jsonify({"ok": True, "loaded": load_fixtures(_state(), body)})
    except (KeyError, TypeError, ValueError) as exc:
        return _bad_request(f"invalid fixtures: {exc!r}")


@bp.get("/fixtures")
def get_fixtures() -> Response:
    with _state().lock:
        return jsonify({"ok": True, "loaded": {v: s.summary() for v, s in _state().stores.items()}})


@bp.post("/faults")
def post_faults() -> Response:
    try:
        faults = parse_specs(request.get_json(silent=True))
    except (TypeError, ValueError) as exc:
        return _bad_request(f"invalid fault: {exc}")
    bad = [f.vendor for f in faults if f.vendor is not None and f.vendor not in VENDOR_MODULES]
    if bad:
        return _bad_request(f"unknown vendor(s) {bad}")
    with _state().lock:
        _state().faults.extend(faults)
        return jsonify({"ok": True, "queued": len(_state().faults)})


@bp.get("/faults")
def get_faults() -> Response:
    with _state().lock:
        return jsonify({"ok": True, "faults": [f.describe() for f in _state().faults]})


@bp.delete("/faults")
def clear_faults() -> Response:
    with _state().lock:
        _state().faults.clear()
    return jsonify({"ok": True})


@bp.get("/requests")
def get_requests() -> Response:
    vendor = request.args.get("vendor")
    with _state().lock:
        entries = [e for e in _state().log if vendor in (None, e["vendor"])]
        return jsonify({"ok": True, "requests": entries})


@bp.delete("/requests")
def clear_requests() -> Response:
    with _state().lock:
        _state().log.clear()
    return jsonify({"ok": True})


@bp.post("/mutate")
def mutate() -> Response:
    body = request.get_json(silent=True)
    ops = body.get("ops") if isinstance(body, dict) and "ops" in body else [body]
    if not all(isinstance(op, dict) and op.get("vendor") in VENDOR_MODULES and op.get("op") for op in ops):
        return _bad_request('each op needs "vendor" (chatwoot, attio, linear) and "op"')
    results = []
    with _state().lock:
        for op in ops:
            store = _state().stores.get(op["vendor"])
            module = VENDOR_MODULES[op["vendor"]]
            if store is None or not hasattr(module, "mutate"):
                return _bad_request(f"no {op['vendor']} fixtures loaded (or nothing to mutate)", 404)
            try:
                results.append(module.mutate(store, op))
            except KeyError as exc:
                return _bad_request(f"not found: {exc}", 404)
            except (TypeError, ValueError) as exc:
                return _bad_request(str(exc))
        return jsonify({"ok": True, "results": results})
