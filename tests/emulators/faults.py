"""One-shot faults queued through `POST /__emu/faults` (spec connectors-rag §17).

A fault spec::

    {"vendor": "attio", "match": {"method": "POST", "path_regex": "records/query", "operation": None},
     "times": 1, "response": {"status": 500, "headers": {}, "body": {...} | "text", "delay_ms": 0}}
    {"vendor": "linear", "kind": "rate_limit", "retry_after": 2}
    {"vendor": "chatwoot", "kind": "drop_connection"}
    {"vendor": "openai", "kind": "wrong_count"}          # also wrong_dim, nan, shuffle

`body_b64` replaces `body` for raw bytes (invalid UTF-8, NUL bytes). A missing body gets the vendor's
usual error body. `times: -1` never runs out. `delay_ms` alone delays a normal answer.
"""

from __future__ import annotations

import base64
import json
import re
import socket
from dataclasses import dataclass, field
from typing import Any

MODIFIERS = ("wrong_count", "wrong_dim", "nan", "shuffle")  # applied by the OpenAI handler to a normal answer
KINDS = ("response", "delay", "drop_connection", "rate_limit", *MODIFIERS)


@dataclass
class Fault:
    kind: str
    vendor: str | None = None
    method: str | None = None
    path_regex: re.Pattern[str] | None = None
    operation: str | None = None
    times: int = 1
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    delay_ms: int = 0
    retry_after: float = 1.0

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Fault:
        if not isinstance(spec, dict):
            raise ValueError("a fault must be a JSON object")
        match = spec.get("match") or {}
        response = spec.get("response") or {}
        kind = spec.get("kind") or ("response" if response.get("status") else "delay")
        if kind not in KINDS:
            raise ValueError(f"unknown fault kind {kind!r}; expected one of {', '.join(KINDS)}")
        if kind == "delay" and not response.get("delay_ms"):
            raise ValueError("a fault needs kind, response.status or response.delay_ms")
        times = int(spec.get("times", 1))
        if times == 0 or times < -1:
            raise ValueError("times must be a positive integer or -1 (unlimited)")
        regex = match.get("path_regex")
        return cls(
            kind=kind,
            vendor=spec.get("vendor"),
            method=(match.get("method") or "").upper() or None,
            path_regex=re.compile(regex) if regex else None,
            operation=match.get("operation"),
            times=times,
            status=int(response["status"]) if response.get("status") else None,
            headers={str(k): str(v) for k, v in (response.get("headers") or {}).items()},
            body=_body_bytes(response),
            delay_ms=int(response.get("delay_ms") or spec.get("delay_ms") or 0),
            retry_after=float(spec.get("retry_after", 1)),
        )

    def matches(self, vendor: str, method: str, path: str, operation: str | None) -> bool:
        return (
            (self.vendor is None or self.vendor == vendor)
            and (self.method is None or self.method == method)
            and (self.path_regex is None or self.path_regex.search(path) is not None)
            and (self.operation is None or self.operation == operation)
        )

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "vendor": self.vendor,
            "match": {
                "method": self.method,
                "path_regex": self.path_regex.pattern if self.path_regex else None,
                "operation": self.operation,
            },
            "times": self.times,
            "status": self.status,
            "delay_ms": self.delay_ms,
        }


def _body_bytes(response: dict[str, Any]) -> bytes | None:
    if response.get("body_b64") is not None:
        return base64.b64decode(response["body_b64"])
    body = response.get("body")
    if body is None:
        return None
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False).encode("utf-8")


def parse_specs(payload: Any) -> list[Fault]:
    """Accept one fault object, a list of them, or {"faults": [...]}."""
    if isinstance(payload, dict) and "faults" in payload:
        payload = payload["faults"]
    specs = payload if isinstance(payload, list) else [payload]
    return [Fault.from_spec(spec) for spec in specs]


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client socket without an answer; werkzeug's later write fails quietly (EPIPE)."""
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        sock.shutdown(socket.SHUT_RDWR)
