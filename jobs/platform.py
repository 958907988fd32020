"""Platform jobs (platform §8): the per-project tick, the global tick, the retry sweep, housekeeping.

Claiming is optimistic and atomic on every backend: a due row is claimed by one conditional
``UPDATE … SET next_run_at = <lease> WHERE id = :id AND next_run_at <= :now`` (PostgreSQL also
selects the rows ``FOR UPDATE SKIP LOCKED``), so two ticks — two schedulers, or a manual
``POST /jobs/scheduler/tick`` racing the global one — never enqueue the same due row twice.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, timedelta
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import delete, select, update

from jobs import recovery
from shared import catalog, queues
from shared.db.models.platform import (
    IN_FLIGHT,
    ConnectorError,
    ConnectorSyncState,
    JobRun,
    Project,
    ScheduledJob,
    UserSession,
)
from shared.db.service.scheduler import seed_defaults
from shared.errors import QueueUnavailable
from shared.jobs import enqueue
from shared.locks import TickLock
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
ENQUEUE_FAILED_DELAY_S = 300
GLOBAL_INTERVALS = {"housekeeping": 900}
STALE_GRACE_S = recovery.STALE_GRACE_S
RETRY_SWEEP_MAX_PAIRS = 200


# --- per-project tick (platform §8.2) ------------------------------------------------------------
def tick_project(rt: Runtime, scope: Scope, limit: int, today: date | None = None) -> dict[str, Any]:
    from jobs.runner import clamp_cadence, has_handler

    with rt.transaction() as s:
        seed_defaults(session=s, scope=scope)
    now = utcnow()  # after seeding: rows seeded just now (next_run_at = seeding time) are due in this tick
    today = today or now.date()
    claimed: list[tuple[ScheduledJob, str]] = []
    with rt.transaction() as s:
        stmt = (select(ScheduledJob).filter_by(status="active", **scope.as_filter())
                .where(ScheduledJob.next_run_at <= now).order_by(ScheduledJob.next_run_at).limit(limit))
        if s.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, key_share=False, of=ScheduledJob)
        rows = list(s.scalars(stmt))
        in_flight = set(s.scalars(select(JobRun.job_type).filter_by(**scope.as_filter())
                                  .where(JobRun.status.in_(IN_FLIGHT))))
        for row in rows:
            lease = now + timedelta(seconds=clamp_cadence(row.cadence_seconds))
            values: dict[str, Any] = {"next_run_at": lease, "updated_at": now}
            if not has_handler(row.job_type) or row.job_type not in catalog.JOB_TYPES:
                decision = "no_handler"
                values.update(last_run_at=now, last_status="ok", last_error=None)
            elif row.job_type in in_flight:
                decision = "skipped_in_flight"
            else:
                decision = "enqueue"
            won = s.execute(update(ScheduledJob).where(ScheduledJob.id == row.id, ScheduledJob.next_run_at <= now)
                            .values(**values).execution_options(synchronize_session=False)).rowcount
            if won == 1:
                claimed.append((row, decision))
    details: list[dict[str, Any]] = []
    counts = {"processed": 0, "enqueued": 0, "skipped": 0, "failed": 0}
    for row, decision in claimed:
        counts["processed"] += 1
        if decision != "enqueue":
            counts["skipped"] += 1
            details.append({"job_type": row.job_type, "status": decision})
            continue
        params = catalog.scheduled_params(row.job_type, str(scope.project_id), row.payload, today)
        try:
            done = enqueue(rt, scope=scope, job_type=row.job_type, trigger="scheduler", params=params,
                           requested_by=params.get("actor", "scheduler"), scheduled_job_id=row.id)
        except QueueUnavailable:
            counts["failed"] += 1
            with rt.transaction() as s:
                s.execute(update(ScheduledJob).where(ScheduledJob.id == row.id).values(
                    next_run_at=utcnow() + timedelta(seconds=ENQUEUE_FAILED_DELAY_S), last_status="failed",
                    last_error="enqueue_failed"))
            details.append({"job_type": row.job_type, "status": "enqueue_failed"})
            continue
        if done.deduplicated:
            counts["skipped"] += 1
            details.append({"job_type": row.job_type, "status": "skipped_in_flight", "job_run_id": done.run.id})
            continue
        counts["enqueued"] += 1
        details.append({"job_type": row.job_type, "status": "enqueued", "job_run_id": done.run.id,
                        "rq_job_id": done.run.rq_job_id})
    return {**counts, "details": details}


def scheduler_tick(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Handler of ``scheduler_tick`` (the manual route)."""
    limit = max(1, min(100, int(params.get("limit") or 10)))
    return tick_project(current(), scope, limit)


