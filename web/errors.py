"""The one mapping from exceptions to the error envelope (platform §2.3, §2.8)."""

from __future__ import annotations

import logging

from flask import Flask, g
from flask_wtf.csrf import CSRFError
from redis.exceptions import RedisError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from shared.errors import KeelError
from web.context import runtime
from web.envelope import error

log = logging.getLogger(__name__)
HTTP_CODES = {
    400: "invalid_body", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    413: "payload_too_large", 415: "unsupported_media_type", 429: "too_many_requests",
}
HTTP_MESSAGES = {404: "Not found", 405: "Method not allowed", 413: "Request body is too large"}


def _keel(exc: KeelError):  # noqa: ANN202
    if exc.status == 500:
        log.error("server error: %s", exc.message, exc_info=exc)
    g.error_code = exc.code
    message = exc.message
    if exc.status >= 500 and runtime().settings.production:
        message = "Internal server error"
    return error(exc.status, exc.code, message, exc.details, exc.headers)


def _csrf(exc: CSRFError):  # noqa: ANN202
    g.error_code = "csrf_invalid"
    return error(403, "csrf_invalid", "Invalid CSRF token")


def _http(exc: HTTPException):  # noqa: ANN202
    original = getattr(exc, "original_exception", None)  # raised outside a view (session save, after_request)
    if isinstance(original, SQLAlchemyError):
        return _database(original)
    if original is not None:
        return _unhandled(original)
    status = exc.code or 500
    code = HTTP_CODES.get(status, "internal_error" if status >= 500 else "bad_request")
    g.error_code = code
    return error(status, code, HTTP_MESSAGES.get(status, exc.description or code))


def database_down(exc: BaseException) -> bool:
    """A lost or refused connection (server restart, failover, pool exhausted), not a bug in a statement."""
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _database(exc: SQLAlchemyError):  # noqa: ANN202
    if not database_down(exc):
        return _unhandled(exc)
    log.error("database unavailable", exc_info=exc)
    g.error_code = "database_unavailable"
    return error(503, "database_unavailable", "The database is unavailable")


def _unhandled(exc: Exception):  # noqa: ANN202
    log.error("unhandled exception", exc_info=exc)
    g.error_code = "internal_error"
    message = "Internal server error" if runtime().settings.production else f"{type(exc).__name__}: {exc}"
    return error(500, "internal_error", message[:500])


def init_app(app: Flask) -> None:
    app.register_error_handler(KeelError, _keel)
    app.register_error_handler(CSRFError, _csrf)
    app.register_error_handler(HTTPException, _http)
    app.register_error_handler(RedisError, _unhandled)
    app.register_error_handler(SQLAlchemyError, _database)
    app.register_error_handler(Exception, _unhandled)
