"""Operator bootstrap, credential checks and session creation (platform §3.1–3.2)."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash

from shared.config import Settings
from shared.db.models.platform import AppUser, UserSession
from shared.timeutil import utcnow

log = logging.getLogger(__name__)


def bootstrap_operator(session: Session, settings: Settings) -> AppUser:
    """Upsert the operator; a rotated password replaces the hash and ends all of its sessions."""
    op = settings.operator
    username = op.username.lower()
    user = session.scalar(select(AppUser).filter_by(username=username))
    if user is None:
        user = AppUser(username=username, password_hash=op.password_hash)
        session.add(user)
        session.flush()
        return user
    still_valid = (
        check_password_hash(user.password_hash, op.plain_password)
        if op.plain_password is not None else user.password_hash == op.password_hash
    )
    if not still_valid:
        user.password_hash = op.password_hash
        session.execute(delete(UserSession).where(UserSession.user_id == user.id))
        log.info("operator credentials rotated; sessions ended")
    return user


def verify_credentials(settings: Settings, stored_hash: str, username: str, password: str) -> bool:
    """Constant work: the hash check runs even when the username does not match."""
    password_ok = check_password_hash(stored_hash, password)
    return password_ok and username == settings.operator.username.lower()


def create_session(session: Session, settings: Settings, user: AppUser) -> UserSession:
    now = utcnow()
    record = UserSession(
        session_id=secrets.token_hex(32), user_id=user.id, username=settings.operator.username,
        active_project_id=None, csrf_token=hashlib.sha1(os.urandom(64)).hexdigest(), data={},
        created_at=now, last_seen_at=now, expires_at=now + timedelta(seconds=settings.session_ttl_seconds),
    )
    session.add(record)
    session.flush()
    return record


def delete_session(session: Session, session_id: str) -> None:
    session.execute(delete(UserSession).where(UserSession.session_id == session_id))


def operator_user(session: Session, settings: Settings) -> AppUser:
    user = session.scalar(select(AppUser).filter_by(username=settings.operator.username.lower()))
    return user if user is not None else bootstrap_operator(session, settings)
