"""ORM layer of the scope guard (platform §4.3): a scoped row's account scope must be its project's.

The PostgreSQL layer is the ``enforce_project_scope_match()`` trigger created by the migrations
(``shared.db.migrations.helpers``). This listener is portable and also runs on SQLite.
"""

from __future__ import annotations

import threading

from sqlalchemy import event, inspect, select
from sqlalchemy.orm import Session

from shared.errors import ScopeViolation

_installed = False
# A project's account scope is fixed at creation (platform §4.1), so a verified pair stays valid for the
# process; a deleted project is still refused by the foreign key. Bounded, cleared when full.
_VERIFIED: dict[object, object] = {}
_VERIFIED_MAX = 10_000
_verified_lock = threading.Lock()


def verify(session: Session, project_id: object, account_scope_id: object) -> None:
    """The same check for a Core insert (which the flush listener does not see)."""
    if project_id is None or _project_scope(session, project_id, "insert") != account_scope_id:
        raise ScopeViolation(message="cross-scope write rejected")


def _project_scope(session: Session, project_id: object, what: str) -> object:
    from shared.db.models.platform import Project

    scope_id = _VERIFIED.get(project_id)
    if scope_id is None:
        with session.no_autoflush:
            scope_id = session.scalar(select(Project.account_scope_id).where(Project.id == project_id))
        if scope_id is None:
            raise ScopeViolation(message=f"{what}: project {project_id} does not exist")
        with _verified_lock:
            if len(_VERIFIED) >= _VERIFIED_MAX:
                _VERIFIED.clear()
            _VERIFIED[project_id] = scope_id
    return scope_id


def _check(session: Session, obj: object) -> None:
    project_id = getattr(obj, "project_id", None)
    if project_id is None:
        raise ScopeViolation(message=f"{type(obj).__name__}: project_id is required")
    scope_id = _project_scope(session, project_id, type(obj).__name__)
    current = getattr(obj, "account_scope_id", None)
    if current is None:
        obj.account_scope_id = scope_id  # type: ignore[attr-defined]
    elif current != scope_id:
        raise ScopeViolation(message="cross-scope write rejected")


def install() -> None:
    global _installed
    if _installed:
        return
    _installed = True

    @event.listens_for(Session, "before_flush")
    def _guard(session: Session, _ctx: object, _instances: object) -> None:
        for obj in session.new:
            if getattr(type(obj), "__scoped__", False):
                _check(session, obj)
        for obj in session.dirty:  # an update is checked only when it touches the scope columns
            if getattr(type(obj), "__scoped__", False) and _scope_changed(obj):
                _check(session, obj)


def _scope_changed(obj: object) -> bool:
    attrs = inspect(obj).attrs
    return attrs.project_id.history.has_changes() or attrs.account_scope_id.history.has_changes()
