"""KAG v1 tables (kag.md §18.1, §18.2, §18.3 ``kag_event_log``, §18.4): the project graph, the signal
engine's state and output, scores, v1 recommendations, templates, the event log, legacy signals and
next best actions.

Every table is scoped (``ScopedMixin``; guarded by the ORM listener and, on PostgreSQL, by the
trigger migration 0004 attaches). UUID keys come from Python (``uuid4``); migration 0004 adds
``gen_random_uuid()`` server defaults, the GIN indexes on the evidence columns, the functional unique
index of ``kag_provenance_refs`` and the ``jsonb_array_length(evidence_refs) > 0`` check on PostgreSQL
(SQLite gets ``json_array_length`` and no GIN indexes). The statements KAG runs against the connector
tables have their read indexes here too (``KAG_READ_INDEXES``, created by migration 0004), so the
metadata and the migrated schema agree.

``signals.account_id`` / ``opportunity_id`` reference the business tables (``crm_accounts``,
``crm_opportunities``) created by migration 0005, after this one: the migration that creates those
tables owns the two foreign keys (see 0004's docstring).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import (
    Base,
    BigId,
    JSONType,
    ScopedMixin,
    TZDateTime,
    bigint_pk,
    created_col,
    updated_col,
    uuid_pk,
)
from shared.db.models import attio as _attio  # noqa: F401 - read indexes below attach to these tables
from shared.db.models import chatwoot as _chatwoot  # noqa: F401
from shared.db.models import linear as _linear  # noqa: F401
from shared.db.models import rag as _rag  # noqa: F401 - kag_provenance_refs.rag_chunk_id references it
from shared.db.models.attio import AttioOpportunityRaw
from shared.db.models.chatwoot import CwMessage

# --- vocabularies of the CHECK constraints (the KAG core's `jobs.kag.vocab` holds the same lists) ---
NODE_TYPES = ("project", "client", "person", "stage", "deliverable", "conversation", "message", "task", "blocker",
              "deal", "finance_entry", "agreement", "decision", "risk", "offer")
NODE_STATUSES = ("active", "inactive", "archived")
EDGE_STATUSES = ("active", "inactive")
EDGE_RELATIONS = tuple(f"project_has_{k}" for k in (
    "client", "stage", "deliverable", "task", "blocker", "deal", "finance_entry", "agreement", "decision", "risk",
    "offer", "conversation")) + (
    "conversation_has_message", "message_authored_by_person", "task_blocked_by_blocker",
    "deliverable_depends_on_task", "deal_for_client", "agreement_for_deal", "decision_about_stage",
    "risk_impacts_deliverable", "offer_targets_client")
GRAPH_EVENT_TYPES = ("message_sent", "decision_made", "agreement_created", "approval_approved", "stage_started",
                     "stage_completed", "task_created", "task_blocked", "blocker_resolved", "deal_updated",
                     "finance_entry_created", "risk_detected", "scope_change_requested", "need_detected",
                     "offer_created")
GRAPH_EVENT_STATUSES = ("open", "processed", "ignored")
PROVENANCE_OBJECT_KINDS = ("node", "edge", "event", "signal", "score", "recommendation")
PROVENANCE_SOURCE_KINDS = ("chatwoot_message", "linear_issue", "attio_record", "document", "rag_chunk", "manual",
                           "system")
INGEST_SOURCES = ("chatwoot_messages", "linear_issues", "attio_deals")
SIGNAL_KEYS = ("waiting_on_client_days", "response_time_avg", "blockers_age", "stage_overdue",
               "agreement_overdue_count", "sentiment_trend", "scope_creep_rate", "budget_burn_rate", "margin_risk",
               "activity_drop")
SIGNAL_STATUSES = ("ok", "warn", "critical")
SCORE_TYPES = ("project_health", "risk", "client_value", "upsell_likelihood")
SCORE_LEVELS = ("low", "medium", "high", "critical")
V1_CATEGORIES = ("waiting_on_client", "scope_creep_change_request", "delivery_risk", "finance_risk",
                 "upsell_opportunity")
PROPOSAL_STATUSES = ("proposed", "accepted", "dismissed", "done")  # v1 recommendations, legacy signals
NBA_STATUSES = PROPOSAL_STATUSES + ("cancelled",)
TEMPLATE_SOURCES = ("system", "llm")
EVENT_LOG_TYPES = (
    "message_sent", "approval_requested", "scope_change_detected", "client_silent_started", "issue_created",
    "issue_blocked", "issue_unblocked", "deal_stage_changed", "invoice_paid", "invoice_sent", "note_logged",
    "activity_logged",  # §5.1 domain events
    "approval_approved", "stage_started", "stage_completed", "contact_updated",  # reserved
    "process_started", "process_finished", "process_failed", "process_warning",  # §5.2
)
EVENT_LOG_ACTORS = ("client", "team", "system")
EVENT_LOG_SOURCES = ("chatwoot", "linear", "attio", "system")
LEGACY_SOURCE_KINDS = ("conversation", "crm", "linear", "campaign", "system")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))


def _json_array() -> Mapped[list[Any]]:
    return mapped_column(JSONType, nullable=False, default=list, server_default=text("'[]'"))


def _gin(name: str, column: str) -> Index:
    return Index(name, column, postgresql_using="gin",
                 postgresql_ops={column: "jsonb_path_ops"}).ddl_if(dialect="postgresql")


# --- §18.1 graph ----------------------------------------------------------------------------------
class KagNode(ScopedMixin, Base):
    __tablename__ = "kag_nodes"
    id: Mapped[uuid.UUID] = uuid_pk()
    node_type: Mapped[str] = mapped_column(Text, nullable=False)
    node_key: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="active", server_default="active")
    title: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = _json_object()
    numeric_fields: Mapped[dict[str, Any]] = _json_object()
    source_refs: Mapped[list[Any]] = _json_array()
    rag_chunk_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "node_type", "node_key", name="uq_kag_nodes_identity"),
        CheckConstraint(_in("node_type", NODE_TYPES), name="node_type"),
        CheckConstraint(_in("status", NODE_STATUSES), name="status"),
        Index("ix_kag_nodes_project_type_status_updated", "project_id", "node_type", "status",
              text("updated_at DESC")),
        _gin("ix_kag_nodes_source_refs", "source_refs"),
    )


class KagEdge(ScopedMixin, Base):
    __tablename__ = "kag_edges"
    id: Mapped[uuid.UUID] = uuid_pk()
    from_node_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("kag_nodes.id", ondelete="CASCADE"),
                                                    nullable=False)
    to_node_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("kag_nodes.id", ondelete="CASCADE"),
                                                  nullable=False)
    relation_type: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="active", server_default="active")
    weight: Mapped[Decimal] = mapped_column(Numeric(7, 4), nullable=False, default=Decimal(1), server_default="1")
    payload: Mapped[dict[str, Any]] = _json_object()
    source_refs: Mapped[list[Any]] = _json_array()
    rag_chunk_refs: Mapped[list[Any]] = _json_array()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "from_node_id", "to_node_id", "relation_type", name="uq_kag_edges_identity"),
        CheckConstraint(_in("relation_type", EDGE_RELATIONS), name="relation_type"),
        CheckConstraint(_in("status", EDGE_STATUSES), name="status"),
        CheckConstraint("weight >= 0 AND weight <= 1", name="weight"),
        Index("ix_kag_edges_project_relation_status_updated", "project_id", "relation_type", "status",
              text("updated_at DESC")),
        _gin("ix_kag_edges_source_refs", "source_refs"),
    )


class KagEvent(ScopedMixin, Base):
    __tablename__ = "kag_events"
    id: Mapped[int] = bigint_pk()
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    event_ts: Mapped[datetime] = created_col()
    actor_node_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("kag_nodes.id", ondelete="SET NULL"))
    subject_node_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("kag_nodes.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(Text, nullable=False, default="open", server_default="open")
    payload: Mapped[dict[str, Any]] = _json_object()
    source_refs: Mapped[list[Any]] = _json_array()
    rag_chunk_refs: Mapped[list[Any]] = _json_array()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    processed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "dedupe_key", name="uq_kag_events_project_dedupe"),
        CheckConstraint(_in("event_type", GRAPH_EVENT_TYPES), name="event_type"),
        CheckConstraint(_in("status", GRAPH_EVENT_STATUSES), name="status"),
        Index("ix_kag_events_project_type_ts", "project_id", "event_type", text("event_ts DESC")),
        Index("ix_kag_events_project_status_id", "project_id", "status", "id"),
        Index("ix_kag_events_project_id", "project_id", "id"),  # the signal stage's `id > last_event_id` scan
        _gin("ix_kag_events_source_refs", "source_refs"),
    )


class KagProvenanceRef(ScopedMixin, Base):
    __tablename__ = "kag_provenance_refs"
    id: Mapped[uuid.UUID] = uuid_pk()
    object_kind: Mapped[str] = mapped_column(Text, nullable=False)
    object_id: Mapped[str] = mapped_column(Text, nullable=False)
    source_kind: Mapped[str] = mapped_column(Text, nullable=False)
    message_id: Mapped[str | None] = mapped_column(Text)
    linear_issue_id: Mapped[str | None] = mapped_column(Text)
    attio_record_id: Mapped[str | None] = mapped_column(Text)
    doc_url: Mapped[str | None] = mapped_column(Text)
    rag_chunk_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("rag_chunks.id", ondelete="SET NULL"))
    source_table: Mapped[str | None] = mapped_column(Text)
    source_pk: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONType, nullable=False, default=dict,
                                                      server_default=text("'{}'"))
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("object_kind", PROVENANCE_OBJECT_KINDS), name="object_kind"),
        CheckConstraint(_in("source_kind", PROVENANCE_SOURCE_KINDS), name="source_kind"),
        CheckConstraint("message_id IS NOT NULL OR linear_issue_id IS NOT NULL OR attio_record_id IS NOT NULL "
                        "OR doc_url IS NOT NULL OR rag_chunk_id IS NOT NULL", name="has_id"),
        Index("ix_kag_provenance_refs_object", "project_id", "object_kind", "object_id", text("created_at DESC")),
        Index("ix_kag_provenance_refs_message", "project_id", "message_id",
              postgresql_where=text("message_id IS NOT NULL"), sqlite_where=text("message_id IS NOT NULL")),
        Index("ix_kag_provenance_refs_linear", "project_id", "linear_issue_id",
              postgresql_where=text("linear_issue_id IS NOT NULL"),
              sqlite_where=text("linear_issue_id IS NOT NULL")),
        Index("ix_kag_provenance_refs_attio", "project_id", "attio_record_id",
              postgresql_where=text("attio_record_id IS NOT NULL"),
              sqlite_where=text("attio_record_id IS NOT NULL")),
        # the functional unique index (coalesce over the five ids) is created by migration 0004
    )


class KagIngestCursor(ScopedMixin, Base):
    __tablename__ = "kag_ingest_cursors"
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("projects.id", ondelete="CASCADE"),
                                                  primary_key=True)
    source: Mapped[str] = mapped_column(Text, primary_key=True)
    cursor_ts: Mapped[datetime | None] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (CheckConstraint(_in("source", INGEST_SOURCES), name="source"),)


# --- §18.2 signals, scores, v1 recommendations, templates ---------------------------------------------
class KagSignalState(ScopedMixin, Base):
    __tablename__ = "kag_signal_state"
    project_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("projects.id", ondelete="CASCADE"),
                                                  primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigId, nullable=False, default=0, server_default="0")
    state_payload: Mapped[dict[str, Any]] = _json_object()
    updated_at: Mapped[datetime] = updated_col()


class KagSignal(ScopedMixin, Base):
    __tablename__ = "kag_signals"
    id: Mapped[uuid.UUID] = uuid_pk()
    signal_key: Mapped[str] = mapped_column(Text, nullable=False)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 4), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    threshold_warn: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    threshold_critical: Mapped[Decimal | None] = mapped_column(Numeric(14, 4))
    details: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    computed_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "signal_key", name="uq_kag_signals_project_key"),
        CheckConstraint(_in("signal_key", SIGNAL_KEYS), name="signal_key"),
        CheckConstraint(_in("status", SIGNAL_STATUSES), name="status"),
        Index("ix_kag_signals_project_status_updated", "project_id", "status", text("updated_at DESC")),
    )


class KagSignalHistory(ScopedMixin, Base):
    __tablename__ = "kag_signal_history"
    id: Mapped[int] = bigint_pk()
    signal_key: Mapped[str] = mapped_column(Text, nullable=False)
    value: Mapped[Decimal] = mapped_column(Numeric(14, 4), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    details: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    computed_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint(_in("status", SIGNAL_STATUSES), name="status"),
        Index("ix_kag_signal_history_project_key_computed", "project_id", "signal_key", text("computed_at DESC")),
        Index("ix_kag_signal_history_computed", "computed_at"),  # global retention (§11.3)
    )


class KagScore(ScopedMixin, Base):
    __tablename__ = "kag_scores"
    id: Mapped[uuid.UUID] = uuid_pk()
    score_type: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2), nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    weights: Mapped[dict[str, Any]] = _json_object()
    thresholds: Mapped[dict[str, Any]] = _json_object()
    factors: Mapped[list[Any]] = _json_array()
    evidence_refs: Mapped[list[Any]] = _json_array()
    computed_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "score_type", name="uq_kag_scores_project_type"),
        CheckConstraint(_in("score_type", SCORE_TYPES), name="score_type"),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        CheckConstraint(_in("level", SCORE_LEVELS), name="level"),
        Index("ix_kag_scores_project_type_updated", "project_id", "score_type", text("updated_at DESC")),
    )


class KagScoreHistory(ScopedMixin, Base):
    __tablename__ = "kag_score_history"
    id: Mapped[int] = bigint_pk()
    score_type: Mapped[str] = mapped_column(Text, nullable=False)
    score: Mapped[Decimal] = mapped_column(Numeric(6, 2), nullable=False)
    level: Mapped[str] = mapped_column(Text, nullable=False)
    factors: Mapped[list[Any]] = _json_array()
    evidence_refs: Mapped[list[Any]] = _json_array()
    computed_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    __table_args__ = (
        CheckConstraint(_in("score_type", SCORE_TYPES), name="score_type"),
        CheckConstraint("score >= 0 AND score <= 100", name="score"),
        CheckConstraint(_in("level", SCORE_LEVELS), name="level"),
        Index("ix_kag_score_history_project_type_computed", "project_id", "score_type", text("computed_at DESC")),
        Index("ix_kag_score_history_computed", "computed_at"),  # global retention (§11.3)
    )


class KagRecommendation(ScopedMixin, Base):
    __tablename__ = "kag_recommendations"
    id: Mapped[uuid.UUID] = uuid_pk()
    category: Mapped[str] = mapped_column(Text, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="proposed", server_default="proposed")
    title: Mapped[str] = mapped_column(Text, nullable=False)
    rationale: Mapped[str] = mapped_column(Text, nullable=False)
    suggested_template_key: Mapped[str] = mapped_column(Text, nullable=False)
    suggested_template: Mapped[str] = mapped_column(Text, nullable=False)
    evidence_refs: Mapped[list[Any]] = _json_array()
    signal_snapshot: Mapped[dict[str, Any]] = _json_object()
    score_snapshot: Mapped[dict[str, Any]] = _json_object()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "dedupe_key", name="uq_kag_recommendations_project_dedupe"),
        CheckConstraint(_in("category", V1_CATEGORIES), name="category"),
        CheckConstraint("priority >= 1 AND priority <= 5", name="priority"),
        CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        # CHECK jsonb_array_length(evidence_refs) > 0: dialect-specific, created by migration 0004
        Index("ix_kag_recommendations_project_status_priority", "project_id", "status", text("priority DESC"),
              text("updated_at DESC")),
        Index("ix_kag_recommendations_project_priority", "project_id", text("priority DESC"),
              text("updated_at DESC")),  # GET /kag/recommendations without a status filter
        _gin("ix_kag_recommendations_evidence_refs", "evidence_refs"),
    )


class KagTemplate(ScopedMixin, Base):
    __tablename__ = "kag_templates"
    id: Mapped[uuid.UUID] = uuid_pk()
    template_key: Mapped[str] = mapped_column(Text, nullable=False)
    category: Mapped[str] = mapped_column(Text, nullable=False)
    language: Mapped[str] = mapped_column(Text, nullable=False, default="ru", server_default="ru")
    channel: Mapped[str] = mapped_column(Text, nullable=False, default="email", server_default="email")
    body: Mapped[str] = mapped_column(Text, nullable=False)
    source: Mapped[str] = mapped_column(Text, nullable=False, default="system", server_default="system")
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "template_key", "language", "channel", "version",
                         name="uq_kag_templates_version"),
        CheckConstraint(_in("source", TEMPLATE_SOURCES), name="source"),
        Index("ix_kag_templates_lookup", "project_id", "template_key", "language", "channel", text("version DESC")),
    )


# --- §18.3 event log --------------------------------------------------------------------------------
class KagEventLog(ScopedMixin, Base):
    __tablename__ = "kag_event_log"
    id: Mapped[int] = bigint_pk()
    event_type: Mapped[str] = mapped_column(Text, nullable=False)
    occurred_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False)
    actor: Mapped[str] = mapped_column(Text, nullable=False, default="system", server_default="system")
    source: Mapped[str] = mapped_column(Text, nullable=False)
    source_ref: Mapped[str] = mapped_column(Text, nullable=False)
    source_url: Mapped[str | None] = mapped_column(Text)
    source_message_id: Mapped[str | None] = mapped_column(Text)
    source_linear_issue_id: Mapped[str | None] = mapped_column(Text)
    source_attio_record_id: Mapped[str | None] = mapped_column(Text)
    payload_json: Mapped[dict[str, Any]] = _json_object()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "dedupe_key", name="uq_kag_event_log_project_dedupe"),
        CheckConstraint(_in("event_type", EVENT_LOG_TYPES), name="event_type"),
        CheckConstraint(_in("actor", EVENT_LOG_ACTORS), name="actor"),
        CheckConstraint(_in("source", EVENT_LOG_SOURCES), name="source"),
        Index("ix_kag_event_log_project_occurred", "project_id", text("occurred_at DESC")),
        Index("ix_kag_event_log_project_source_ref", "project_id", "source", "source_ref"),
        Index("ix_kag_event_log_project_type_occurred", "project_id", "event_type", text("occurred_at DESC")),
        Index("ix_kag_event_log_project_source_occurred", "project_id", "source", text("occurred_at DESC"),
              text("id DESC")),  # GET /kag/events?source=…
    )


# --- §18.4 legacy signals and next best actions ---------------------------------------------------------
class LegacySignal(ScopedMixin, Base):
    __tablename__ = "signals"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # → crm_accounts.id (FK added by 0005)
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # → crm_opportunities.id (FK added by 0005)
    signal_type: Mapped[str] = mapped_column(Text, nullable=False)
    severity: Mapped[int] = mapped_column(Integer, nullable=False, default=2, server_default="2")
    confidence: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.5"),
                                                server_default=text("0.5"))
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    evidence_refs: Mapped[list[Any]] = _json_array()
    status: Mapped[str] = mapped_column(Text, nullable=False, default="proposed", server_default="proposed")
    source_kind: Mapped[str] = mapped_column(Text, nullable=False, default="conversation",
                                             server_default="conversation")
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "dedupe_key", name="uq_signals_project_dedupe"),
        CheckConstraint("severity >= 1 AND severity <= 5", name="severity"),
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
        CheckConstraint(_in("status", PROPOSAL_STATUSES), name="status"),
        CheckConstraint(_in("source_kind", LEGACY_SOURCE_KINDS), name="source_kind"),
        Index("ix_signals_project_created", "project_id", text("created_at DESC")),
        Index("ix_signals_project_severity_confidence", "project_id", text("severity DESC"),
              text("confidence DESC")),
    )


class NextBestAction(ScopedMixin, Base):
    __tablename__ = "next_best_actions"
    id: Mapped[uuid.UUID] = uuid_pk()
    signal_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("signals.id", ondelete="SET NULL"))
    account_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # → crm_accounts.id (FK added by 0005)
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)  # → crm_opportunities.id (FK added by 0005)
    action_type: Mapped[str] = mapped_column(Text, nullable=False)
    priority: Mapped[int] = mapped_column(Integer, nullable=False, default=3, server_default="3")
    status: Mapped[str] = mapped_column(Text, nullable=False, default="proposed", server_default="proposed")
    summary: Mapped[str] = mapped_column(Text, nullable=False)
    due_date: Mapped[date | None] = mapped_column(Date)
    owner_username: Mapped[str | None] = mapped_column(Text)
    evidence_refs: Mapped[list[Any]] = _json_array()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        UniqueConstraint("project_id", "dedupe_key", name="uq_next_best_actions_project_dedupe"),
        CheckConstraint("priority >= 1 AND priority <= 5", name="priority"),
        CheckConstraint(_in("status", NBA_STATUSES), name="status"),
        Index("ix_next_best_actions_project_status_priority", "project_id", "status", text("priority DESC")),
        Index("ix_next_best_actions_project_priority_updated", "project_id", text("priority DESC"),
              text("updated_at DESC")),  # GET /nba without a status filter
    )


# --- read indexes KAG needs on connector tables (created by migration 0004) -----------------------------
KAG_READ_INDEXES = (
    # ingest + event-log sync: rows changed since a cursor, ascending by coalesce(updated_at, created_at)
    Index("ix_cw_messages_project_changed", CwMessage.project_id,
          text("coalesce(updated_at, created_at)")),
    Index("ix_attio_opportunities_raw_project_changed", AttioOpportunityRaw.project_id,
          text("coalesce(updated_at, created_at)")),
    # linear: coalesce(vendor_updated_at, vendor_created_at)
    Index("ix_linear_issues_raw_project_vendor_changed", _linear.LinearIssueRaw.project_id,
          text("coalesce(vendor_updated_at, vendor_created_at)")),
)

TABLES = ("kag_nodes", "kag_edges", "kag_events", "kag_provenance_refs", "kag_ingest_cursors", "kag_signal_state",
          "kag_signals", "kag_signal_history", "kag_scores", "kag_score_history", "kag_recommendations",
          "kag_templates", "kag_event_log", "signals", "next_best_actions")
