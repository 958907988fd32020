"""KAG v2 tables (kag.md §18.3): snapshots, outcomes, case signatures, risk forecasts, recommendations v2.

Every table is scoped (``ScopedMixin``, guarded per platform §4.3). UUID keys come from Python
(``uuid4``); migration 0007 adds ``gen_random_uuid()`` server defaults, the GIN index on
``recommendations_v2.evidence_refs`` and the ``jsonb_array_length(evidence_refs) > 0`` check on
PostgreSQL only (SQLite gets ``json_array_length``). ``past_case_outcomes.source_event_id`` points at
``kag_event_log`` (KAG v1 tables, ``shared.db.models.kag``).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import (
    Base,
    JSONType,
    ScopedMixin,
    TZDateTime,
    bigint_pk,
    created_col,
    updated_col,
    uuid_pk,
)
from shared.db.models import kag as _kag  # noqa: F401 - kag_event_log must be on the metadata first

RISK_TYPES = ("delivery_risk", "finance_risk", "client_risk", "scope_risk")
WINDOW_DAYS = (7, 14, 30)
FORECAST_MODELS = ("rules_v1", "logit_v1")
V2_CATEGORIES = (
    "waiting_on_client", "scope_creep_change_request", "delivery_risk", "finance_risk", "upsell_opportunity",
    "winback",
)
V2_STATUSES = ("new", "acknowledged", "done", "dismissed")
FEEDBACK_VALUES = ("unknown", "helpful", "not_helpful")
OWNER_ROLES = ("pm", "finance_lead", "account_manager")


def _in(column: str, values: tuple[Any, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))


def _json_array() -> Mapped[list[Any]]:
    return mapped_column(JSONType, nullable=False, default=list, server_default=text("'[]'"))


def _probability() -> Mapped[Decimal]:
    return mapped_column(Numeric(6, 4), nullable=False)


class ProjectSnapshot(ScopedMixin, Base):
    __tablename__ = "project_snapshots"
    id: Mapped[int] = bigint_pk()
    snapshot_date: Mapped[date] = mapped_column(Date, nullable=False)
    signals_json: Mapped[dict[str, Any]] = _json_object()
    normalized_signals_json: Mapped[dict[str, Any]] = _json_object()
    scores_json: Mapped[dict[str, Any]] = _json_object()
    key_aggregates_json: Mapped[dict[str, Any]] = _json_object()
    publishable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "snapshot_date", name="uq_project_snapshots_project_date"),
        Index("ix_project_snapshots_project_date", "project_id", text("snapshot_date DESC")),
    )


class PastCaseOutcome(ScopedMixin, Base):
    __tablename__ = "past_case_outcomes"
    id: Mapped[uuid.UUID] = uuid_pk()
    outcome_type: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    severity: Mapped[int] = mapped_column(Integer, nullable=False, default=3, server_default="3")
    notes: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    source_event_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("kag_event_log.id", ondelete="SET NULL"))
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint("severity >= 1 AND severity <= 5", name="severity"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_past_case_outcomes_project_dedupe"),
        Index("ix_past_case_outcomes_project_type_occurred", "project_id", "outcome_type",
              text("occurred_at DESC")),
        Index("ix_past_case_outcomes_project_occurred", "project_id", text("occurred_at DESC")),
    )


class CaseSignature(ScopedMixin, Base):
    __tablename__ = "case_signatures"
    id: Mapped[uuid.UUID] = uuid_pk()
    window_days: Mapped[int] = mapped_column(Integer, nullable=False)
    signature_vector: Mapped[list[Any]] = _json_array()
    signature_hash: Mapped[str] = mapped_column(Text, nullable=False)
    features_json: Mapped[dict[str, Any]] = _json_object()
    context_json: Mapped[dict[str, Any]] = _json_object()
    computed_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("window_days", WINDOW_DAYS), name="window_days"),
        UniqueConstraint("project_id", "window_days", name="uq_case_signatures_project_window"),
        Index("ix_case_signatures_project_computed", "project_id", text("computed_at DESC")),
        Index("ix_case_signatures_hash", "signature_hash"),
        Index("ix_case_signatures_scope_window_updated", "account_scope_id", "window_days",
              text("updated_at DESC")),
    )


class KagRiskForecast(ScopedMixin, Base):
    __tablename__ = "kag_risk_forecasts"
    id: Mapped[uuid.UUID] = uuid_pk()
    risk_type: Mapped[str] = mapped_column(Text, nullable=False)
    probability_7d: Mapped[Decimal] = _probability()
    probability_14d: Mapped[Decimal] = _probability()
    probability_30d: Mapped[Decimal] = _probability()
    expected_time_to_risk_days: Mapped[Decimal | None] = mapped_column(Numeric(8, 2))
    confidence: Mapped[Decimal] = mapped_column(Numeric(6, 4), nullable=False, default=Decimal("0.5"),
                                                server_default=text("0.5"))
    top_drivers: Mapped[list[Any]] = _json_array()
    similar_cases: Mapped[list[Any]] = _json_array()
    evidence_refs: Mapped[list[Any]] = _json_array()
    publishable: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    model: Mapped[str] = mapped_column(Text, nullable=False, default="rules_v1", server_default="rules_v1")
    generated_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("risk_type", RISK_TYPES), name="risk_type"),
        CheckConstraint("probability_7d >= 0 AND probability_7d <= 1", name="probability_7d"),
        CheckConstraint("probability_14d >= 0 AND probability_14d <= 1", name="probability_14d"),
        CheckConstraint("probability_30d >= 0 AND probability_30d <= 1", name="probability_30d"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
        CheckConstraint(_in("model", FORECAST_MODELS), name="model"),
        UniqueConstraint("project_id", "risk_type", name="uq_kag_risk_forecasts_project_type"),
        Index("ix_kag_risk_forecasts_project_generated", "project_id", text("generated_at DESC")),
    )


class RecommendationV2(ScopedMixin, Base):
    __tablename__ = "recommendations_v2"
    id: Mapped[uuid.UUID] = uuid_pk()
    category: Mapped[str] = mapped_column(Text, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date)
    owner_role: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="new", server_default="new")
    title: Mapped[str] = mapped_column(Text, nullable=False)
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    why_now: Mapped[str | None] = mapped_column(Text)
    expected_impact: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    links: Mapped[list[Any]] = _json_array()
    suggested_template_key: Mapped[str] = mapped_column(Text, nullable=False)
    suggested_template: Mapped[str] = mapped_column(Text, nullable=False)
    signal_snapshot: Mapped[dict[str, Any]] = _json_object()
    forecast_snapshot: Mapped[dict[str, Any]] = _json_object()
    helpful_feedback: Mapped[str] = mapped_column(Text, nullable=False, default="unknown",
                                                  server_default="unknown")
    feedback_note: Mapped[str | None] = mapped_column(Text)
    shown_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    first_shown_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_shown_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    __table_args__ = (
        CheckConstraint(_in("category", V2_CATEGORIES), name="category"),
        CheckConstraint("priority >= 1 AND priority <= 5", name="priority"),
        CheckConstraint(_in("status", V2_STATUSES), name="status"),
        CheckConstraint(_in("helpful_feedback", FEEDBACK_VALUES), name="helpful_feedback"),
        CheckConstraint(f"owner_role IS NULL OR {_in('owner_role', OWNER_ROLES)}", name="owner_role"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_recommendations_v2_project_dedupe"),
        Index("ix_recommendations_v2_project_status_priority", "project_id", "status", text("priority DESC"),
              text("updated_at DESC")),
        Index("ix_recommendations_v2_scope_status_priority", "account_scope_id", "status", text("priority DESC"),
              text("updated_at DESC")),
        Index("ix_recommendations_v2_status_feedback_updated", "status", "helpful_feedback",
              text("updated_at DESC")),
        Index("ix_recommendations_v2_evidence_refs", "evidence_refs", postgresql_using="gin",
              postgresql_ops={"evidence_refs": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )
