"""Per-request state: the DB session, the authenticated session record and the active scope."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, request
from sqlalchemy.orm import Session

from shared.errors import Conflict, Unauthorized
from shared.runtime import Runtime
from shared.scope import Scope


@dataclass
class AuthContext:
    session_id: str
    user_id: uuid.UUID | None
    username: str
    active_project_id: uuid.UUID | None
    account_scope_id: uuid.UUID | None
    csrf_token: str
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime


def runtime() -> Runtime:
    return current_app.extensions["keel.runtime"]


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def db() -> Session:
    """One SQLAlchemy session per request (closed on teardown).

    A read-only request (GET/HEAD/OPTIONS) reads in autocommit (``Runtime.read_sessions``); writes
    always go through ``write()``.
    """
    if "db" not in g:
        rt = runtime()
        g.db = rt.read_sessions() if request.method in READ_METHODS else rt.sessions()
    return g.db


@contextmanager
def write() -> Iterator[Session]:
    """The request's unit of work: commits on success, rolls back on error, all or nothing.

    On a mutating request it is the request session (any read transaction is ended first); on a
    read-only request, whose session reads in autocommit, it is a transaction of its own, so that
    the few writes a read makes (``last_seen_at``, shown counters, seeding defaults) stay atomic.
    """
    session = db()
    if request.method in READ_METHODS:
        with runtime().transaction() as own:
            yield own
        return
    if session.in_transaction():
        session.commit()
    with session.begin():
        yield session


def close_db(_exc: BaseException | None = None) -> None:
    session = g.pop("db", None)
    if session is not None:
        session.close()


def auth() -> AuthContext:
    ctx = g.get("auth")
    if ctx is None:
        raise Unauthorized(message="Authentication required")
    return ctx


def username() -> str | None:
    ctx = g.get("auth")
    return ctx.username if ctx else None


def require_project_scope() -> Scope:
    ctx = auth()
    if ctx.active_project_id is None or ctx.account_scope_id is None:
        raise Conflict("active_project_required", "Select active project first")
    return Scope(ctx.active_project_id, ctx.account_scope_id)


def require_account_scope() -> uuid.UUID:
    ctx = auth()
    if ctx.account_scope_id is None:
        raise Conflict("account_scope_required", "Select a project of the account scope first")
    return ctx.account_scope_id
