"""Part B tables of business.md §D.3: upsell, continuity, identity, outbound and channel policies.

Every table is scoped (``ScopedMixin``: ``project_id`` + ``account_scope_id``, guarded per platform
§4.3). UUID keys come from Python (``uuid4``); the migration adds ``gen_random_uuid()`` server
defaults on PostgreSQL only. The GIN index on ``outbound_messages.evidence_refs`` exists only on
PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    Uuid,
    false,
    text,
    true,
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

UPSELL_STATUSES = ("proposed", "accepted", "dismissed", "converted")
CONTINUITY_SOURCES = ("crm", "attio", "chatwoot", "hybrid")
CONTINUITY_STATUSES = ("previewed", "applied", "dismissed", "failed")
SUGGESTION_STATUSES = ("proposed", "applied", "dismissed")
LINK_STATUSES = ("active", "inactive")
LINK_SOURCES = ("manual", "suggestion", "system")
CHANNELS = ("email", "chatwoot", "telegram")
OUTBOUND_STATUSES = ("draft", "approved", "sent", "failed", "cancelled", "blocked_opt_out")
ATTEMPT_STATUSES = ("sent", "failed")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json_object() -> Mapped[dict[str, Any]]:
    return mapped_column(JSONType, nullable=False, default=dict, server_default=text("'{}'"))


def _json_array() -> Mapped[list[Any]]:
    return mapped_column(JSONType, nullable=False, default=list, server_default=text("'[]'"))


class UpsellOpportunity(ScopedMixin, Base):
    __tablename__ = "upsell_opportunities"
    id: Mapped[uuid.UUID] = uuid_pk()
    account_external_id: Mapped[str | None] = mapped_column(Text)
    source_ref: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    rationale: Mapped[str | None] = mapped_column(Text)
    score: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.5"),
                                           server_default=text("0.5"))
    status: Mapped[str] = mapped_column(Text, nullable=False, default="proposed", server_default="proposed")
    suggested_offer_payload: Mapped[dict[str, Any]] = _json_object()
    suggested_outbound_payload: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint("score >= 0 AND score <= 1", name="score"),
        CheckConstraint(_in("status", UPSELL_STATUSES), name="status"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_upsell_opportunities_project_dedupe"),
        Index("ix_upsell_opportunities_project_status_score", "project_id", "status", text("score DESC")),
    )


class ContinuityAction(ScopedMixin, Base):
    __tablename__ = "continuity_actions"
    id: Mapped[uuid.UUID] = uuid_pk()
    source_type: Mapped[str] = mapped_column(Text, nullable=False)
    source_ref: Mapped[str] = mapped_column(Text, nullable=False)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    preview_payload: Mapped[dict[str, Any]] = _json_object()
    linear_issue_external_id: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="previewed", server_default="previewed")
    evidence_refs: Mapped[list[Any]] = _json_array()
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("source_type", CONTINUITY_SOURCES), name="source_type"),
        CheckConstraint(_in("status", CONTINUITY_STATUSES), name="status"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_continuity_actions_project_dedupe"),
        Index("ix_continuity_actions_project_status_created", "project_id", "status", text("created_at DESC")),
    )


class IdentityLinkSuggestion(ScopedMixin, Base):
    __tablename__ = "identity_link_suggestions"
    id: Mapped[uuid.UUID] = uuid_pk()
    left_entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    left_entity_id: Mapped[str] = mapped_column(Text, nullable=False)
    right_entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    right_entity_id: Mapped[str] = mapped_column(Text, nullable=False)
    confidence: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.5"),
                                                server_default=text("0.5"))
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="proposed", server_default="proposed")
    dedupe_key: Mapped[str] = mapped_column(Text, nullable=False)
    evidence_refs: Mapped[list[Any]] = _json_array()
    meta: Mapped[dict[str, Any]] = _json_object()
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint("confidence >= 0 AND confidence <= 1", name="confidence"),
        CheckConstraint(_in("status", SUGGESTION_STATUSES), name="status"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_identity_link_suggestions_project_dedupe"),
        Index("ix_identity_link_suggestions_project_status_conf", "project_id", "status", text("confidence DESC")),
    )


class IdentityLink(ScopedMixin, Base):
    __tablename__ = "identity_links"
    id: Mapped[uuid.UUID] = uuid_pk()
    left_entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    left_entity_id: Mapped[str] = mapped_column(Text, nullable=False)
    right_entity_type: Mapped[str] = mapped_column(Text, nullable=False)
    right_entity_id: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="active", server_default="active")
    source: Mapped[str] = mapped_column(Text, nullable=False, default="manual", server_default="manual")
    evidence_refs: Mapped[list[Any]] = _json_array()
    created_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("status", LINK_STATUSES), name="status"),
        CheckConstraint(_in("source", LINK_SOURCES), name="source"),
        UniqueConstraint("project_id", "left_entity_type", "left_entity_id", "right_entity_type", "right_entity_id",
                         name="uq_identity_links_pair"),
        Index("ix_identity_links_project_status_created", "project_id", "status", text("created_at DESC")),
    )


class OutboundMessage(ScopedMixin, Base):
    __tablename__ = "outbound_messages"
    id: Mapped[uuid.UUID] = uuid_pk()
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    recipient_ref: Mapped[str] = mapped_column(Text, nullable=False)
    payload: Mapped[dict[str, Any]] = _json_object()
    evidence_refs: Mapped[list[Any]] = _json_array()
    status: Mapped[str] = mapped_column(Text, nullable=False, default="draft", server_default="draft")
    idempotency_key: Mapped[str] = mapped_column(Text, nullable=False)
    dedupe_key: Mapped[str | None] = mapped_column(Text)
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    max_retries: Mapped[int] = mapped_column(Integer, nullable=False, default=5, server_default="5")
    next_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    approved_by: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint(_in("status", OUTBOUND_STATUSES), name="status"),
        UniqueConstraint("project_id", "idempotency_key", name="uq_outbound_messages_project_idempotency"),
        UniqueConstraint("project_id", "dedupe_key", name="uq_outbound_messages_project_dedupe"),
        Index("ix_outbound_messages_project_status_next", "project_id", "status", "next_attempt_at"),
        Index("ix_outbound_messages_project_created", "project_id", text("created_at DESC")),
        Index("ix_outbound_messages_evidence_refs", "evidence_refs", postgresql_using="gin",
              postgresql_ops={"evidence_refs": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )


class OutboundAttempt(ScopedMixin, Base):
    __tablename__ = "outbound_attempts"
    id: Mapped[int] = bigint_pk()
    outbound_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("outbound_messages.id", ondelete="CASCADE"), nullable=False
    )
    attempt_no: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    provider_message_id: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        CheckConstraint(_in("status", ATTEMPT_STATUSES), name="status"),
        UniqueConstraint("outbound_id", "attempt_no", name="uq_outbound_attempts_outbound_attempt"),
        Index("ix_outbound_attempts_project_created", "project_id", text("created_at DESC")),
    )


class ContactChannelPolicy(ScopedMixin, Base):
    __tablename__ = "contact_channel_policies"
    id: Mapped[uuid.UUID] = uuid_pk()
    contact_global_id: Mapped[str] = mapped_column(Text, nullable=False)
    channel: Mapped[str] = mapped_column(Text, nullable=False)
    opted_out: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    stop_on_reply: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True, server_default=true())
    frequency_window_hours: Mapped[int] = mapped_column(Integer, nullable=False, default=24, server_default="24")
    frequency_cap: Mapped[int] = mapped_column(Integer, nullable=False, default=3, server_default="3")
    sent_in_window: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    window_started_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_outbound_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("channel", CHANNELS), name="channel"),
        CheckConstraint("frequency_window_hours BETWEEN 1 AND 720", name="frequency_window_hours"),
        CheckConstraint("frequency_cap BETWEEN 1 AND 200", name="frequency_cap"),
        UniqueConstraint("project_id", "contact_global_id", "channel", name="uq_contact_channel_policies_contact"),
    )


__all__ = [
    "ContactChannelPolicy", "ContinuityAction", "IdentityLink", "IdentityLinkSuggestion", "OutboundAttempt",
    "OutboundMessage", "UpsellOpportunity",
]
