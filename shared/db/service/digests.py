"""Daily and weekly digests (business.md §A3): keyed upserts and reads. Callers own the transaction.

Regenerating for the same key replaces ``summary`` and ``evidence_refs`` and resets ``created_at``:
one row per ``(project_id, digest_date)`` / ``(project_id, week_start)``, whatever the retries.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models.business import DailyDigest, WeeklyDigest
from shared.db.service.projects import dialect_insert
from shared.scope import Scope


def _upsert(session: Session, model: Any, scope: Scope, key: str, day: date, summary: dict[str, Any],
            evidence_refs: list[Any], now: datetime) -> None:
    stmt = dialect_insert(session)(model.__table__).values(
        id=uuid.uuid4(), project_id=scope.project_id, account_scope_id=scope.account_scope_id,
        summary=summary, evidence_refs=evidence_refs, created_at=now, **{key: day})
    session.execute(stmt.on_conflict_do_update(
        index_elements=["project_id", key],
        set_={"summary": stmt.excluded.summary, "evidence_refs": stmt.excluded.evidence_refs,
              "created_at": stmt.excluded.created_at}))
    session.flush()


def upsert_daily(*, session: Session, scope: Scope, digest_date: date, summary: dict[str, Any],
                 evidence_refs: list[Any], now: datetime) -> None:
    _upsert(session, DailyDigest, scope, "digest_date", digest_date, summary, evidence_refs, now)


def upsert_weekly(*, session: Session, scope: Scope, week_start: date, summary: dict[str, Any],
                  evidence_refs: list[Any], now: datetime) -> None:
    _upsert(session, WeeklyDigest, scope, "week_start", week_start, summary, evidence_refs, now)


def list_daily(*, session: Session, scope: Scope, limit: int) -> list[DailyDigest]:
    stmt = select(DailyDigest).filter_by(**scope.as_filter()).order_by(DailyDigest.digest_date.desc()).limit(limit)
    return list(session.scalars(stmt))


def list_weekly(*, session: Session, scope: Scope, limit: int) -> list[WeeklyDigest]:
    stmt = select(WeeklyDigest).filter_by(**scope.as_filter()).order_by(WeeklyDigest.week_start.desc()).limit(limit)
    return list(session.scalars(stmt))
