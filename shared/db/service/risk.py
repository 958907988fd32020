"""Health scores, the risk radar and risk patterns (business.md §A4). Callers own the transaction.

A refresh writes one ``health_scores`` row (history) and applies the pure planners' decisions
(``jobs.business.health.plan_composite_radar`` / ``plan_pattern``, passed in as ``action`` +
``values``) to the composite radar item and the ``delivery_risk_cluster`` pattern, so refreshes
never duplicate risk rows: the composite item is unique per project among non-closed rows (partial
unique index on ``(project_id, radar_key)``; a closed item makes the next refresh insert a new open
one) and the pattern is unique on ``(project_id, pattern_key)`` and only updated while ``open``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.business.numbers import json_number
from shared.db.models.business import HealthScore, RiskPatternEvent, RiskRadarItem
from shared.scope import Scope
from shared.timeutil import iso

OVERVIEW_LIMIT = 30
COMPOSITE_RADAR_KEY = "project_composite"
PATTERN_KEY = "delivery_risk_cluster"


class Plan(Protocol):
    action: str  # insert | update | skip
    values: dict[str, Any]


def composite_radar_status(*, session: Session, scope: Scope) -> str | None:
    """Status of the project's non-closed composite radar item (row locked), or None."""
    stmt = (select(RiskRadarItem.status).filter_by(radar_key=COMPOSITE_RADAR_KEY, **scope.as_filter())
            .where(RiskRadarItem.status != "closed").with_for_update())
    return session.scalar(stmt)


def pattern_status(*, session: Session, scope: Scope) -> str | None:
    stmt = select(RiskPatternEvent.status).filter_by(pattern_key=PATTERN_KEY, **scope.as_filter()).with_for_update()
    return session.scalar(stmt)


def record_health(*, session: Session, scope: Scope, score: Any, factors: list[dict[str, Any]], radar: Plan,
                  pattern: Plan, now: datetime) -> None:
    """Insert the score row and apply the radar and pattern plans."""
    ids = {"project_id": scope.project_id, "account_scope_id": scope.account_scope_id}
    session.add(HealthScore(**ids, account_id=None, score=score, factors=factors, generated_at=now))
    if radar.action == "insert":
        session.add(RiskRadarItem(**ids, created_at=now, **radar.values))
    elif radar.action == "update":
        session.execute(update(RiskRadarItem).filter_by(radar_key=COMPOSITE_RADAR_KEY, **scope.as_filter())
                        .where(RiskRadarItem.status != "closed").values(**radar.values)
                        .execution_options(synchronize_session=False))
    if pattern.action == "insert":
        session.add(RiskPatternEvent(**ids, created_at=now, **pattern.values))
    elif pattern.action == "update":
        session.execute(update(RiskPatternEvent).filter_by(pattern_key=PATTERN_KEY, status="open", **scope.as_filter())
                        .values(**pattern.values).execution_options(synchronize_session=False))
    session.flush()


def latest_health(*, session: Session, scope: Scope) -> HealthScore | None:
    stmt = (select(HealthScore).filter_by(account_id=None, **scope.as_filter())
            .order_by(HealthScore.generated_at.desc(), HealthScore.id).limit(1))
    return session.scalar(stmt)


def health_json(row: HealthScore | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"score": json_number(row.score), "factors": row.factors or [], "generated_at": iso(row.generated_at)}


def radar_json(r: RiskRadarItem) -> dict[str, Any]:
    return {"id": str(r.id), "severity": r.severity, "probability": json_number(r.probability), "title": r.title,
            "mitigation_action": r.mitigation_action, "status": r.status, "evidence_refs": r.evidence_refs or [],
            "updated_at": iso(r.updated_at)}


def pattern_json(p: RiskPatternEvent) -> dict[str, Any]:
    return {"id": str(p.id), "pattern_key": p.pattern_key, "title": p.title, "weight": json_number(p.weight),
            "status": p.status, "mitigation_playbook": p.mitigation_playbook or {},
            "evidence_refs": p.evidence_refs or [], "updated_at": iso(p.updated_at)}


def risk_overview(*, session: Session, scope: Scope) -> dict[str, Any]:
    """The ``GET /risk/overview`` payload, JSON-native (the weekly digest stores it as is)."""
    risks = session.scalars(select(RiskRadarItem).filter_by(**scope.as_filter())
                            .order_by(RiskRadarItem.updated_at.desc(), RiskRadarItem.id).limit(OVERVIEW_LIMIT))
    patterns = session.scalars(select(RiskPatternEvent).filter_by(**scope.as_filter())
                               .order_by(RiskPatternEvent.updated_at.desc(), RiskPatternEvent.id)
                               .limit(OVERVIEW_LIMIT))
    return {"health": health_json(latest_health(session=session, scope=scope)),
            "risks": [radar_json(r) for r in risks], "patterns": [pattern_json(p) for p in patterns]}
