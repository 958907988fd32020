"""Attio raw rows (connectors-rag §4.4, §15, §16): idempotent upserts and upstream deletion marks.

Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session

from shared.db.models.attio import AttioAccountRaw, AttioActivityRaw, AttioOpportunityRaw, AttioPersonRaw
from shared.db.service.upserts import Upserted, upsert_rows
from shared.scope import Scope

COMMON = ("workspace_id", "external_id", "data", "updated_at")
ACCOUNT_COMPARE = (*COMMON, "name", "domain", "stage", "annual_revenue")
OPPORTUNITY_COMPARE = (*COMMON, "account_external_id", "title", "stage", "amount", "probability",
                       "expected_close_date", "next_step")
PERSON_COMPARE = (*COMMON, "account_external_id", "full_name", "email", "role")
ACTIVITY_COMPARE = (*COMMON, "record_external_id", "activity_type", "note", "actor_name", "occurred_at")


def upsert_accounts(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioAccountRaw, scope, rows, compare=ACCOUNT_COMPARE)


def upsert_opportunities(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioOpportunityRaw, scope, rows, compare=OPPORTUNITY_COMPARE)


def upsert_people(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, AttioPersonRaw, scope, rows, compare=PERSON_COMPARE)


def upsert_activities(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    """Ids of the note rows inserted or changed (their chunks need a sync)."""
    return upsert_rows(session, AttioActivityRaw, scope, rows, compare=ACTIVITY_COMPARE)


# --- upstream deletions (connectors-rag §16: raw rows are kept, deletions are marked) ---------------------
MODELS = {"companies": AttioAccountRaw, "deals": AttioOpportunityRaw, "people": AttioPersonRaw,
          "notes": AttioActivityRaw}
IN_BATCH = 500  # ids per IN (...)


def _scoped(model: Any, scope: Scope, workspace_id: str) -> ColumnElement[bool]:
    return and_(model.project_id == scope.project_id, model.account_scope_id == scope.account_scope_id,
                model.workspace_id == workspace_id)


def _unseen(model: Any, cycle: int) -> ColumnElement[bool]:
    """Live rows that the scan cycle ``cycle`` did not return (NULL: never stamped since migration 0008)."""
    return and_(model.deleted_at.is_(None), or_(model.seen_cycle.is_(None), model.seen_cycle != cycle))


def _batches(ids: Sequence[str]) -> list[list[str]]:
    unique = sorted(set(ids))
    return [unique[i:i + IN_BATCH] for i in range(0, len(unique), IN_BATCH)]


def mark_seen(*, session: Session, scope: Scope, kind: str, workspace_id: str, ids: Sequence[str],
              cycle: int) -> list[str]:
    """Stamp the rows ``ids`` as returned by scan cycle ``cycle`` and clear their deletion mark;
    returns the ids that were marked deleted (they came back). Rows already stamped are not written."""
    model, restored = MODELS[kind], []
    for batch in _batches(ids):
        where = and_(_scoped(model, scope, workspace_id), model.id.in_(batch))
        restored += session.scalars(select(model.id).where(where, model.deleted_at.isnot(None)))
        session.execute(update(model).where(where, or_(model.seen_cycle.is_(None), model.seen_cycle != cycle,
                                                       model.deleted_at.isnot(None)))
                        .values(seen_cycle=cycle, deleted_at=None).execution_options(synchronize_session=False))
    return sorted(restored)


def unseen_rows(*, session: Session, scope: Scope, kind: str, workspace_id: str, cycle: int,
                limit: int) -> list[tuple[str, str]]:
    """(id, external_id) of at most ``limit`` live rows of the workspace that cycle ``cycle`` did not return."""
    model = MODELS[kind]
    stmt = (select(model.id, model.external_id).where(_scoped(model, scope, workspace_id), _unseen(model, cycle))
            .order_by(model.id).limit(limit))
    return [(i, e) for i, e in session.execute(stmt)]


def mark_deleted(*, session: Session, scope: Scope, kind: str, workspace_id: str, ids: Sequence[str],
                 cycle: int, now: datetime) -> list[str]:
    """Set ``deleted_at = now`` on the rows ``ids`` still live and unseen by cycle ``cycle``; returns the
    ids marked (a row already marked, or seen meanwhile, is left alone: a re-run marks nothing twice)."""
    model, marked = MODELS[kind], []
    for batch in _batches(ids):
        stmt = (update(model).where(_scoped(model, scope, workspace_id), model.id.in_(batch), _unseen(model, cycle))
                .values(deleted_at=now).returning(model.id).execution_options(synchronize_session=False))
        marked += session.scalars(stmt)
    return sorted(marked)


def deleted_external_ids(*, session: Session, scope: Scope, kind: str, workspace_id: str,
                         external_ids: Iterable[str | None]) -> set[str]:
    """Which of ``external_ids`` belong to rows marked deleted upstream."""
    model, wanted, out = MODELS[kind], [e for e in external_ids if e], set()
    for batch in _batches(wanted):
        out.update(session.scalars(select(model.external_id).where(
            _scoped(model, scope, workspace_id), model.external_id.in_(batch), model.deleted_at.isnot(None))))
    return out
