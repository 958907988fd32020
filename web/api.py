"""Route declarations: one decorator registers a view, its schemas and its auth policy.

The registry feeds the OpenAPI document (``web/openapi.py``) and the security test that walks the
URL map, so a route cannot ship without a declared policy. Policy: every route is protected by a
session except ``public`` ones; every mutating method on a protected route is CSRF-checked by the
request pipeline; ``project=True`` routes resolve the active project scope before anything else.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import wraps
from typing import Any

from flask import Blueprint
from pydantic import BaseModel

from web.validation import parse_body, parse_positive_int, parse_query, parse_uuid

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class PathParam:
    kind: str  # "uuid" | "int" | "str"
    error_code: str = "invalid_id"

    def parse(self, value: str) -> Any:
        if self.kind == "uuid":
            return parse_uuid(value, self.error_code)
        if self.kind == "int":
            return parse_positive_int(value, self.error_code)
        return value


@dataclass
class RouteSpec:
    blueprint: str
    rule: str
    method: str
    endpoint: str
    summary: str
    public: bool
    project: bool
    account: bool
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    path: dict[str, PathParam]
    success: int
    tags: tuple[str, ...]
    responses: dict[int, str] = field(default_factory=dict)

    @property
    def csrf(self) -> bool:
        return not self.public and self.method in MUTATING

    @property
    def openapi_path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", r"{\1}", self.rule)


REGISTRY: dict[tuple[str, str], RouteSpec] = {}


def route(
    bp: Blueprint,
    rule: str,
    *,
    method: str = "GET",
    summary: str = "",
    public: bool = False,
    project: bool = True,
    account: bool = False,
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    path: dict[str, PathParam] | None = None,
    success: int = 200,
    responses: dict[int, str] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register ``fn`` on ``bp``; the view receives ``scope``, ``q``, ``body`` and parsed path values."""
    path = path or {}
    needs_project = project and not public and not account

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        from web.context import require_account_scope, require_project_scope

        spec = RouteSpec(
            blueprint=bp.name, rule=rule, method=method, endpoint=f"{bp.name}.{fn.__name__}",
            summary=summary or (fn.__doc__ or fn.__name__).strip().splitlines()[0], public=public,
            project=needs_project, account=account, body=body, query=query, path=path, success=success,
            tags=(bp.name,), responses=responses or {},
        )
        REGISTRY[(spec.rule, method)] = spec

        @wraps(fn)
        def view(**kwargs: Any) -> Any:
            if needs_project:
                kwargs["scope"] = require_project_scope()
            elif account:
                kwargs["account_scope_id"] = require_account_scope()
            for name, param in path.items():
                kwargs[name] = param.parse(kwargs[name])
            if query is not None:
                kwargs["q"] = parse_query(query)
            if body is not None:
                kwargs["body"] = parse_body(body)
            return fn(**kwargs)

        view.__api_spec__ = spec  # type: ignore[attr-defined]
        bp.add_url_rule(rule, endpoint=fn.__name__, view_func=view, methods=[method], strict_slashes=False)
        return view

    return decorator


def spec_for_endpoint(endpoint: str) -> RouteSpec | None:
    name = endpoint.removeprefix("v1_")
    for spec in REGISTRY.values():
        if spec.endpoint == name:
            return spec
    return None
