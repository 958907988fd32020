"""Linear raw rows (connectors-rag §5.4, §15): idempotent upserts and the blocker recompute.

Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from shared.db.models.linear import LinearCycleRaw, LinearIssueRaw, LinearProjectRaw, LinearStateRaw
from shared.db.service.upserts import Upserted, upsert_rows
from shared.scope import Scope

COMMON = ("workspace_id", "external_id", "data", "updated_at")
PROJECT_COMPARE = (*COMMON, "name", "state", "lead_name")
STATE_COMPARE = (*COMMON, "team_external_id", "name", "type", "position")
CYCLE_COMPARE = (*COMMON, "team_external_id", "number", "starts_at", "ends_at", "completed_at", "progress")
ISSUE_COMPARE = (*COMMON, "identifier", "linear_project_external_id", "title", "state", "state_external_id",
                 "state_type", "cycle_external_id", "cycle_name", "labels", "priority", "assignee_name", "due_date",
                 "completed_at", "archived_at", "vendor_created_at", "vendor_updated_at")
CLOSED_STATE_TYPES = frozenset({"completed", "canceled"})


def upsert_projects(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, LinearProjectRaw, scope, rows, compare=PROJECT_COMPARE)


def upsert_states(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, LinearStateRaw, scope, rows, compare=STATE_COMPARE)


def upsert_cycles(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, LinearCycleRaw, scope, rows, compare=CYCLE_COMPARE)


def upsert_issues(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    """Ids of the issue rows inserted or changed. ``blocked``/``blocked_by_count`` are written on insert
    only: ``recompute_blocked`` owns them afterwards (a blocker's completion never touches the blocked issue)."""
    return upsert_rows(session, LinearIssueRaw, scope, rows, compare=ISSUE_COMPARE,
                       keep=("created_at", "blocked", "blocked_by_count"))


def blocked_count(blocks: Any, state_types: dict[str, str | None]) -> int:
    """Open blockers among ``data.blocks`` entries; a stored blocker's state wins over the snapshot."""
    if not isinstance(blocks, list):
        return 0
    n = 0
    for rel in blocks:
        if not isinstance(rel, dict):
            continue
        blocker = rel.get("blocker")
        state = state_types[blocker] if blocker in state_types else rel.get("blocker_state_type")
        if state not in CLOSED_STATE_TYPES:
            n += 1
    return n


def recompute_blocked(*, session: Session, scope: Scope) -> int:
    """Recompute ``blocked_by_count``/``blocked`` of every stored issue of the project (§5.4); returns
    the number of rows changed (only those are written)."""
    rows = session.execute(select(LinearIssueRaw.id, LinearIssueRaw.external_id, LinearIssueRaw.state_type,
                                  LinearIssueRaw.blocked_by_count, LinearIssueRaw.data["blocks"])
                           .filter_by(**scope.as_filter())).all()
    state_types = {r.external_id: r.state_type for r in rows}
    changes = []
    for row in rows:
        n = blocked_count(row[4], state_types)
        if n != row.blocked_by_count:
            changes.append({"row_id": row.id, "n": n, "flag": n > 0})
    if changes:
        stmt = (update(LinearIssueRaw.__table__)
                .where(LinearIssueRaw.__table__.c.id == bindparam("row_id"),
                       LinearIssueRaw.__table__.c.project_id == scope.project_id,
                       LinearIssueRaw.__table__.c.account_scope_id == scope.account_scope_id)
                .values(blocked_by_count=bindparam("n"), blocked=bindparam("flag")))
        session.execute(stmt, changes)
    return len(changes)
