"""Reads of other domains' tables that the business features rely on (business.md §D.4).

Digests, health scoring, analytics, the control tower and the portfolio all read the same few
things: open NBAs and active signals (kag.md §10), Linear issue counts, Attio raw opportunities,
Chatwoot message counts, outbound counts. They are read here once, by table and column name as
§D.4 lists them, so a renamed model class elsewhere changes nothing here. Every read takes the
scope (or, for the portfolio, a scope-checked project id list) and filters on it.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, func, select
from sqlalchemy.orm import Session

from shared.db.base import Base
from shared.db.models.platform import JobRun
from shared.scope import Scope

OPEN_NBA_STATUSES = ("proposed", "accepted")
ACTIVE_SIGNAL_STATUSES = ("proposed", "accepted")


def table(name: str) -> Table:
    """A mapped table by name (every model module is imported by ``shared.db.models``)."""
    import shared.db.models  # noqa: F401 - registers every table

    return Base.metadata.tables[name]


def scoped(t: Table, scope: Scope) -> Any:
    return and_(t.c.project_id == scope.project_id, t.c.account_scope_id == scope.account_scope_id)


# --- KAG (kag.md §10) ----------------------------------------------------------------------------
def open_nbas(session: Session, scope: Scope, *, limit: int) -> list[dict[str, Any]]:
    """Open NBAs (proposed/accepted), priority desc then updated_at desc, the first ``limit``."""
    t = table("next_best_actions")
    stmt = (select(t.c.id, t.c.signal_id, t.c.action_type, t.c.priority, t.c.status, t.c.summary,
                   t.c.evidence_refs, t.c.updated_at)
            .where(scoped(t, scope), t.c.status.in_(OPEN_NBA_STATUSES))
            .order_by(t.c.priority.desc(), t.c.updated_at.desc().nulls_last(), t.c.id).limit(limit))
    return [dict(r._mapping) for r in session.execute(stmt)]


def active_signals(session: Session, scope: Scope, *, limit: int) -> list[dict[str, Any]]:
    """Signals with status proposed/accepted, ``created_at`` desc, the first ``limit``."""
    t = table("signals")
    stmt = (select(t.c.id, t.c.severity, t.c.confidence, t.c.status, t.c.evidence_refs, t.c.created_at)
            .where(scoped(t, scope), t.c.status.in_(ACTIVE_SIGNAL_STATUSES))
            .order_by(t.c.created_at.desc(), t.c.id).limit(limit))
    return [dict(r._mapping) for r in session.execute(stmt)]


def count_signals(session: Session, scope: Scope, *, status: str) -> int:
    t = table("signals")
    return session.scalar(select(func.count()).select_from(t).where(scoped(t, scope), t.c.status == status)) or 0


# --- Linear ---------------------------------------------------------------------------------------
def issue_counts(session: Session, scope: Scope, *, today: date) -> dict[str, int]:
    """``{total, open, overdue, completed}`` over the project's Linear issues (one query)."""
    t = table("linear_issues_raw")
    is_open = t.c.completed_at.is_(None)
    overdue = and_(is_open, t.c.due_date.isnot(None), t.c.due_date < today)
    row = session.execute(select(
        func.count(), func.count().filter(is_open), func.count().filter(overdue),
        func.count().filter(t.c.completed_at.isnot(None)),
    ).where(scoped(t, scope))).one()
    return {"total": row[0] or 0, "open": row[1] or 0, "overdue": row[2] or 0, "completed": row[3] or 0}


def issue_rows(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """``completed_at`` and ``due_date`` of every Linear issue of the project."""
    t = table("linear_issues_raw")
    return [dict(r._mapping) for r in session.execute(select(t.c.completed_at, t.c.due_date).where(scoped(t, scope)))]


# --- Attio ---------------------------------------------------------------------------------------
def attio_opportunities(session: Session, scope: Scope) -> list[dict[str, Any]]:
    """``stage``, ``amount``, ``probability`` of every Attio raw opportunity of the project still live
    upstream (rows marked ``deleted_at`` by the connector are kept but no longer count)."""
    t = table("attio_opportunities_raw")
    stmt = select(t.c.stage, t.c.amount, t.c.probability).where(scoped(t, scope), t.c.deleted_at.is_(None))
    return [dict(r._mapping) for r in session.execute(stmt)]


# --- Chatwoot ------------------------------------------------------------------------------------
def window_messages(session: Session, scope: Scope, *, since: datetime) -> list[dict[str, Any]]:
    """``created_at`` and ``contact_global_id`` of the project's messages created at or after ``since``."""
    t = table("cw_messages")
    stmt = select(t.c.created_at, t.c.contact_global_id).where(scoped(t, scope), t.c.created_at >= since)
    return [dict(r._mapping) for r in session.execute(stmt)]


# --- outbound (business.md Part B) ---------------------------------------------------------------
def outbound_counts(session: Session, scope: Scope) -> dict[str, int]:
    t = table("outbound_messages")
    stmt = select(t.c.status, func.count()).where(scoped(t, scope)).group_by(t.c.status)
    return {status: int(n) for status, n in session.execute(stmt)}


# --- platform --------------------------------------------------------------------------------------
def recent_failed_jobs(session: Session, scope: Scope, *, now: datetime) -> int:
    """Job runs of the project with ``status='failed'`` started in the last 7 days."""
    stmt = (select(func.count()).select_from(JobRun)
            .where(JobRun.project_id == scope.project_id, JobRun.account_scope_id == scope.account_scope_id,
                   JobRun.status == "failed", JobRun.started_at > now - timedelta(days=7)))
    return session.scalar(stmt) or 0
