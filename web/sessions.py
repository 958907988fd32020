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
from sqlalchemy import select, update
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


def load_auth(session_id: str, operator_username: str) -> AuthContext | None:
    row = db().execute(
        select(UserSession, Project.account_scope_id)
        .outerjoin(Project, Project.id == UserSession.active_project_id)
        .where(UserSession.session_id == session_id)
    ).first()
    if row is None:
        return None
    record, account_scope_id = row
    if as_utc(record.expires_at) <= utcnow() or record.username.lower() != operator_username.lower():
        return None
    return AuthContext(
        session_id=record.session_id, user_id=record.user_id, username=record.username,
        active_project_id=record.active_project_id if account_scope_id else None,
        account_scope_id=account_scope_id, csrf_token=record.csrf_token,
        created_at=as_utc(record.created_at), last_seen_at=as_utc(record.last_seen_at),
        expires_at=as_utc(record.expires_at),
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
