"""Schemathesis (v4) against ``/openapi.json`` with a logged-in session, a valid CSRF token and an active project.

Used by the CI test (``tests/fuzz/test_fuzz_api.py``, in-process WSGI, a few hundred cases) and by the full
run (``bench/fuzz.py``, real gunicorn, thousands of cases). Every operation of the document is fuzzed, so a
route added by anyone is fuzzed as soon as it is declared.

Per operation: ``examples`` positive and ``examples`` negative cases (schemathesis' generation modes), plus
positive cases whose path ids are real ids of the active project (so a route is fuzzed past its 404). Each
response goes through schemathesis' checks: no 5xx (``not_a_server_error``), documented status code, content
type and body schema (the envelope), and ``ignored_auth`` (a success must fail without the session / CSRF
token). Failures are collected, never raised mid-run, so one report shows everything.
"""

from __future__ import annotations

import random
import time
import traceback
import zlib
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = (not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          ignored_auth)
# Operations fuzzed last, in their own phase: they end the session.
SESSION_ENDING = frozenset({"POST /auth/logout"})
MESSAGE_MAX = 1500


@dataclass
class Failure:
    operation: str
    status: int | None
    checks: list[str]
    message: str
    mode: str

    def as_dict(self) -> dict[str, Any]:
        return {"operation": self.operation, "status": self.status, "checks": self.checks, "mode": self.mode,
                "message": self.message}


@dataclass
class FuzzReport:
    requests: int = 0
    operations: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    by_operation: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)
    duration_s: float = 0.0
    seed: int | None = None

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.by_status.items() if status >= 500)

    @property
    def schema_violations(self) -> int:
        """Responses outside the document: undocumented status, content type or body (the envelope)."""
        wanted = {"status_code_conformance", "content_type_conformance", "response_schema_conformance"}
        return sum(1 for f in self.failures if wanted & set(f.checks))

    def distinct_failures(self) -> dict[tuple[str, str], Failure]:
        out: dict[tuple[str, str], Failure] = {}
        for f in self.failures:
            out.setdefault((f.operation, ",".join(sorted(f.checks))), f)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests, "operations": self.operations, "responses_5xx": self.server_errors,
            "responses_outside_schema": self.schema_violations, "failures": len(self.failures),
            "distinct_failures": [f.as_dict() for f in self.distinct_failures().values()],
            "by_status": {str(k): v for k, v in sorted(self.by_status.items())},
            "by_operation": dict(sorted(self.by_operation.items())), "duration_s": round(self.duration_s, 2),
            "seed": self.seed,
        }

    def summary(self) -> str:
        lines = [f"{self.requests} requests over {self.operations} operations in {self.duration_s:.1f}s; "
                 f"5xx={self.server_errors}, outside schema={self.schema_violations}, failures={len(self.failures)}"]
        for f in self.distinct_failures().values():
            lines.append(f"- {f.operation} [{f.mode}] {f.status} {','.join(f.checks)}: {f.message[:600]}")
        return "\n".join(lines)


def auth_config(security_schemes: dict[str, Any], session_id: str, csrf_token: str) -> schemathesis.Config:
    """Credentials for the document's ``apiKey`` schemes: the session cookie and the CSRF header."""
    schemes: dict[str, dict[str, str]] = {}
    for name, scheme in security_schemes.items():
        if scheme.get("type") != "apiKey":
            continue
        schemes[name] = {"api_key": session_id if scheme.get("in") == "cookie" else csrf_token}
    return schemathesis.Config.from_dict({"auth": {"openapi": schemes}})


def _label(operation: Any) -> str:
    return f"{operation.method.upper()} {operation.path}"


def _failure_checks(exc: BaseException) -> list[str]:
    names = []
    for sub in getattr(exc, "exceptions", ()) or ():
        names.append(_check_name(sub))
    return sorted(set(names)) or [type(exc).__name__]


def _check_name(exc: BaseException) -> str:
    mapping = {
        "UndefinedStatusCode": "status_code_conformance", "UndefinedContentType": "content_type_conformance",
        "MalformedMediaType": "content_type_conformance", "MissingContentType": "content_type_conformance",
        "JsonSchemaError": "response_schema_conformance", "ServerError": "not_a_server_error",
        "IgnoredAuth": "ignored_auth",
    }
    return mapping.get(type(exc).__name__, type(exc).__name__)


