"""The request pipeline (platform §3.5, order is normative) and the response decorations.

1 request id → 2 CORS preflight → 3 body size → 4 public routes → 5-6 session → 7 last_seen →
8 CSRF on mutating methods → 9 dispatch (scope is resolved by the route declaration).
"""

from __future__ import annotations

import logging
import re
import time
import uuid

from flask import Flask, Response, g, request
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import update

from shared import logs
from shared.db.models.platform import UserSession
from shared.errors import PayloadTooLarge, ServiceUnavailable, Unauthorized
from shared.timeutil import utcnow
from web.context import runtime, write

log = logging.getLogger("web.request")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
PUBLIC_PATHS = ("/health", "/metrics", "/openapi.json")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
LAST_SEEN_EVERY_S = 60
csrf = CSRFProtect()


def normalized_path(path: str) -> str:
    if path == "/v1" or path.startswith("/v1/"):
        path = path[3:] or "/"
    return path.rstrip("/") or "/"


def is_public(path: str) -> bool:
    p = normalized_path(path)
    return p in PUBLIC_PATHS or p == "/auth" or p.startswith("/auth/")


def is_dashboard(path: str) -> bool:
    return path == "/rq" or path.startswith("/rq/")


def assign_request_id() -> None:
    incoming = request.headers.get("x-request-id", "")
    g.request_id = incoming if _REQUEST_ID.match(incoming) else str(uuid.uuid4())
    g.started = time.perf_counter()
    g.log_token = logs.bind(request_id=g.request_id, method=request.method, path=request.path)


def cors_headers(resp: Response) -> None:
    origin = request.headers.get("Origin")
    if origin and origin in runtime().settings.cors_origins:
        resp.headers["Access-Control-Allow-Origin"] = origin
        resp.headers["Access-Control-Allow-Credentials"] = "true"
        resp.headers["Access-Control-Expose-Headers"] = "x-request-id"
        resp.headers.add("Vary", "Origin")


def preflight() -> Response | None:
    if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
        return None
    resp = Response(status=204)
    origin = request.headers.get("Origin")
    if origin and origin in runtime().settings.cors_origins:
        resp.headers["Access-Control-Allow-Methods"] = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
        resp.headers["Access-Control-Allow-Headers"] = "content-type, x-csrf-token, x-request-id"
        resp.headers["Access-Control-Max-Age"] = "600"
    return resp


def before_request() -> Response | None:
    assign_request_id()
    early = preflight()
    if early is not None:
        return early
    limit = runtime().settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(message="Request body is too large")
    if is_public(request.path):
        return None
    ctx = g.get("auth")
    if ctx is None and g.get("database_unavailable"):
        raise ServiceUnavailable("database_unavailable", "The database is unavailable")
    if ctx is None:
        raise Unauthorized(message="Authentication required")
    logs.bind(username=ctx.username)
    now = utcnow()
    if (now - ctx.last_seen_at).total_seconds() >= LAST_SEEN_EVERY_S:
        with write() as s:
            s.execute(update(UserSession).where(UserSession.session_id == ctx.session_id).values(last_seen_at=now))
        ctx.last_seen_at = now
    # An unrouted request (404/405) executes nothing: let routing answer it.
    if request.method not in SAFE_METHODS and not is_dashboard(request.path) and request.routing_exception is None:
        csrf.protect()
    return None


def clear_auth_cookies(resp: Response) -> None:
    settings = runtime().settings
    for name, http_only in ((settings.session_cookie_name, True), (settings.csrf_cookie_name, False)):
        resp.delete_cookie(name, path="/", secure=settings.production, httponly=http_only, samesite="Lax")


def after_request(resp: Response) -> Response:
    resp.headers["x-request-id"] = g.get("request_id") or str(uuid.uuid4())
    cors_headers(resp)
    if g.pop("clear_auth_cookies", False):
        clear_auth_cookies(resp)
    status = resp.status_code
    duration_ms = round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2)
    level = logging.ERROR if status >= 500 else logging.WARNING if status >= 400 else logging.INFO
    log.log(level, "request", extra={"fields": {"status": status, "duration_ms": duration_ms,
                                                "error": g.get("error_code")}})
    return resp


def teardown(_exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        logs.reset(token)


def init_app(app: Flask) -> None:
    settings = app.extensions["keel.runtime"].settings
    app.config.update(
        SECRET_KEY=settings.session_secret, WTF_CSRF_SECRET_KEY=settings.session_secret,
        WTF_CSRF_CHECK_DEFAULT=False, WTF_CSRF_HEADERS=["X-CSRF-Token"],
        WTF_CSRF_METHODS=["POST", "PUT", "PATCH", "DELETE"], WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=settings.csrf_ssl_strict, MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    csrf.init_app(app)
    app.before_request(before_request)
    app.after_request(after_request)
    app.teardown_request(teardown)
