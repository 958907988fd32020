"""Orphan recovery: runs whose worker died, and ledger rows stuck in flight (platform §7.5, §8.3).

Two layers, both idempotent and safe to run from every worker at once:

1. ``recover_abandoned()`` — run by every ``KeelWorker``'s maintenance and by ``housekeeping``. An
   execution whose worker stopped heart-beating (SIGKILL, OOM, a PaaS kill after its grace period)
   leaves an expired entry in RQ's ``StartedJobRegistry``. RQ's own cleanup then retries the job when it
   has retries left (the same RQ job, the same ``job_runs`` row, after the usual 30/120 s interval) or
   moves it to the ``FailedJobRegistry``. Around that cleanup we mark the ledger row: ``retry_scheduled``
   with ``error = "worker_lost"`` when RQ retries it, ``failed`` (plus a dead-letter ``connector_errors``
   row for syncs) when it does not. A job type not marked idempotent in the catalog is never re-run: its
   retries are zeroed before RQ looks at it.
2. ``reap_stale_runs()`` — run by ``housekeeping``: ``job_runs`` rows in flight whose RQ job is gone,
   failed or was re-scheduled behind our back (the cleanup ran elsewhere, e.g. rq-dashboard), using the
   age rules of platform §8.3, and releasing the run's Redis lock so a new trigger is not skipped.

Every ledger update is conditional on the status (and attempt) that was read, so a run that moved on
meanwhile is never overwritten.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from rq.job import Job, JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import select, update

from shared import catalog
from shared.catalog import QUEUES
from shared.db.models.platform import IN_FLIGHT, JobRun
from shared.locks import JobLock
from shared.queues import SERIALIZER
from shared.runtime import Runtime
from shared.scope import Scope
from shared.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)
WORKER_LOST = "worker_lost"
STALE_RUN = "stale_run"
STALE_QUEUED_S = 24 * 3600
STALE_GRACE_S = 300
ALIVE = (JobStatus.QUEUED, JobStatus.STARTED, JobStatus.SCHEDULED, JobStatus.DEFERRED, JobStatus.RATE_LIMITED,
         JobStatus.READY_TO_ENQUEUE)
DEAD = (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED)


def rq_job_status(rt: Runtime, rq_job_id: str | None) -> JobStatus | None:
    if not rq_job_id:
        return None
    try:
        return Job.fetch(rq_job_id, connection=rt.redis, serializer=SERIALIZER).get_status()
    except Exception:  # noqa: BLE001 - a missing or unreadable job counts as gone
        return None


# --- layer 1: abandoned executions ------------------------------------------------------------------------
def recover_abandoned(rt: Runtime, queue_names: tuple[str, ...] | list[str] = QUEUES) -> dict[str, int]:
    counts = {"abandoned": 0, "retried": 0, "failed": 0}
    for name in queue_names:
        registry = StartedJobRegistry(name, connection=rt.redis, serializer=SERIALIZER)
        expired = registry.get_expired_job_ids()
        if not expired:
            continue
        watched: dict[str, int] = {}
        for job in Job.fetch_many(expired, connection=rt.redis, serializer=SERIALIZER):
            if job is None or job.get_status(refresh=False) != JobStatus.STARTED:
                continue
            meta = job.meta or {}
            spec = catalog.JOB_TYPES.get(meta.get("job_type") or "")
            if spec is not None and not spec.idempotent and job.retries_left:
                rt.redis.hset(job.key, "retries_left", 0)  # never re-run a non-idempotent job
            if isinstance(meta.get("job_run_id"), int):
                watched[job.id] = meta["job_run_id"]
        attempts = _running_attempts(rt, list(watched.values()))
        registry.cleanup()  # RQ retries (scheduled) or fails every abandoned execution
        for rq_job_id, run_id in watched.items():
            if run_id not in attempts:
                continue
            counts["abandoned"] += 1
            status = rq_job_status(rt, rq_job_id)
            if status in (JobStatus.SCHEDULED, JobStatus.QUEUED):
                counts["retried"] += mark_retry_scheduled(rt, run_id, attempts[run_id])
            elif status in DEAD or status is None:
                counts["failed"] += fail_run(rt, run_id, WORKER_LOST, expect=("running", attempts[run_id]))
    if counts["abandoned"]:
        log.warning("abandoned executions recovered", extra={"fields": counts})
    return counts


def _running_attempts(rt: Runtime, run_ids: list[int]) -> dict[int, int]:
    if not run_ids:
        return {}
    with rt.session() as s:
        rows = s.execute(select(JobRun.id, JobRun.attempt).where(JobRun.id.in_(run_ids), JobRun.status == "running"))
        return {run_id: attempt for run_id, attempt in rows}


def mark_retry_scheduled(rt: Runtime, run_id: int, attempt: int) -> int:
    """RQ re-runs the abandoned execution later: the row waits as ``retry_scheduled``."""
    with rt.transaction() as s:
        return s.execute(update(JobRun).where(JobRun.id == run_id, JobRun.status == "running",
                                              JobRun.attempt == attempt)
                         .values(status="retry_scheduled", error=WORKER_LOST, finished_at=utcnow())
                         .execution_options(synchronize_session=False)).rowcount


def fail_run(rt: Runtime, run_id: int, error: str, *, expect: tuple[str, int | None]) -> int:
    """Final failure of a run nobody will finish: ledger, schedule bookkeeping, audit, DLQ row, lock."""
    from jobs.runner import finish

    with rt.session() as s:
        run = s.get(JobRun, run_id)
        if run is None:
            return 0
        scope, job_type, rq_job_id = Scope(run.project_id, run.account_scope_id), run.job_type, run.rq_job_id
    if finish(rt, run_id, "failed", error=error, expect=expect) is None:
        return 0
    if job_type.endswith("_sync"):
        from jobs.connectors.sync import record_failure

        record_failure(job_type.removesuffix("_sync"), scope, f"{error}: the run was lost with its worker",
                       error_kind=error, permanent=True, rq_job_id=rq_job_id, job_run_id=run_id)
    if rq_job_id:
        JobLock(scope.project_id, job_type, rt.redis).release(rq_job_id)
    return 1


# --- layer 2: the stale reaper (platform §8.3 step 2) ---------------------------------------------------------
def reap_stale_runs(rt: Runtime) -> dict[str, int]:
    now = utcnow()
    with rt.session() as s:
        rows = list(s.execute(select(JobRun.id, JobRun.status, JobRun.attempt, JobRun.rq_job_id, JobRun.queue,
                                     JobRun.started_at, JobRun.enqueued_at, JobRun.finished_at)
                              .where(JobRun.status.in_(IN_FLIGHT))))
    reaped = rescheduled = 0
    for run in rows:
        rq_status = rq_job_status(rt, run.rq_job_id)
        if rq_status in ALIVE:
            if run.status == "running" and rq_status in (JobStatus.QUEUED, JobStatus.SCHEDULED):
                rescheduled += mark_retry_scheduled(rt, run.id, run.attempt)  # RQ retried an abandoned execution
            continue
        if rq_status in DEAD and run.status in ("running", "retry_scheduled"):
            error = WORKER_LOST if run.status == "running" else STALE_RUN
            reaped += fail_run(rt, run.id, error, expect=(run.status, run.attempt))
            continue
        if _stale(run, rq_status, now, catalog.job_timeout(run.queue, rt.settings)):
            reaped += fail_run(rt, run.id, STALE_RUN, expect=(run.status, run.attempt))
    return {"stale_runs": reaped, "stale_rescheduled": rescheduled}


def _stale(run: Any, rq_status: JobStatus | None, now: Any, timeout_s: int) -> bool:
    def older(ts: Any, seconds: float) -> bool:
        ts = as_utc(ts)
        return ts is not None and now - ts > timedelta(seconds=seconds)

    if run.status == "running":
        return older(run.started_at, timeout_s + STALE_GRACE_S)
    if run.status == "retry_scheduled":
        return older(run.finished_at, STALE_GRACE_S)
    # queued: 24 h per the spec; but when Redis has lost the RQ job outright, waiting 24 h would block
    # every trigger of that job type (the in-flight index), so a missing job is reaped after the grace.
    return older(run.enqueued_at, STALE_QUEUED_S) or (rq_status is None and older(run.enqueued_at, STALE_GRACE_S))