class Fuzzer:
    """Runs the cases; ``send(case)`` performs one request (WSGI or HTTP) and returns the response."""

    def __init__(self, schema: Any, *, send: Callable[[Any], Any], examples: int = 5, id_examples: int | None = None,
                 id_pool: dict[str, list[str]] | None = None, seed: int | None = None,
                 validate_kwargs: Callable[[Any], dict[str, Any]] | None = None,
                 progress: Callable[[str, int], None] | None = None) -> None:
        self.schema, self.send, self.examples = schema, send, examples
        self.id_examples = examples if id_examples is None else id_examples
        self.id_pool = id_pool or {}
        self.seed = seed if seed is not None else random.getrandbits(64)
        self.validate_kwargs = validate_kwargs or (lambda case: {})
        self.progress = progress
        self.report = FuzzReport(seed=self.seed)

    def operations(self) -> list[Any]:
        ops = [result.ok() for result in self.schema.get_all_operations()]
        return sorted(ops, key=lambda op: (_label(op) in SESSION_ENDING, op.path, op.method))

    def run(self, only: Iterable[str] | None = None) -> FuzzReport:
        started = time.monotonic()
        wanted = set(only) if only is not None else None
        ops = [op for op in self.operations() if wanted is None or _label(op) in wanted]
        self.report.operations = len(ops)
        for op in ops:
            before = self.report.requests
            self._fuzz(op, GenerationMode.POSITIVE, self.examples)
            self._fuzz(op, GenerationMode.NEGATIVE, self.examples)
            for fixed in self._real_path_parameters(op):
                self._fuzz(op, GenerationMode.POSITIVE, self.id_examples, path_parameters=fixed)
            if self.progress is not None:
                self.progress(_label(op), self.report.requests - before)
        self.report.duration_s = time.monotonic() - started
        return self.report

    def _real_path_parameters(self, op: Any) -> list[dict[str, str]]:
        """A few combinations of real ids for the operation's path parameters (uuid / integer kinds)."""
        params = [p for p in op.path_parameters]
        if not params or not self.id_pool:
            return []
        rng = random.Random(self.seed ^ zlib.crc32(_label(op).encode()))
        combos = []
        for _ in range(2):
            fixed = {}
            for p in params:
                schema = p.definition.get("schema", {})
                kind = "uuid" if schema.get("format") == "uuid" else "int" if schema.get("pattern") else None
                pool = self.id_pool.get(kind or "", [])
                if not pool:
                    return combos
                fixed[p.name] = rng.choice(pool)
            combos.append(fixed)
        return combos

    def _fuzz(self, op: Any, mode: GenerationMode, examples: int, **fixed: Any) -> None:
        if examples <= 0:
            return
        strategy = op.as_strategy(generation_mode=mode, **fixed)
        label = _label(op)

        @hypothesis_seed(self.seed)
        @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck), derandomize=False)
        @given(strategy)
        def one(case: Any) -> None:
            self._one(label, mode.value, case)

        try:
            one()
        except Unsatisfiable:  # e.g. negative mode on an operation with nothing to negate
            return
        except Exception as exc:  # noqa: BLE001 - generation problems are reported, not fatal
            self.report.failures.append(Failure(label, None, ["generation"], _text(exc), mode.value))

    def _one(self, label: str, mode: str, case: Any) -> None:
        self.report.requests += 1
        self.report.by_operation[label] += 1
        try:
            response = self.send(case)
        except Exception as exc:  # noqa: BLE001 - an exception raised by the app under WSGI is a 500
            self.report.by_status[500] += 1
            self.report.failures.append(Failure(label, 500, ["not_a_server_error"], _text(exc), mode))
            return
        self.report.by_status[response.status_code] += 1
        try:
            case.validate_response(response, checks=list(CHECKS), **self.validate_kwargs(case))
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected into the report
            self.report.failures.append(Failure(label, response.status_code, _failure_checks(exc), _text(exc), mode))


def _text(exc: BaseException) -> str:
    text = str(exc) or "".join(traceback.format_exception_only(type(exc), exc))
    if getattr(exc, "__notes__", None):
        text += "\n" + "\n".join(exc.__notes__)
    return text[:MESSAGE_MAX]


def wsgi_schema(app: Any, session_id: str, csrf_token: str) -> Any:
    """The app's document, cases sent in-process (the WSGI transport re-raises the app's exceptions).

    Loaded with ``from_dict`` rather than ``from_wsgi`` so that ``/openapi.json`` itself is fuzzed too
    (schemathesis skips the operation it loaded the document from).
    """
    document = app.test_client().get("/openapi.json").get_json()
    config = auth_config(document["components"]["securitySchemes"], session_id, csrf_token)
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.app = app
    return schema


def http_schema(base_url: str, session_id: str, csrf_token: str) -> Any:
    """The document of a running server; cases go over real HTTP."""
    import httpx

    document = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    config = auth_config(document["components"]["securitySchemes"], session_id, csrf_token)
    schema = schemathesis.openapi.from_dict(document, config=config)
    schema.config.base_url = base_url
    return schema