# --- global jobs (platform §8.3) -----------------------------------------------------------------
def scheduler_tick_all() -> dict[str, Any]:
    rt = current()
    lock, token = TickLock(rt.redis), str(uuid.uuid4())
    if not lock.acquire(token):
        return {"skipped": "tick_in_progress"}
    totals = {"projects": 0, "enqueued": 0, "skipped": 0, "failed": 0}
    try:
        with rt.session() as s:
            scopes = [Scope(p.id, p.account_scope_id)
                      for p in s.scalars(select(Project).order_by(Project.created_at.desc()))]
        for scope in scopes:
            totals["projects"] += 1
            try:
                result = tick_project(rt, scope, rt.settings.worker_tick_limit)
            except Exception:  # noqa: BLE001 - one project's failure never stops the loop
                log.exception("tick failed", extra={"fields": {"project_id": str(scope.project_id)}})
                totals["failed"] += 1
                continue
            for key in ("enqueued", "skipped", "failed"):
                totals[key] += result[key]
        enqueue_due_globals(rt)
    finally:
        lock.release(token)
    log.info("scheduler cycle", extra={"fields": {"type": "scheduler_cycle", **totals, "at": utcnow().isoformat()}})
    return totals


def enqueue_due_globals(rt: Runtime) -> list[str]:
    intervals = {"connector_errors_retry": rt.settings.connector_retry_sweep_seconds, **GLOBAL_INTERVALS}
    enqueued = []
    for name, interval in intervals.items():
        try:
            if rt.redis.set(f"sched:global:{name}", 1, nx=True, ex=interval):
                queues.queue("platform", rt.redis).enqueue(
                    f"jobs.platform.{name}", job_timeout=rt.settings.platform_job_timeout_seconds, result_ttl=600,
                    failure_ttl=rt.settings.job_failure_ttl_seconds, description=f"{name} (global)")
                enqueued.append(name)
        except RedisError:
            log.warning("global job not enqueued", extra={"fields": {"job": name}})
    return enqueued


def connector_errors_retry() -> dict[str, Any]:
    """The retry sweep (platform §9.5 b): one ``<c>_sync`` per (project, connector) with due open errors."""
    rt = current()
    now = utcnow()
    with rt.session() as s:
        pairs = s.execute(
            select(ConnectorError.project_id, ConnectorError.account_scope_id, ConnectorError.connector)
            .where(ConnectorError.status.in_(("pending", "retrying")), ConnectorError.next_retry_at <= now)
            .distinct().limit(RETRY_SWEEP_MAX_PAIRS)
        ).all()
    enqueued = skipped = 0
    for project_id, scope_id, connector in pairs:
        try:
            done = enqueue(rt, scope=Scope(project_id, scope_id), job_type=catalog.sync_job_type(connector),
                           trigger="retry", requested_by="retry_sweep")
        except QueueUnavailable:
            break
        enqueued += 0 if done.deduplicated else 1
        skipped += 1 if done.deduplicated else 0
    return {"pairs": len(pairs), "enqueued": enqueued, "skipped": skipped}


def housekeeping() -> dict[str, Any]:
    """Platform §8.3: expired sessions, abandoned executions, stale runs, stale connector states, KAG retention."""
    rt = current()
    now = utcnow()
    result: dict[str, Any] = {}
    with rt.transaction() as s:
        result["sessions_deleted"] = s.execute(delete(UserSession).where(UserSession.expires_at <= now)).rowcount
    result.update(recovery.recover_abandoned(rt))
    result.update(recovery.reap_stale_runs(rt))
    with rt.transaction() as s:
        cutoff = now - timedelta(seconds=rt.settings.job_timeout_seconds + STALE_GRACE_S)
        in_flight_syncs = select(JobRun.project_id).where(JobRun.status.in_(IN_FLIGHT), JobRun.job_type.like("%_sync"))
        result["stale_connector_states"] = s.execute(
            update(ConnectorSyncState).where(ConnectorSyncState.status == "running",
                                             ConnectorSyncState.last_attempt_at < cutoff,
                                             ConnectorSyncState.project_id.not_in(in_flight_syncs))
            .values(status="failed", last_error="stale_running_state", updated_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount
    from jobs.kag.handlers_v2 import kag_retention  # step 4: KAG retention (kag §11.3), once per UTC day

    result["kag_retention"] = kag_retention(rt, now)
    return result
