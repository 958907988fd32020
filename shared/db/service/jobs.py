"""Reads behind ``/jobs/*`` (platform §6.4, §6.5): ledger rows, entity counts, storage."""

from __future__ import annotations

import json
import logging
from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from shared.db.base import Base
from shared.db.models.platform import IN_FLIGHT, ConnectorError, JobRun, ScheduledJob, SyncWatermark
from shared.errors import NotFound
from shared.scope import Scope
from shared.timeutil import iso, utcnow

log = logging.getLogger(__name__)
ENTITY_TABLES = {"contacts": "cw_contacts", "conversations": "cw_conversations", "messages": "cw_messages",
                 "rag_chunks": "rag_chunks"}
STORAGE_TABLES = ("cw_contacts", "cw_conversations", "cw_messages", "rag_chunks")
RAG_STATUSES = ("pending", "processing", "ready", "failed")
STORAGE_CACHE_S = 300


def get_run_or_raise(*, session: Session, scope: Scope, run_id: int) -> JobRun:
    run = session.scalar(select(JobRun).filter_by(id=run_id, **scope.as_filter()))
    if run is None:
        raise NotFound("job_not_found", "Job run not found")
    return run


def latest_runs(*, session: Session, scope: Scope) -> list[JobRun]:
    """The latest row per job type (uses ``ix_job_runs_project_job``)."""
    ranked = (
        select(JobRun.id, func.row_number().over(partition_by=JobRun.job_type,
                                                 order_by=(JobRun.enqueued_at.desc(), JobRun.id.desc())).label("rn"))
        .filter_by(**scope.as_filter()).subquery()
    )
    stmt = (select(JobRun).join(ranked, ranked.c.id == JobRun.id).where(ranked.c.rn == 1)
            .order_by(JobRun.enqueued_at.desc(), JobRun.id.desc()))
    return list(session.scalars(stmt))


def active_runs(*, session: Session, scope: Scope) -> list[JobRun]:
    return list(session.scalars(select(JobRun).filter_by(**scope.as_filter()).where(JobRun.status.in_(IN_FLIGHT))
                                .order_by(JobRun.enqueued_at, JobRun.id)))


def in_flight_by_type(*, session: Session, scope: Scope) -> dict[str, int]:
    rows = session.execute(select(JobRun.job_type, JobRun.id).filter_by(**scope.as_filter())
                           .where(JobRun.status.in_(IN_FLIGHT))).all()
    return {job_type: run_id for job_type, run_id in rows}


def entity_counts(*, session: Session, scope: Scope) -> tuple[dict[str, int], dict[str, int]]:
    entities = dict.fromkeys(ENTITY_TABLES, 0)
    rag = dict.fromkeys(RAG_STATUSES, 0)
    for key, table_name in ENTITY_TABLES.items():
        table = Base.metadata.tables.get(table_name)
        if table is None:
            continue
        where = (table.c.project_id == scope.project_id) & (table.c.account_scope_id == scope.account_scope_id)
        if table_name == "rag_chunks":
            for status, count in session.execute(select(table.c.embedding_status, func.count())
                                                 .where(where).group_by(table.c.embedding_status)):
                if status in rag:
                    rag[status] = count
            entities[key] = sum(rag.values())
        else:
            entities[key] = session.scalar(select(func.count()).select_from(table).where(where)) or 0
    return entities, rag


def storage(*, session: Session, scope: Scope, redis: Redis, budget_gb: float) -> dict[str, Any]:
    key = f"cache:storage:{scope.project_id}"
    try:
        cached = redis.get(key)
        if cached:
            return json.loads(cached)
    except RedisError:
        cached = None
    budget = int(budget_gb * 1024**3)
    out: dict[str, Any] = {"database_bytes": 0, "scoped_logical_bytes": 0, "budget_bytes": budget,
                           "usage_percent": 0.0, "table_bytes": dict.fromkeys(STORAGE_TABLES, 0),
                           "computed_at": iso(utcnow())}
    if session.get_bind().dialect.name == "postgresql":
        out["database_bytes"] = session.scalar(text("SELECT pg_database_size(current_database())")) or 0
        scoped = 0
        for name in STORAGE_TABLES:
            if name not in Base.metadata.tables:
                continue
            out["table_bytes"][name] = session.scalar(
                text("SELECT pg_total_relation_size(to_regclass(:t))"), {"t": f"public.{name}"}) or 0
            scoped += session.scalar(
                text(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {name} t "  # noqa: S608 - fixed names
                     "WHERE project_id = :p AND account_scope_id = :s"),
                {"p": scope.project_id, "s": scope.account_scope_id}) or 0
        out["scoped_logical_bytes"] = int(scoped)
        out["usage_percent"] = round(out["database_bytes"] / max(1, budget) * 100, 2)
    try:
        redis.set(key, json.dumps(out), ex=STORAGE_CACHE_S)
    except RedisError:
        log.warning("storage cache unavailable")
    return out


def watermarks(*, session: Session, scope: Scope) -> list[dict[str, Any]]:
    rows = session.scalars(select(SyncWatermark).filter_by(**scope.as_filter())
                           .order_by(SyncWatermark.updated_at.desc()).limit(5))
    return [{"source": w.source, "cursor_ts": iso(w.cursor_ts), "cursor_id": w.cursor_id,
             "updated_at": iso(w.updated_at), "meta": w.meta} for w in rows]


def dead_letter_count(*, session: Session, scope: Scope) -> int:
    return session.scalar(select(func.count()).select_from(ConnectorError)
                          .filter_by(status="dead_letter", **scope.as_filter())) or 0


def schedule_rows(*, session: Session, scope: Scope) -> list[ScheduledJob]:
    return list(session.scalars(select(ScheduledJob).filter_by(**scope.as_filter()).order_by(ScheduledJob.job_type)))
