"""Linear raw tables (connectors-rag §15): projects, workflow states, cycles and issues."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, Date, Double, Index, Integer, Numeric, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, JSONType, ScopedMixin, TZDateTime, created_col


class _LinearRaw(ScopedMixin):
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    workspace_id: Mapped[str] = mapped_column(Text, nullable=False)
    external_id: Mapped[str] = mapped_column(Text, nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()


class LinearProjectRaw(_LinearRaw, Base):
    __tablename__ = "linear_projects_raw"
    name: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str | None] = mapped_column(Text)
    lead_name: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("project_id", "external_id", name="uq_linear_projects_raw_external"),)


class LinearStateRaw(_LinearRaw, Base):
    __tablename__ = "linear_states_raw"
    team_external_id: Mapped[str | None] = mapped_column(Text)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    type: Mapped[str | None] = mapped_column(Text)
    position: Mapped[float | None] = mapped_column(Double)
    __table_args__ = (UniqueConstraint("project_id", "external_id", name="uq_linear_states_raw_external"),)


class LinearCycleRaw(_LinearRaw, Base):
    __tablename__ = "linear_cycles_raw"
    team_external_id: Mapped[str | None] = mapped_column(Text)
    number: Mapped[int | None] = mapped_column(Integer)
    starts_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    progress: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))
    __table_args__ = (UniqueConstraint("project_id", "external_id", name="uq_linear_cycles_raw_external"),)


class LinearIssueRaw(_LinearRaw, Base):
    __tablename__ = "linear_issues_raw"
    identifier: Mapped[str | None] = mapped_column(Text)
    linear_project_external_id: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text, nullable=False)
    state: Mapped[str | None] = mapped_column(Text)
    state_external_id: Mapped[str | None] = mapped_column(Text)
    state_type: Mapped[str | None] = mapped_column(Text)
    cycle_external_id: Mapped[str | None] = mapped_column(Text)
    cycle_name: Mapped[str | None] = mapped_column(Text)
    labels: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    blocked: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    blocked_by_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    priority: Mapped[int | None] = mapped_column(Integer)
    assignee_name: Mapped[str | None] = mapped_column(Text)
    due_date: Mapped[date | None] = mapped_column(Date)
    completed_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    archived_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    vendor_created_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    vendor_updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    __table_args__ = (
        UniqueConstraint("project_id", "external_id", name="uq_linear_issues_raw_external"),
        Index("ix_linear_issues_raw_project_state_due", "project_id", "state", "due_date"),
        Index("ix_linear_issues_raw_project_vendor_updated", "project_id", "vendor_updated_at"),
        Index("ix_linear_issues_raw_project_blocked", "project_id", "blocked", "due_date", text("updated_at DESC")),
    )


TABLES = ("linear_projects_raw", "linear_states_raw", "linear_cycles_raw", "linear_issues_raw")
