"""Platform tables (platform §14): scopes, projects, operator, sessions, jobs, connectors, audit."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
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

JOB_STATUSES = ("queued", "running", "retry_scheduled", "ok", "failed", "skipped")
IN_FLIGHT = ("queued", "running", "retry_scheduled")
JOB_TRIGGERS = ("manual", "scheduler", "retry")
CONNECTOR_NAMES = ("chatwoot", "linear", "attio")
CONNECTOR_STATUSES = ("idle", "running", "ok", "partial", "skipped", "failed")
ERROR_STATUSES = ("pending", "retrying", "dead_letter", "resolved")
OPEN_ERROR_STATUSES = ("pending", "retrying", "dead_letter")
SOURCE_KINDS = ("chatwoot_account", "attio_workspace", "linear_workspace")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AccountScope(Base):
    __tablename__ = "account_scopes"
    id: Mapped[uuid.UUID] = uuid_pk()
    scope_key: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    created_at: Mapped[datetime] = created_col()


class Project(Base):
    __tablename__ = "projects"
    id: Mapped[uuid.UUID] = uuid_pk()
    name: Mapped[str] = mapped_column(String(160), nullable=False)
    account_scope_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("account_scopes.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (Index("ix_projects_created_at", text("created_at DESC")),)


class AppUser(Base):
    __tablename__ = "app_users"
    id: Mapped[uuid.UUID] = uuid_pk()
    username: Mapped[str] = mapped_column(String(200), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()


class UserSession(Base):
    __tablename__ = "sessions"
    session_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("app_users.id", ondelete="CASCADE"))
    username: Mapped[str] = mapped_column(String(200), nullable=False)
    active_project_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("projects.id", ondelete="SET NULL"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = created_col()
    last_seen_at: Mapped[datetime] = created_col()
    expires_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False, index=True)


class ScheduledJob(ScopedMixin, Base):
    __tablename__ = "scheduled_jobs"
    id: Mapped[uuid.UUID] = uuid_pk()
    job_type: Mapped[str] = mapped_column(String(64), nullable=False)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="active", server_default="active")
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    cadence_seconds: Mapped[int] = mapped_column(Integer, nullable=False, default=900, server_default="900")
    next_run_at: Mapped[datetime] = created_col()
    last_run_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_status: Mapped[str | None] = mapped_column(String(16))
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("status", ("active", "paused")), name="status"),
        CheckConstraint("cadence_seconds BETWEEN 1 AND 2592000", name="cadence"),
        UniqueConstraint("project_id", "job_type", name="uq_scheduled_jobs_project_job"),
        Index("ix_scheduled_jobs_due", "status", "next_run_at"),
    )


class JobRun(ScopedMixin, Base):
    __tablename__ = "job_runs"
    id: Mapped[int] = bigint_pk()
    job_type: Mapped[str] = mapped_column(String(64), nullable=False)
    queue: Mapped[str] = mapped_column(String(32), nullable=False)
    trigger: Mapped[str] = mapped_column(String(16), nullable=False)
    status: Mapped[str] = mapped_column(String(24), nullable=False)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    rq_job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    scheduled_job_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("scheduled_jobs.id", ondelete="SET NULL")
    )
    requested_by: Mapped[str | None] = mapped_column(String(200))
    request_id: Mapped[str | None] = mapped_column(String(128))
    enqueued_at: Mapped[datetime] = created_col()
    started_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    processed_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    __table_args__ = (
        CheckConstraint(_in("trigger", JOB_TRIGGERS), name="trigger"),
        CheckConstraint(_in("status", JOB_STATUSES), name="status"),
        Index("ix_job_runs_project_job", "project_id", "job_type", text("enqueued_at DESC")),
        Index(
            "uq_job_runs_inflight", "project_id", "job_type", unique=True,
            postgresql_where=text(_in("status", IN_FLIGHT)), sqlite_where=text(_in("status", IN_FLIGHT)),
        ),
        Index("ix_job_runs_status_started", "status", "started_at"),
    )


class ProjectSource(ScopedMixin, Base):
    __tablename__ = "project_sources"
    id: Mapped[uuid.UUID] = uuid_pk()
    source_kind: Mapped[str] = mapped_column(String(32), nullable=False)
    external_id: Mapped[str] = mapped_column(String(200), nullable=False)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        CheckConstraint(_in("source_kind", SOURCE_KINDS), name="source_kind"),
        UniqueConstraint("source_kind", "external_id", name="uq_project_sources_kind_external"),
        UniqueConstraint("project_id", "source_kind", name="uq_project_sources_project_kind"),
    )


class ConnectorSyncState(ScopedMixin, Base):
    __tablename__ = "connector_sync_state"
    connector: Mapped[str] = mapped_column(String(16), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="http", server_default="http")
    cursor_ts: Mapped[datetime | None] = mapped_column(TZDateTime)
    cursor_id: Mapped[str | None] = mapped_column(Text)
    page_cursor: Mapped[str | None] = mapped_column(Text)
    last_success_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    last_attempt_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="idle", server_default="idle")
    retry_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (
        PrimaryKeyConstraint("project_id", "connector", name="pk_connector_sync_state"),
        CheckConstraint(_in("connector", CONNECTOR_NAMES), name="connector"),
        CheckConstraint(_in("mode", ("http", "mcp")), name="mode"),
        CheckConstraint(_in("status", CONNECTOR_STATUSES), name="status"),
        Index("ix_connector_sync_state_status", "status", text("updated_at DESC")),
    )


class ConnectorError(ScopedMixin, Base):
    __tablename__ = "connector_errors"
    id: Mapped[int] = bigint_pk()
    connector: Mapped[str] = mapped_column(String(16), nullable=False)
    mode: Mapped[str] = mapped_column(String(8), nullable=False, default="http", server_default="http")
    operation: Mapped[str] = mapped_column(String(200), nullable=False)
    source_ref: Mapped[str | None] = mapped_column(String(500))
    error_kind: Mapped[str] = mapped_column(String(200), nullable=False)
    error_message: Mapped[str] = mapped_column(Text, nullable=False)
    payload_json: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    attempt: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    next_retry_at: Mapped[datetime] = created_col()
    status: Mapped[str] = mapped_column(String(16), nullable=False, default="pending", server_default="pending")
    dedupe_key: Mapped[str | None] = mapped_column(String(40))
    rq_job_id: Mapped[str | None] = mapped_column(String(64))
    job_run_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("job_runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()
    resolved_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    __table_args__ = (
        CheckConstraint(_in("connector", CONNECTOR_NAMES), name="connector"),
        CheckConstraint(_in("mode", ("http", "mcp")), name="mode"),
        CheckConstraint(_in("status", ERROR_STATUSES), name="status"),
        Index("ix_connector_errors_project_status", "project_id", "status", "next_retry_at"),
        Index("ix_connector_errors_connector_status", "connector", "status", "next_retry_at"),
        Index(
            "uq_connector_errors_open", "project_id", "connector", "dedupe_key", unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL AND " + _in("status", OPEN_ERROR_STATUSES)),
            sqlite_where=text("dedupe_key IS NOT NULL AND " + _in("status", OPEN_ERROR_STATUSES)),
        ),
    )


class SyncWatermark(ScopedMixin, Base):
    __tablename__ = "sync_watermarks"
    source: Mapped[str] = mapped_column(String(200), nullable=False)
    cursor_ts: Mapped[datetime | None] = mapped_column(TZDateTime)
    cursor_id: Mapped[str | None] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime] = updated_col()
    __table_args__ = (PrimaryKeyConstraint("project_id", "source", name="pk_sync_watermarks"),)


class AuditEvent(ScopedMixin, Base):
    __tablename__ = "audit_events"
    id: Mapped[int] = bigint_pk()
    actor_username: Mapped[str | None] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(200), nullable=False)
    entity_type: Mapped[str | None] = mapped_column(String(100))
    entity_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(50), nullable=False, default="ok", server_default="ok")
    request_id: Mapped[str | None] = mapped_column(String(128))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    evidence_refs: Mapped[list[Any]] = mapped_column(JSONType, nullable=False, default=list)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        Index("ix_audit_events_project_created", "project_id", text("created_at DESC")),
        Index("ix_audit_events_project_action", "project_id", "action", text("created_at DESC")),
        Index("ix_audit_events_action_created", "action", text("created_at DESC")),
        Index("ix_audit_events_evidence_refs", "evidence_refs", postgresql_using="gin",
              postgresql_ops={"evidence_refs": "jsonb_path_ops"}).ddl_if(dialect="postgresql"),
    )


class EvidenceItem(ScopedMixin, Base):
    __tablename__ = "evidence_items"
    id: Mapped[uuid.UUID] = uuid_pk()
    source_type: Mapped[str] = mapped_column(String(100), nullable=False)
    source_table: Mapped[str] = mapped_column(String(100), nullable=False)
    source_pk: Mapped[str] = mapped_column(String(500), nullable=False)
    conversation_global_id: Mapped[str | None] = mapped_column(Text)
    message_global_id: Mapped[str | None] = mapped_column(Text)
    contact_global_id: Mapped[str | None] = mapped_column(Text)
    snippet: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "source_table", "source_pk", name="uq_evidence_items_source"),
        Index("ix_evidence_items_project_created", "project_id", text("created_at DESC")),
        Index("ix_evidence_items_project_message", "project_id", "message_global_id"),
        Index("ix_evidence_items_project_conversation", "project_id", "conversation_global_id"),
    )


__all__ = [
    "AccountScope", "AppUser", "AuditEvent", "ConnectorError", "ConnectorSyncState", "EvidenceItem",
    "JobRun", "Project", "ProjectSource", "ScheduledJob", "SyncWatermark", "UserSession",

]
