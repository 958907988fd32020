"""Part A tables of business.md §D.2: CRM, offers, digests, health and risk, analytics snapshots.

Every table is scoped (``ScopedMixin``: ``project_id`` + ``account_scope_id``, guarded per platform
§4.3). UUID keys come from Python (``uuid4``); the migration adds ``gen_random_uuid()`` server
defaults on PostgreSQL only, and the GIN index on ``crm_opportunities.evidence_refs`` exists only on
PostgreSQL. Enumerations are ``Text`` plus a named ``CheckConstraint``.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import (
    Base,
    BigId,
    JSONType,
    ScopedMixin,
    bigint_pk,
    created_col,
    updated_col,
    uuid_pk,
)

ACCOUNT_STAGES = ("prospect", "active", "inactive")
OPPORTUNITY_STAGES = ("discovery", "qualified", "proposal", "negotiation", "won", "lost")
OFFER_STATUSES = ("draft", "approved", "sent", "signed", "rejected")
OFFER_ITEM_KINDS = ("package", "addon", "discount")
APPROVAL_ACTIONS = ("approve_discount", "approve_send", "reject")
RADAR_STATUSES = ("open", "mitigating", "closed")
PATTERN_STATUSES = ("open", "mitigated", "ignored")
HORIZONS = (30, 60, 90)
EXTERNAL_REF_SET = "external_ref IS NOT NULL"
RADAR_KEY_OPEN = "radar_key IS NOT NULL AND status <> 'closed'"


def _in(column: str, values: tuple[Any, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))


def _json_array() -> Mapped[list[Any]]:
    return mapped_column(JSONType, nullable=False, default=list, server_default=text("'[]'"))


def _money() -> Mapped[Decimal]:
    return mapped_column(Numeric(14, 2), nullable=False, default=Decimal("0"), server_default=text("0"))


def _count() -> Mapped[int]:
    return mapped_column(Integer, nullable=False, default=0, server_default=text("0"))


def _fk(target: str, ondelete: str, *, nullable: bool = True) -> Mapped[Any]:
    return mapped_column(Uuid, ForeignKey(target, ondelete=ondelete), nullable=nullable)


# --- CRM ------------------------------------------------------------------------------------------
class CrmAccount(ScopedMixin, Base):
    __tablename__ = "crm_accounts"
    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(Text, nullable=False)
    domain: Mapped[str | None] = mapped_column(Text)
    external_ref: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str] = mapped_column(Text, nullable=False, default="prospect", server_default="prospect")
    owner_username: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("stage", ACCOUNT_STAGES), name="stage"),
        UniqueConstraint("project_id", "name", name="uq_crm_accounts_project_name"),
        Index("uq_crm_accounts_project_external_ref", "project_id", "external_ref", unique=True,
              postgresql_where=text(EXTERNAL_REF_SET), sqlite_where=text(EXTERNAL_REF_SET)),
        Index("ix_crm_accounts_project_stage_updated", "project_id", "stage", text("updated_at DESC")),
    )


class CrmAccountContact(ScopedMixin, Base):
    """Reserved (no v1 route reads or writes it)."""

    __tablename__ = "crm_account_contacts"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = _fk("crm_accounts.id", "CASCADE", nullable=False)
    contact_global_id: Mapped[str] = mapped_column(Text, nullable=False)
    role: Mapped[str | None] = mapped_column(Text)
    is_primary: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "account_id", "contact_global_id", name="uq_crm_account_contacts_contact"),
    )


class CrmOpportunity(ScopedMixin, Base):
    __tablename__ = "crm_opportunities"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID] = _fk("crm_accounts.id", "CASCADE", nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    stage: Mapped[str] = mapped_column(Text, nullable=False)
    amount_estimate: Mapped[Decimal] = _money()
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.1"),
                                                 server_default=text("0.1"))
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    next_step: Mapped[str] = mapped_column(Text, nullable=False)
    external_ref: Mapped[str | None] = mapped_column(Text)
    owner_username: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("stage", OPPORTUNITY_STAGES), name="stage"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability"),
        Index("uq_crm_opportunities_project_external_ref", "project_id", "external_ref", unique=True,
              postgresql_where=text(EXTERNAL_REF_SET), sqlite_where=text(EXTERNAL_REF_SET)),
        Index("ix_crm_opportunities_project_stage_close", "project_id", "stage", "expected_close_date"),
        Index("ix_crm_opportunities_project_updated", "project_id", text("updated_at DESC")),
        Index("ix_crm_opportunities_evidence_refs", "evidence_refs", postgresql_using="gin",
              postgresql_ops={"evidence_refs": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )


class CrmOpportunityStageEvent(ScopedMixin, Base):
    __tablename__ = "crm_opportunity_stage_events"
    id: Mapped[int] = bigint_pk()
    opportunity_id: Mapped[uuid.UUID] = _fk("crm_opportunities.id", "CASCADE", nullable=False)
    from_stage: Mapped[str | None] = mapped_column(Text)
    to_stage: Mapped[str] = mapped_column(Text, nullable=False)
    reason: Mapped[str | None] = mapped_column(Text)
    actor_username: Mapped[str] = mapped_column(Text, nullable=False)
    evidence_refs: Mapped[list[Any]] = _json_array()
    audit_event_id: Mapped[int] = mapped_column(BigId, ForeignKey("audit_events.id", ondelete="RESTRICT"),
                                                nullable=False)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        Index("ix_crm_opportunity_stage_events_project_created", "project_id", text("created_at DESC")),
        Index("ix_crm_opportunity_stage_events_opportunity_created", "opportunity_id", "created_at"),
    )


# --- offers ---------------------------------------------------------------------------------------
class Offer(ScopedMixin, Base):
    __tablename__ = "offers"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID | None] = _fk("crm_accounts.id", "SET NULL")
    opportunity_id: Mapped[uuid.UUID | None] = _fk("crm_opportunities.id", "SET NULL")
    title: Mapped[str] = mapped_column(Text, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False, default="USD", server_default="USD")
    subtotal: Mapped[Decimal] = _money()
    discount_pct: Mapped[Decimal] = mapped_column(Numeric(5, 2), nullable=False, default=Decimal("0"),
                                                  server_default=text("0"))
    total: Mapped[Decimal] = _money()
    status: Mapped[str] = mapped_column(Text, nullable=False, default="draft", server_default="draft")
    generated_doc_url: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint("discount_pct >= 0 AND discount_pct <= 100", name="discount_pct"),
        CheckConstraint(_in("status", OFFER_STATUSES), name="status"),
        Index("ix_offers_project_status_updated", "project_id", "status", text("updated_at DESC")),
    )


class OfferItem(ScopedMixin, Base):
    """Reserved for the quote builder (no v1 route reads or writes it)."""

    __tablename__ = "offer_items"
    id: Mapped[uuid.UUID] = uuid_pk()
    offer_id: Mapped[uuid.UUID] = _fk("offers.id", "CASCADE", nullable=False)
    item_kind: Mapped[str] = mapped_column(Text, nullable=False)
    item_code: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False, default=Decimal("1"),
                                              server_default=text("1"))
    unit_price: Mapped[Decimal] = _money()
    line_total: Mapped[Decimal] = _money()
    meta: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("item_kind", OFFER_ITEM_KINDS), name="item_kind"),
        Index("ix_offer_items_project_offer", "project_id", "offer_id"),
    )


class OfferApproval(ScopedMixin, Base):
    __tablename__ = "offer_approvals"
    id: Mapped[int] = bigint_pk()
    offer_id: Mapped[uuid.UUID] = _fk("offers.id", "CASCADE", nullable=False)
    action: Mapped[str] = mapped_column(Text, nullable=False)
    actor_username: Mapped[str] = mapped_column(Text, nullable=False)
    comment: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    audit_event_id: Mapped[int] = mapped_column(BigId, ForeignKey("audit_events.id", ondelete="RESTRICT"),
                                                nullable=False)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("action", APPROVAL_ACTIONS), name="action"),
        Index("ix_offer_approvals_offer_created", "offer_id", "created_at"),
    )


# --- digests --------------------------------------------------------------------------------------
class DailyDigest(ScopedMixin, Base):
    __tablename__ = "daily_digests"
    id: Mapped[uuid.UUID] = uuid_pk()
    digest_date: Mapped[date] = mapped_column(Date, nullable=False)
    summary: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (UniqueConstraint("project_id", "digest_date", name="uq_daily_digests_project_date"),)


class WeeklyDigest(ScopedMixin, Base):
    __tablename__ = "weekly_digests"
    id: Mapped[uuid.UUID] = uuid_pk()
    week_start: Mapped[date] = mapped_column(Date, nullable=False)
    summary: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "week_start", name="uq_weekly_digests_project_week"),
        CheckConstraint("EXTRACT(ISODOW FROM week_start) = 1", name="week_start_monday")
        .ddl_if(dialect="postgresql"),
        CheckConstraint("strftime('%w', week_start) = '1'", name="week_start_monday_sqlite")
        .ddl_if(dialect="sqlite"),
    )


# --- health and risk ------------------------------------------------------------------------------
class HealthScore(ScopedMixin, Base):
    __tablename__ = "health_scores"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID | None] = _fk("crm_accounts.id", "CASCADE")  # null = project level
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2), nullable=False)
    factors: Mapped[list[Any]] = _json_array()
    generated_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        # INCLUDE (PostgreSQL): the portfolio's latest-score lookups and health chart are index-only scans
        Index("ix_health_scores_project_generated", "project_id", text("generated_at DESC"),
              postgresql_include=["score", "account_id"]),
    )


class HealthScoreDay(ScopedMixin, Base):
    """Project-level health scores per UTC day (sum and count). Kept by database triggers on
    ``health_scores`` (migration 0009), whoever writes or deletes the scores: the portfolio's 60-day
    chart reads one row per project and day instead of every half-hourly score."""

    __tablename__ = "health_score_days"
    day: Mapped[date] = mapped_column(Date, nullable=False)
    score_sum: Mapped[Decimal] = mapped_column(Numeric(16, 2), nullable=False)
    score_count: Mapped[int] = mapped_column(Integer, nullable=False)
    __table_args__ = (PrimaryKeyConstraint("project_id", "day", name="pk_health_score_days"),)


class RiskRadarItem(ScopedMixin, Base):
    __tablename__ = "risk_radar_items"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID | None] = _fk("crm_accounts.id", "SET NULL")
    opportunity_id: Mapped[uuid.UUID | None] = _fk("crm_opportunities.id", "SET NULL")
    radar_key: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[int] = mapped_column(Integer, nullable=False)
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    mitigation_action: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="open", server_default="open")
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint("severity >= 1 AND severity <= 5", name="severity"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability"),
        CheckConstraint(_in("status", RADAR_STATUSES), name="status"),
        Index("ix_risk_radar_items_project_status_severity", "project_id", "status", text("severity DESC")),
        Index("uq_risk_radar_items_project_key_open", "project_id", "radar_key", unique=True,
              postgresql_where=text(RADAR_KEY_OPEN), sqlite_where=text(RADAR_KEY_OPEN)),
    )


class RiskPatternEvent(ScopedMixin, Base):
    __tablename__ = "risk_pattern_events"
    id: Mapped[uuid.UUID] = uuid_pk()
    pattern_key: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    weight: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.5"),
                                            server_default=text("0.5"))
    status: Mapped[str] = mapped_column(Text, nullable=False, default="open", server_default="open")
    mitigation_playbook: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint("weight >= 0 AND weight <= 1", name="weight"),
        CheckConstraint(_in("status", PATTERN_STATUSES), name="status"),
        UniqueConstraint("project_id", "pattern_key", name="uq_risk_pattern_events_project_key"),
        Index("ix_risk_pattern_events_project_status_weight", "project_id", "status", text("weight DESC")),
    )


# --- analytics snapshots --------------------------------------------------------------------------
class AnalyticsRevenueSnapshot(ScopedMixin, Base):
    __tablename__ = "analytics_revenue_snapshots"
    id: Mapped[uuid.UUID] = uuid_pk()
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    horizon_days: Mapped[int] = mapped_column(Integer, nullable=False)
    pipeline_amount: Mapped[Decimal] = _money()
    commit_amount: Mapped[Decimal] = _money()
    won_amount: Mapped[Decimal] = _money()
    expected_revenue: Mapped[Decimal] = _money()
    costs_amount: Mapped[Decimal] = _money()
    gross_margin: Mapped[Decimal] = _money()
    attribution: Mapped[dict[str, Any]] = _json_object()
    generated_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("horizon_days", HORIZONS), name="horizon_days"),
        UniqueConstraint("project_id", "period_start", "horizon_days", name="uq_analytics_revenue_snapshots_period"),
        Index("ix_analytics_revenue_snapshots_project_generated", "project_id", text("generated_at DESC")),
    )


class AnalyticsDeliverySnapshot(ScopedMixin, Base):
    __tablename__ = "analytics_delivery_snapshots"
    id: Mapped[uuid.UUID] = uuid_pk()
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    open_issues: Mapped[int] = _count()
    overdue_issues: Mapped[int] = _count()
    completed_issues: Mapped[int] = _count()
    throughput: Mapped[int] = _count()
    lead_time_days: Mapped[Decimal] = mapped_column(Numeric(8, 2), nullable=False, default=Decimal("0"),
                                                    server_default=text("0"))
    payload: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "period_start", "period_end", name="uq_analytics_delivery_snapshots_period"),
        Index("ix_analytics_delivery_snapshots_project_created", "project_id", text("created_at DESC")),
    )


class AnalyticsCommsSnapshot(ScopedMixin, Base):
    __tablename__ = "analytics_comms_snapshots"
    id: Mapped[uuid.UUID] = uuid_pk()
    period_start: Mapped[date] = mapped_column(Date, nullable=False)
    period_end: Mapped[date] = mapped_column(Date, nullable=False)
    inbound_messages: Mapped[int] = _count()
    outbound_messages: Mapped[int] = _count()
    unique_contacts: Mapped[int] = _count()
    avg_response_minutes: Mapped[Decimal] = mapped_column(Numeric(10, 2), nullable=False, default=Decimal("0"),
                                                          server_default=text("0"))
    payload: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "period_start", "period_end", name="uq_analytics_comms_snapshots_period"),
        Index("ix_analytics_comms_snapshots_project_created", "project_id", text("created_at DESC")),
    )


BUSINESS_CORE_TABLES = (
    "crm_accounts", "crm_account_contacts", "crm_opportunities", "crm_opportunity_stage_events", "offers",
    "offer_items", "offer_approvals", "daily_digests", "weekly_digests", "health_scores", "health_score_days",
    "risk_radar_items",
    "risk_pattern_events", "analytics_revenue_snapshots", "analytics_delivery_snapshots",
    "analytics_comms_snapshots",
)

__all__ = [
    "AnalyticsCommsSnapshot", "AnalyticsDeliverySnapshot", "AnalyticsRevenueSnapshot", "CrmAccount",
    "CrmAccountContact", "CrmOpportunity", "CrmOpportunityStageEvent", "DailyDigest", "HealthScore", "HealthScoreDay",
    "Offer", "OfferApproval", "OfferItem", "RiskPatternEvent", "RiskRadarItem", "WeeklyDigest",
]
