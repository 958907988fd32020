"""Server-side sessions in the ``sessions`` table (platform §3.2) behind Flask's ``session``.

The interface only loads and updates rows; login creates them (``web.auth.service``). It never
re-sends the cookie on ordinary responses; a presented cookie that is unknown or expired is
cleared on the response together with the CSRF cookie.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Request, Response, g
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from shared.db.models.platform import Project, UserSession
from shared.timeutil import as_utc, utcnow
from web.context import AuthContext, db, write

CSRF_KEY = "csrf_token"
log = logging.getLogger(__name__)


class DbSession(CallbackDict, SessionMixin):
    def __init__(self, initial: dict[str, Any] | None = None, session_id: str | None = None) -> None:
        def on_update(_self: CallbackDict) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.session_id = session_id
        self.modified = False


_AUTH_QUERY = (
    select(UserSession.session_id, UserSession.user_id, UserSession.username, UserSession.active_project_id,
           UserSession.csrf_token, UserSession.created_at, UserSession.last_seen_at, UserSession.expires_at,
           Project.account_scope_id)
    .outerjoin(Project, Project.id == UserSession.active_project_id)
    .where(UserSession.session_id == bindparam("sid"))
)


def load_auth(session_id: str, operator_username: str) -> AuthContext | None:
    """The session record of every authenticated request: one Core query, no ORM entity (it is the
    hot path of every read the UI polls)."""
    row = db().connection().execute(_AUTH_QUERY, {"sid": session_id}).first()
    if row is None:
        return None
    if as_utc(row.expires_at) <= utcnow() or row.username.lower() != operator_username.lower():
        return None
    return AuthContext(
        session_id=row.session_id, user_id=row.user_id, username=row.username,
        active_project_id=row.active_project_id if row.account_scope_id else None,
        account_scope_id=row.account_scope_id, csrf_token=row.csrf_token,
        created_at=as_utc(row.created_at), last_seen_at=as_utc(row.last_seen_at),
        expires_at=as_utc(row.expires_at),
    )


class DbSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> DbSession:
        settings = app.extensions["keel.runtime"].settings
        sid = request.cookies.get(settings.session_cookie_name)
        if not sid:
            return DbSession()
        try:
            ctx = load_auth(sid, settings.operator.username) if len(sid) == 64 else None
        except SQLAlchemyError:
            log.exception("session lookup failed")
            g.database_unavailable = True
            return DbSession()
        if ctx is None:
            g.clear_auth_cookies = True
            return DbSession()
        g.auth = ctx
        return DbSession({CSRF_KEY: ctx.csrf_token, "_user_id": str(ctx.user_id)}, session_id=ctx.session_id)

    def save_session(self, app: Flask, session: DbSession, response: Response) -> None:  # type: ignore[override]
        if not session.modified or not session.session_id:
            return
        data = {k: v for k, v in session.items() if k not in (CSRF_KEY, "_user_id", "_fresh", "_id")}
        with write() as s:
            s.execute(update(UserSession).where(UserSession.session_id == session.session_id).values(data=data))
