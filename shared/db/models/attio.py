"""Attio raw tables (connectors-rag §15): companies, deals, people and notes as read from the API.

Rows are never deleted (§16): ``UpstreamPresenceMixin`` adds ``seen_cycle`` (the scan cycle that last
returned the record) and ``deleted_at`` (set when a completed cycle no longer returned it and the vendor
confirmed it is gone; cleared when the record comes back). See ``jobs.connectors.attio``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import CheckConstraint, Date, Index, Integer, Numeric, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, JSONType, ScopedMixin, TZDateTime, created_col


class UpstreamPresenceMixin:
    """Deletion marks of a raw row read by a full scan (migration 0008)."""

    seen_cycle: Mapped[int | None] = mapped_column(Integer)
    deleted_at: Mapped[datetime | None] = mapped_column(TZDateTime)


class AttioAccountRaw(UpstreamPresenceMixin, ScopedMixin, Base):
    __tablename__ = "attio_accounts_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    domain: Mapped[str | None] = mapped_column(Text)
    stage: Mapped[str | None] = mapped_column(Text)
    annual_revenue: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, default=0, server_default="0")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_attio_accounts_raw_external"),
        Index("ix_attio_accounts_raw_project_updated", "project_id", text("updated_at DESC")),
    )


class AttioOpportunityRaw(UpstreamPresenceMixin, ScopedMixin, Base):
    __tablename__ = "attio_opportunities_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    account_external_id: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    stage: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(14, 2), nullable=False, default=0, server_default="0")
    probability: Mapped[Decimal] = mapped_column(Numeric(5, 4), nullable=False, default=Decimal("0.1"),
                                                 server_default="0.1")
    expected_close_date: Mapped[date | None] = mapped_column(Date)
    next_step: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_attio_opportunities_raw_external"),
        CheckConstraint("probability >= 0 AND probability <= 1", name="probability_range"),
        Index("ix_attio_opportunities_raw_project_stage", "project_id", "stage", "expected_close_date"),
    )


class AttioPersonRaw(UpstreamPresenceMixin, ScopedMixin, Base):
    __tablename__ = "attio_people_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    account_external_id: Mapped[str | None] = mapped_column(Text)
    full_name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    role: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (UniqueConstraint("project_id", "external_id", name="uq_attio_people_raw_external"),)


class AttioActivityRaw(UpstreamPresenceMixin, ScopedMixin, Base):
    __tablename__ = "attio_activities_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    record_external_id: Mapped[str | None] = mapped_column(Text)
    activity_type: Mapped[str] = mapped_column(Text, nullable=False, default="note", server_default="note")
    note: Mapped[str | None] = mapped_column(Text)
    actor_name: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_attio_activities_raw_external"),
        Index("ix_attio_activities_raw_project_occurred", "project_id", text("occurred_at DESC")),
    )


TABLES = ("attio_accounts_raw", "attio_opportunities_raw", "attio_people_raw", "attio_activities_raw")
