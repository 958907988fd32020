"""Auth routes (platform §6.2): login, logout, me, and the disabled sign-up/Telegram flows."""

from __future__ import annotations

import logging

from flask import Response, current_app, g, request, session
from flask_login import current_user, login_user
from flask_wtf.csrf import generate_csrf

from shared.errors import Gone, RateLimited, Unauthorized
from shared.ratelimit import LoginRateLimiter
from shared.timeutil import iso
from web.api import route
from web.auth import bp
from web.auth.login_manager import Operator
from web.auth.schemas import LoginIn
from web.auth.service import create_session, delete_session, operator_user, verify_credentials
from web.context import runtime, write
from web.envelope import ok
from web.pipeline import clear_auth_cookies, csrf
from web.sessions import CSRF_KEY, load_auth

log = logging.getLogger(__name__)


def _limiter() -> LoginRateLimiter:
    s = runtime().settings
    return LoginRateLimiter(runtime().redis, s.login_max_attempts, s.login_window_minutes * 60)


def set_auth_cookies(resp: Response, session_id: str, signed_csrf: str) -> None:
    s = runtime().settings
    resp.set_cookie(s.session_cookie_name, session_id, max_age=s.session_ttl_seconds, path="/",
                    secure=s.production, httponly=True, samesite="Lax")
    resp.set_cookie(s.csrf_cookie_name, signed_csrf, max_age=s.session_ttl_seconds, path="/",
                    secure=s.production, httponly=False, samesite="Lax")


@route(bp, "/auth/login", method="POST", public=True, body=LoginIn, summary="Log in as the operator")
def login(body: LoginIn) -> Response:
    username, password = body.normalized()
    settings = runtime().settings
    limiter = _limiter()
    key = limiter.key(request.remote_addr or "-", username)
    wait = limiter.retry_after(key)
    if wait is not None:
        log.warning("login rate limited", extra={"fields": {"username": username, "ip": request.remote_addr}})
        raise RateLimited("login_rate_limited", "Too many login attempts, try again later",
                          headers={"Retry-After": str(wait)})
    # One hash check against the configured hash whatever the username: same work, no username oracle.
    if not verify_credentials(settings, settings.operator.password_hash, username, password):
        limiter.record_failure(key)
        log.info("login failed", extra={"fields": {"username": username, "ip": request.remote_addr}})
        raise Unauthorized("invalid_credentials", "Invalid credentials")
    limiter.clear(key)
    with write() as s:
        user = operator_user(s, settings)
        previous = g.get("auth")
        if previous is not None:
            delete_session(s, previous.session_id)
        record = create_session(s, settings, user)
    session.clear()
    g.auth = load_auth(record.session_id, settings.operator.username)
    login_user(Operator(user.id, record.username))
    session[CSRF_KEY] = record.csrf_token
    session.session_id = None  # the row is already written; nothing to save
    session.modified = False
    g.pop("csrf_token", None)
    signed = generate_csrf()
    log.info("login succeeded", extra={"fields": {"username": username, "ip": request.remote_addr}})
    resp = ok({"username": settings.operator.username, "active_project_id": None,
               "csrf_cookie_name": settings.csrf_cookie_name})
    set_auth_cookies(resp, record.session_id, signed)
    g.pop("clear_auth_cookies", None)
    return resp


@route(bp, "/auth/logout", method="POST", public=True, summary="Log out (CSRF-checked when the session is valid)")
def logout() -> Response:
    ctx = g.get("auth")
    if ctx is not None:
        csrf.protect()
        with write() as s:
            delete_session(s, ctx.session_id)
    resp = ok()
    clear_auth_cookies(resp)
    return resp


@route(bp, "/auth/me", public=True, summary="The current session, if any")
def me() -> Response:
    ctx = g.get("auth")
    settings = runtime().settings
    if ctx is None or not current_user.is_authenticated:
        return ok({"authenticated": False})
    resp = ok({
        "authenticated": True, "username": ctx.username, "active_project_id": ctx.active_project_id,
        "account_scope_id": ctx.account_scope_id, "csrf_cookie_name": settings.csrf_cookie_name,
        "created_at": iso(ctx.created_at), "last_seen_at": iso(ctx.last_seen_at),
    })
    if settings.csrf_cookie_name not in request.cookies:
        s = current_app.extensions["keel.runtime"].settings
        resp.set_cookie(s.csrf_cookie_name, generate_csrf(), max_age=s.session_ttl_seconds, path="/",
                        secure=s.production, httponly=False, samesite="Lax")
    return resp


@route(bp, "/auth/signup/status", public=True, summary="Sign-up is disabled")
def signup_status() -> Response:
    return ok({"enabled": False, "has_telegram_token": False, "owner_bound": False, "reason": "signup_disabled"})


@route(bp, "/auth/signup/start", method="POST", public=True, summary="Disabled (410)", responses={410: "disabled"})
def signup_start() -> Response:
    raise Gone("signup_disabled", "Signup is disabled")


@route(bp, "/auth/signup/confirm", method="POST", public=True, summary="Disabled (410)", responses={410: "disabled"})
def signup_confirm() -> Response:
    raise Gone("signup_disabled", "Signup is disabled")


@route(bp, "/auth/telegram/webhook", method="POST", public=True, summary="Disabled (410)",
       responses={410: "disabled"})
def telegram_webhook() -> Response:
    raise Gone("telegram_disabled", "Telegram flow is disabled")
