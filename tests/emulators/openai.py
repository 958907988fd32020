"""OpenAI-compatible embeddings emulator (spec connectors-rag §7.2, §17) at `/openai/v1/embeddings`.

Fixture `{"key": "sk-…" | "" , "dim": 1536, "model": None, "reject_marker": None, "max_inputs": 2048}`.
An empty key disables the Bearer check. Each vector is a deterministic unit vector: the SHA-256 of
the input seeds a chain `sha256(seed || counter)` whose 16-bit words become the components.
Inputs containing `reject_marker` get a 400 for the whole batch (exercises bisection). One-shot
modifier faults: `wrong_count`, `wrong_dim`, `nan`, `shuffle` (answer in reverse order).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request

from .state import EmulatorState

DEFAULTS: dict[str, Any] = {"key": "", "dim": 1536, "model": None, "reject_marker": None, "max_inputs": 2048}

bp = Blueprint("openai", __name__, url_prefix="/openai")


def embed(text: str, dim: int) -> list[float]:
    seed = hashlib.sha256(text.encode("utf-8")).digest()
    values: list[float] = []
    counter = 0
    while len(values) < dim:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        values.extend(int.from_bytes(block[i:i + 2], "big") / 32767.5 - 1.0 for i in range(0, 32, 2))
        counter += 1
    values = values[:dim]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


class OpenAIStore:
    def __init__(self, fixture: dict[str, Any]) -> None:
        merged = {**DEFAULTS, **fixture}
        self.key: str = merged["key"] or ""
        self.dim = int(merged["dim"])
        self.model: str | None = merged["model"]
        self.reject_marker: str | None = merged["reject_marker"]
        self.max_inputs = int(merged["max_inputs"])

    @classmethod
    def from_fixture(cls, fixture: dict[str, Any]) -> OpenAIStore:
        return cls(fixture)

    def summary(self) -> dict[str, Any]:
        return {"dim": self.dim, "auth": bool(self.key)}


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


def error_response(status: int, message: str | None = None, code: str | None = None) -> Response:
    response = jsonify({"error": {"message": message or f"Emulated error {status}",
                                  "type": "invalid_request_error" if status < 500 else "server_error",
                                  "param": None, "code": code}})
    response.status_code = status
    return response


def rate_limit_response(retry_after: float) -> Response:
    response = error_response(429, "Rate limit reached for requests", "rate_limit_exceeded")
    response.headers["Retry-After"] = str(math.ceil(retry_after))
    response.headers["x-ratelimit-reset-requests"] = f"{retry_after:g}s"
    return response


@bp.post("/v1/embeddings")
def embeddings() -> Response:
    state = _state()
    with state.lock:
        store = state.stores.get("openai") or OpenAIStore({})
    if store.key and request.headers.get("Authorization") != f"Bearer {store.key}":
        return error_response(401, "Incorrect API key provided.", "invalid_api_key")
    body = request.get_json(silent=True)
    inputs = body.get("input") if isinstance(body, dict) else None
    if isinstance(inputs, str):
        inputs = [inputs]
    if not isinstance(inputs, list) or not inputs or not all(isinstance(t, str) and t for t in inputs):
        return error_response(400, "'input' must be a non-empty string or a list of non-empty strings.")
    if len(inputs) > store.max_inputs:
        return error_response(400, f"'input' must have at most {store.max_inputs} items.")
    if store.reject_marker and any(store.reject_marker in t for t in inputs):
        return error_response(400, "Invalid 'input': rejected by the emulator's reject_marker.")
    modifier = g.get("emu_modifier")
    dim = store.dim - 1 if modifier == "wrong_dim" else store.dim
    data = [{"object": "embedding", "index": i, "embedding": embed(t, dim)} for i, t in enumerate(inputs)]
    if modifier == "wrong_count":
        data = data[:-1]
    elif modifier == "nan":
        data[0]["embedding"][0] = math.nan
    elif modifier == "shuffle":
        data.reverse()
    tokens = sum(max(1, len(t) // 4) for t in inputs)
    return jsonify({"object": "list", "data": data, "model": store.model or body.get("model") or "emulated",
                    "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})
