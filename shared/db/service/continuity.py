"""Continuity actions (business.md §B2): preview upserts, listing and apply. Callers own the transaction.

Apply writes a **local** follow-up row into ``linear_issues_raw`` (v1 never calls the Linear API);
the row's shape comes from ``shared.business.continuity.continuity_issue_row``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import timeutil
from shared.audit import write_audit_event
from shared.business import continuity as rules
from shared.business.evidence import concat_refs
from shared.db.models.business import CrmOpportunity
from shared.db.models.growth import ContinuityAction
from shared.db.models.linear import LinearIssueRaw, LinearProjectRaw
from shared.db.service.planned import upsert_planned
from shared.db.service.projects import dialect_insert
from shared.scope import Scope

ENTITY = "continuity_action"
MAX_AUDIT_REFS = 50


# --- detector inputs ----------------------------------------------------------------------------
def open_crm_opportunities(*, session: Session, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The most recently updated open CRM opportunities (stage not won/lost)."""
    stmt = (select(CrmOpportunity.id, CrmOpportunity.title, CrmOpportunity.stage, CrmOpportunity.next_step,
                   CrmOpportunity.expected_close_date, CrmOpportunity.updated_at)
            .filter_by(**scope.as_filter()).where(CrmOpportunity.stage.not_in(("won", "lost")))
            .order_by(CrmOpportunity.updated_at.desc(), CrmOpportunity.id).limit(limit))
    return [dict(row._mapping) for row in session.execute(stmt)]


# --- rows -----------------------------------------------------------------------------------------
def list_actions(*, session: Session, scope: Scope, status: str | None, limit: int) -> list[ContinuityAction]:
    stmt = select(ContinuityAction).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(ContinuityAction.status == status)
    stmt = stmt.order_by(ContinuityAction.updated_at.desc(), ContinuityAction.id).limit(limit)
    return list(session.scalars(stmt))


def upsert_previews(*, session: Session, scope: Scope, candidates: Iterable[Any], plan: Any, actor: str,
                    now: datetime) -> list[ContinuityAction]:
    """Upsert preview candidates on ``(project_id, dedupe_key)``; ``plan(existing_status, candidate)``
    decides each. Returns the touched (inserted or updated) rows in candidate order."""
    keyed = [(c.dedupe_key(scope.project_id), c) for c in candidates]
    return upsert_planned(session=session, scope=scope, model=ContinuityAction, keyed=keyed,
                          state=lambda row: row.status, plan=plan, now=now, once_per_key=True)


def write_preview_audit(*, session: Session, scope: Scope, touched: Sequence[ContinuityAction], actor: str | None,
                        request_id: str | None) -> None:
    write_audit_event(session, scope, actor_username=actor, action="continuity.preview", entity_type=ENTITY,
                      entity_id=str(scope.project_id), request_id=request_id, payload={"touched": len(touched)},
                      evidence_refs=concat_refs((r.evidence_refs for r in touched), limit=MAX_AUDIT_REFS))


def _linear_project_ids(session: Session, scope: Scope) -> list[str | None]:
    stmt = (select(LinearProjectRaw.external_id).filter_by(**scope.as_filter())
            .order_by(LinearProjectRaw.updated_at.desc().nulls_last(), LinearProjectRaw.id).limit(5))
    return list(session.scalars(stmt))


def _upsert_issue(session: Session, scope: Scope, row: dict[str, Any], now: datetime) -> None:
    insert = dialect_insert(session)
    values = {**row, "project_id": scope.project_id, "account_scope_id": scope.account_scope_id,
              "labels": [], "updated_at": now, "created_at": now}
    stmt = insert(LinearIssueRaw).values(**values)
    stmt = stmt.on_conflict_do_update(index_elements=["id"], set_={
        "title": stmt.excluded.title, "assignee_name": stmt.excluded.assignee_name, "data": stmt.excluded.data,
        "updated_at": stmt.excluded.updated_at})
    session.execute(stmt)


def apply_actions(*, session: Session, scope: Scope, action_ids: Sequence[str], actor: str,
                  request_id: str | None, now: datetime | None = None) -> list[ContinuityAction]:
    """Apply the ``previewed``/``failed`` actions among ``action_ids`` (others skipped silently)."""
    if not action_ids:
        return []
    now = now or timeutil.utcnow()
    ids = [uuid.UUID(i) for i in action_ids]
    rows = {row.id: row for row in session.scalars(
        select(ContinuityAction).filter_by(**scope.as_filter()).where(ContinuityAction.id.in_(ids))
        .order_by(ContinuityAction.id).with_for_update())}
    applicable = [rows[i] for i in ids if i in rows and rules.is_applicable(rows[i].status)]
    if not applicable:
        return []
    linear_project = rules.choose_linear_project(_linear_project_ids(session, scope))
    for action in applicable:
        view = {"id": action.id, "title": action.title, "description": action.description,
                "preview_payload": action.preview_payload, "created_by": action.created_by}
        issue = rules.continuity_issue_row(project_id=scope.project_id, action=view, actor=actor,
                                           linear_project_external_id=linear_project)
        _upsert_issue(session, scope, issue, now)
        for column, value in rules.applied_action_changes(view, actor=actor,
                                                          issue_external_id=issue["external_id"]).items():
            setattr(action, column, value)
        action.updated_at = now
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="continuity.apply", entity_type=ENTITY,
                      entity_id=str(scope.project_id), request_id=request_id, payload={"applied": len(applicable)},
                      evidence_refs=concat_refs((a.evidence_refs for a in applicable), limit=MAX_AUDIT_REFS))
    return applicable
