"""Analytics snapshots, overview, drill-down (business.md §A5) and the control tower (§A6).

Snapshot writes are keyed upserts (delivery/comms on ``(project_id, period_start, period_end)``,
revenue on ``(project_id, period_start, horizon_days)``), so a refresh on the same day replaces
values and never adds rows. Read payloads are JSON-native (numbers, ISO strings): the weekly digest
stores the overview as is. Callers own the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shared.business.control_tower import integrations_block
from shared.business.numbers import json_number
from shared.db.models.business import (
    AnalyticsCommsSnapshot,
    AnalyticsDeliverySnapshot,
    AnalyticsRevenueSnapshot,
)
from shared.db.models.platform import EvidenceItem, SyncWatermark
from shared.db.service import business_inputs as inputs
from shared.db.service.projects import dialect_insert
from shared.db.service.risk import risk_overview
from shared.scope import Scope
from shared.timeutil import iso

CONTROL_TOWER_NBA = 8
CONTROL_TOWER_EVIDENCE = 12


# --- refresh writes ------------------------------------------------------------------------------
def _upsert(session: Session, model: Any, scope: Scope, values: Mapping[str, Any], key: Sequence[str],
            stamp: str, now: datetime) -> None:
    insert = dialect_insert(session)
    row = {"id": uuid.uuid4(), "project_id": scope.project_id, "account_scope_id": scope.account_scope_id,
           stamp: now, **values}
    stmt = insert(model.__table__).values(**row)
    changing = [k for k in row if k not in ("id", "project_id", "account_scope_id", *key)]
    session.execute(stmt.on_conflict_do_update(index_elements=["project_id", *key],
                                               set_={k: stmt.excluded[k] for k in changing}))


def store_snapshots(*, session: Session, scope: Scope, delivery: Mapping[str, Any], comms: Mapping[str, Any],
                    revenue: Sequence[Mapping[str, Any]], now: datetime) -> None:
    """Upsert the delivery and comms snapshots and the revenue horizons (``created_at`` /
    ``generated_at`` = ``now``)."""
    _upsert(session, AnalyticsDeliverySnapshot, scope, delivery, ("period_start", "period_end"), "created_at", now)
    _upsert(session, AnalyticsCommsSnapshot, scope, comms, ("period_start", "period_end"), "created_at", now)
    for row in revenue:
        _upsert(session, AnalyticsRevenueSnapshot, scope, row, ("period_start", "horizon_days"), "generated_at", now)
    session.flush()


# --- reads ---------------------------------------------------------------------------------------
def revenue_json(r: AnalyticsRevenueSnapshot) -> dict[str, Any]:
    return {"horizon_days": r.horizon_days, "pipeline_amount": json_number(r.pipeline_amount),
            "commit_amount": json_number(r.commit_amount), "won_amount": json_number(r.won_amount),
            "expected_revenue": json_number(r.expected_revenue), "gross_margin": json_number(r.gross_margin),
            "generated_at": iso(r.generated_at)}


def delivery_json(d: AnalyticsDeliverySnapshot | None) -> dict[str, Any] | None:
    if d is None:
        return None
    return {"period_start": iso(d.period_start), "period_end": iso(d.period_end), "open_issues": d.open_issues,
            "overdue_issues": d.overdue_issues, "completed_issues": d.completed_issues,
            "throughput": d.throughput, "created_at": iso(d.created_at)}


def comms_json(c: AnalyticsCommsSnapshot | None) -> dict[str, Any] | None:
    if c is None:
        return None
    return {"period_start": iso(c.period_start), "period_end": iso(c.period_end),
            "inbound_messages": c.inbound_messages, "outbound_messages": c.outbound_messages,
            "unique_contacts": c.unique_contacts, "avg_response_minutes": json_number(c.avg_response_minutes),
            "created_at": iso(c.created_at)}


def analytics_overview(*, session: Session, scope: Scope) -> dict[str, Any]:
    """The ``GET /analytics/overview`` payload (JSON-native)."""
    revenue = session.scalars(
        select(AnalyticsRevenueSnapshot).filter_by(**scope.as_filter())
        .order_by(AnalyticsRevenueSnapshot.generated_at.desc(), AnalyticsRevenueSnapshot.horizon_days).limit(3))
    delivery = session.scalar(select(AnalyticsDeliverySnapshot).filter_by(**scope.as_filter())
                              .order_by(AnalyticsDeliverySnapshot.created_at.desc()).limit(1))
    comms = session.scalar(select(AnalyticsCommsSnapshot).filter_by(**scope.as_filter())
                           .order_by(AnalyticsCommsSnapshot.created_at.desc()).limit(1))
    return {"revenue": [revenue_json(r) for r in revenue], "delivery": delivery_json(delivery),
            "comms": comms_json(comms)}


def drilldown(*, session: Session, scope: Scope, source: str | None, limit: int) -> list[dict[str, Any]]:
    """Evidence items (``created_at`` desc), filtered on ``source_type`` or ``source_table`` when given."""
    stmt = select(EvidenceItem).filter_by(**scope.as_filter())
    if source:
        stmt = stmt.where(or_(func.lower(EvidenceItem.source_type) == source,
                              func.lower(EvidenceItem.source_table) == source))
    stmt = stmt.order_by(EvidenceItem.created_at.desc(), EvidenceItem.id).limit(limit)
    return [{"id": e.id, "source_type": e.source_type, "source_table": e.source_table, "source_pk": e.source_pk,
             "snippet": e.snippet, "payload": e.payload or {}, "created_at": e.created_at}
            for e in session.scalars(stmt)]


# --- control tower (§A6) -------------------------------------------------------------------------
def control_tower(*, session: Session, scope: Scope, now: datetime) -> dict[str, Any]:
    """Everything the single-project control tower shows (values 0, never null, without data)."""
    today = now.date()
    watermarks = [dict(r._mapping) for r in session.execute(
        select(SyncWatermark.source, SyncWatermark.cursor_ts, SyncWatermark.cursor_id, SyncWatermark.updated_at)
        .filter_by(**scope.as_filter()))]
    issues = inputs.issue_counts(session, scope, today=today)
    accounts_t, opps_t = inputs.table("attio_accounts_raw"), inputs.table("attio_opportunities_raw")
    attio_accounts, annual_revenue = session.execute(
        select(func.count(), func.coalesce(func.sum(accounts_t.c.annual_revenue), 0))
        .where(inputs.scoped(accounts_t, scope), accounts_t.c.deleted_at.is_(None))).one()
    pipeline = session.scalar(select(func.coalesce(func.sum(opps_t.c.amount), 0))
                              .where(inputs.scoped(opps_t, scope), opps_t.c.deleted_at.is_(None)))
    conversations_t, messages_t = inputs.table("cw_conversations"), inputs.table("cw_messages")
    conversations = session.scalar(select(func.count()).select_from(conversations_t)
                                   .where(inputs.scoped(conversations_t, scope)))
    messages_7d = session.scalar(select(func.count()).select_from(messages_t).where(
        inputs.scoped(messages_t, scope), messages_t.c.created_at > now - timedelta(days=7)))
    evidence = session.scalars(select(EvidenceItem).filter_by(**scope.as_filter())
                               .order_by(EvidenceItem.created_at.desc(), EvidenceItem.id).limit(CONTROL_TOWER_EVIDENCE))
    return {
        "project_id": scope.project_id, "account_scope_id": scope.account_scope_id,
        "integrations": integrations_block(
            watermarks=watermarks, issues_total=issues["total"], issues_open=issues["open"],
            issues_overdue=issues["overdue"], attio_accounts=attio_accounts, annual_revenue=annual_revenue,
            attio_pipeline_amount=pipeline, conversations=conversations, messages_7d=messages_7d),
        "top_nba": [{"id": n["id"], "signal_id": n["signal_id"], "action_type": n["action_type"],
                     "priority": n["priority"], "status": n["status"], "summary": n["summary"],
                     "evidence_refs": n["evidence_refs"] or [], "updated_at": n["updated_at"]}
                    for n in inputs.open_nbas(session, scope, limit=CONTROL_TOWER_NBA)],
        "risk": risk_overview(session=session, scope=scope),
        "analytics": analytics_overview(session=session, scope=scope),
        "evidence": [{"id": e.id, "source_type": e.source_type, "source_table": e.source_table,
                      "source_pk": e.source_pk, "snippet": e.snippet, "created_at": e.created_at} for e in evidence],
    }
