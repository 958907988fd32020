"""Projects and account scopes (platform §4, §6.3). Callers own the transaction."""

from __future__ import annotations

import uuid

from sqlalchemy import Row, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from shared.db.models.platform import AccountScope, Project
from shared.errors import KeelError, NotFound
from shared.scope import Scope

DEFAULT_SCOPE_KEY = "default"


def dialect_insert(session: Session):  # noqa: ANN201 - the dialect's Insert construct
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


_PROJECT_LIST = select(Project.id, Project.name, Project.account_scope_id, Project.created_at).order_by(
    Project.created_at.desc(), Project.id)


def list_projects(*, session: Session) -> list[Row]:
    """Every project, newest first, as rows (``id``, ``name``, ``account_scope_id``, ``created_at``): the
    list the UI polls, so no ORM entities are built."""
    return session.connection().execute(_PROJECT_LIST).all()


def get_project(*, session: Session, project_id: uuid.UUID) -> Project | None:
    return session.get(Project, project_id)


def get_project_or_raise(*, session: Session, project_id: uuid.UUID) -> Project:
    project = get_project(session=session, project_id=project_id)
    if project is None:
        raise NotFound("project_not_found", "Project not found")
    return project


def scope_of(project: Project) -> Scope:
    return Scope(project.id, project.account_scope_id)


def resolve_account_scope(*, session: Session, scope_key: str | None, scope_name: str | None) -> AccountScope:
    """Insert-or-get on ``scope_key`` (safe under races); no key → the seeded ``default`` scope."""
    if not scope_key:
        scope = session.scalar(select(AccountScope).filter_by(scope_key=DEFAULT_SCOPE_KEY))
        if scope is None:
            raise KeelError("account_scope_resolve_failed", "Default account scope is missing", status=500)
        return scope
    insert = dialect_insert(session)
    stmt = insert(AccountScope).values(
        id=uuid.uuid4(), scope_key=scope_key, name=scope_name or "Project account scope"
    ).on_conflict_do_nothing(index_elements=["scope_key"])
    session.execute(stmt)
    scope = session.scalar(select(AccountScope).filter_by(scope_key=scope_key))
    if scope_name is not None and scope.name != scope_name:
        scope.name = scope_name
    return scope


def create_project(*, session: Session, name: str, account_scope: AccountScope) -> Project:
    project = Project(name=name, account_scope_id=account_scope.id)
    session.add(project)
    session.flush()
    return project
