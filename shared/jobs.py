"""Enqueueing (platform §7.4): the ``job_runs`` row first, then RQ; the in-flight index dedupes.

``enqueue()`` is the only way work reaches a queue. A second trigger for a (project, job type)
already in flight returns that run with ``deduplicated=True``; the unique partial index
``uq_job_runs_inflight`` is the only de-duplication mechanism.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from shared import catalog, queues
from shared.db.models.platform import IN_FLIGHT, JobRun
from shared.errors import QueueUnavailable
from shared.runtime import Runtime
from shared.scope import Scope
from shared.timeutil import iso, utcnow

log = logging.getLogger(__name__)
RQ_RETRY_INTERVALS = [30, 120]
EXECUTE = "jobs.runner.execute"


@dataclass
class Enqueued:
    run: JobRun
    deduplicated: bool


def in_flight_run(session: Session, scope: Scope, job_type: str) -> JobRun | None:
    return session.scalar(
        select(JobRun).filter_by(job_type=job_type, **scope.as_filter()).where(JobRun.status.in_(IN_FLIGHT))
    )


def enqueue(
    rt: Runtime,
    *,
    scope: Scope,
    job_type: str,
    trigger: str = "manual",
    params: dict[str, Any] | None = None,
    requested_by: str | None = None,
    request_id: str | None = None,
    scheduled_job_id: uuid.UUID | None = None,
    on_insert: Callable[[Session, JobRun], None] | None = None,
    raise_on_failure: bool = True,
) -> Enqueued:
    """Insert the ledger row (dedupe), commit, then put ``jobs.runner.execute(run_id)`` on RQ.

    ``on_insert`` adds writes (an audit row, error-row bookkeeping) to the row's own transaction.
    Redis down: the row becomes ``failed``/``enqueue_failed`` and ``QueueUnavailable`` is raised.
    """
    spec = catalog.get(job_type)
    for _ in range(3):
        rq_job_id = str(uuid.uuid4())
        with rt.session() as session:
            try:
                with session.begin():
                    run = JobRun(
                        project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                        job_type=job_type, queue=spec.queue, trigger=trigger, status="queued", attempt=0,
                        rq_job_id=rq_job_id, scheduled_job_id=scheduled_job_id, requested_by=requested_by,
                        request_id=request_id, meta={"params": params or {}, "result": None},
                    )
                    session.add(run)
                    session.flush()
                    if on_insert is not None:
                        on_insert(session, run)
            except IntegrityError:
                existing = in_flight_run(session, scope, job_type)
                if existing is not None:
                    return Enqueued(existing, True)
                continue  # the in-flight run finished meanwhile: try again
        break
    else:  # pragma: no cover - three consecutive races
        raise QueueUnavailable(message="could not record the job run")
    try:
        push_to_rq(rt, run)
    except RedisError as exc:
        log.warning("enqueue failed", extra={"fields": {"job_run_id": run.id, "error": type(exc).__name__}})
        with rt.transaction() as session:
            row = session.get(JobRun, run.id)
            row.status, row.error, row.finished_at = "failed", "enqueue_failed", utcnow()
            run = row
        if raise_on_failure:
            raise QueueUnavailable(message="The job queue is unavailable, try again shortly") from exc
        return Enqueued(run, False)
    return Enqueued(run, False)


@retry(retry=retry_if_exception_type(RedisError), stop=stop_after_attempt(2), wait=wait_fixed(0.2), reraise=True)
def push_to_rq(rt: Runtime, run: JobRun) -> None:
    spec = catalog.get(run.job_type)
    q = queues.queue(spec.queue, rt.redis)
    meta = {
        "project_id": str(run.project_id), "account_scope_id": str(run.account_scope_id),
        "job_run_id": run.id, "job_type": run.job_type, "trigger": run.trigger, "request_id": run.request_id,
    }
    if run.job_type.endswith("_sync"):
        meta["connector"] = run.job_type.removesuffix("_sync")
    q.enqueue(
        EXECUTE, run.id, job_id=run.rq_job_id,
        job_timeout=catalog.job_timeout(spec.queue, rt.settings),
        result_ttl=rt.settings.job_result_ttl_seconds, failure_ttl=rt.settings.job_failure_ttl_seconds,
        retry=Retry(max=2, interval=RQ_RETRY_INTERVALS), meta=meta,
        description=f"{run.job_type} project={run.project_id} run={run.id}",
    )


JOB_FIELDS = (
    "id", "job_type", "queue", "status", "trigger", "attempt", "rq_job_id", "scheduled_job_id", "requested_by",
    "request_id", "enqueued_at", "started_at", "finished_at", "processed_count", "error", "meta",
)


def job_to_json(run: JobRun, *, deduplicated: bool | None = None, fields: tuple[str, ...] = JOB_FIELDS) -> dict:
    """The job object of platform §5.1."""
    out: dict[str, Any] = {}
    for name in fields:
        value = getattr(run, name)
        if name.endswith("_at"):
            value = iso(value)
        elif name == "scheduled_job_id" and value is not None:
            value = str(value)
        elif name == "meta":
            value = {"params": (value or {}).get("params", {}), "result": (value or {}).get("result"),
                     **{k: v for k, v in (value or {}).items() if k not in ("params", "result")}}
        out[name] = value
    if deduplicated is not None:
        out["deduplicated"] = deduplicated
    return out
