"""Manual DLQ re-drive (``POST /connectors/errors/retry``, platform §6.6).

Two kinds of selection, validated before anything changes:

- ``connector_errors`` rows (by id, or every open row of the scope, optionally of one connector):
  per connector the rows are marked for retry and one ``<connector>_sync`` is enqueued with trigger
  ``retry`` (or the in-flight one is returned, ``deduplicated: true``);
- RQ ids in an application queue's ``FailedJobRegistry``: requeued with ``FailedJobRegistry.requeue()``,
  their ``job_runs`` row back to ``queued`` (same id, same RQ id) unless that job type is in flight.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import RedisError
from rq.exceptions import InvalidJobOperation
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from shared import dlq
from shared.audit import write_audit_event
from shared.db.models.platform import IN_FLIGHT, JobRun
from shared.db.service import connectors as svc
from shared.errors import NotFound, QueueUnavailable
from shared.jobs import Enqueued, enqueue
from shared.runtime import Runtime
from shared.scope import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RedriveRequest:
    error_ids: list[int] | None = None
    rq_job_ids: list[str] | None = None
    connector: str | None = None
    include_dead_letter: bool = False
    reset_attempts: bool = False


@dataclass
class RedriveResult:
    jobs: list[Enqueued] = field(default_factory=list)
    requeued: list[str] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    selected_errors: int = 0
    error_ids: list[int] = field(default_factory=list)


def redrive(rt: Runtime, *, scope: Scope, request: RedriveRequest, requested_by: str | None,
            request_id: str | None) -> RedriveResult:
    result = RedriveResult()
    groups = _select_errors(rt, scope, request, result)
    failed = _select_failed_jobs(rt, scope, request, result)
    for connector, ids in groups.items():
        with rt.transaction() as s:
            svc.mark_for_retry(svc.errors_by_ids(session=s, scope=scope, error_ids=ids, connector=None),
                               reset_attempts=request.reset_attempts)
        done = enqueue(rt, scope=scope, job_type=f"{connector}_sync", trigger="retry", requested_by=requested_by,
                       request_id=request_id)
        with rt.transaction() as s:
            svc.record_redrive(session=s, scope=scope, error_ids=ids, rq_job_id=done.run.rq_job_id,
                               job_run_id=done.run.id)
        result.jobs.append(done)
    for entry in failed:
        _requeue(rt, scope, entry, result)
    if result.selected_errors or result.requeued or result.jobs:
        with rt.transaction() as s:
            write_audit_event(s, scope, actor_username=requested_by, action="connectors.errors_retry",
                              entity_type="connector_errors", entity_id=request.connector, status="queued",
                              request_id=request_id,
                              payload={"error_ids": result.error_ids, "rq_job_ids": result.requeued,
                                       "job_run_ids": [d.run.id for d in result.jobs]})
    return result


def _select_errors(rt: Runtime, scope: Scope, request: RedriveRequest, result: RedriveResult) -> dict[str, list[int]]:
    if request.error_ids is None and request.rq_job_ids is not None:
        return {}
    with rt.session() as s:
        if request.error_ids is not None:
            wanted = list(dict.fromkeys(request.error_ids))
            rows = svc.errors_by_ids(session=s, scope=scope, error_ids=wanted, connector=request.connector)
            found = {r.id for r in rows}
            if not found:
                raise NotFound("connector_error_not_found", "No such connector error in this project")
            result.skipped += [{"id": i, "reason": "not_found"} for i in wanted if i not in found]
            result.skipped += [{"id": r.id, "reason": "already_resolved"} for r in rows if r.status == "resolved"]
            rows = [r for r in rows if r.status != "resolved"]
        else:
            rows = svc.open_errors(session=s, scope=scope, connector=request.connector,
                                   include_dead_letter=request.include_dead_letter)
        groups: dict[str, list[int]] = defaultdict(list)
        for row in rows:
            groups[row.connector].append(row.id)
        s.rollback()  # nothing is changed here; the rows are re-read and locked per connector
    result.error_ids = [i for ids in groups.values() for i in ids]
    result.selected_errors = len(result.error_ids)
    return dict(sorted(groups.items()))


def _select_failed_jobs(rt: Runtime, scope: Scope, request: RedriveRequest,
                        result: RedriveResult) -> list[dlq.FailedJob]:
    if not request.rq_job_ids:
        return []
    found: list[dlq.FailedJob] = []
    try:
        for rq_job_id in dict.fromkeys(request.rq_job_ids):
            entry = dlq.find_failed_job(rt.redis, rq_job_id, scope.project_id)
            if entry is None or (request.connector and entry.meta.get("connector") != request.connector):
                result.skipped.append({"rq_job_id": rq_job_id, "reason": "not_in_failed_registry"})
            else:
                found.append(entry)
    except RedisError as exc:
        raise QueueUnavailable(message="The job queue is unavailable, try again shortly") from exc
    if not found:
        raise NotFound("failed_job_not_found", "No such failed job in this project")
    return found


def _requeue(rt: Runtime, scope: Scope, entry: dlq.FailedJob, result: RedriveResult) -> None:
    run_id = entry.meta.get("job_run_id")
    with rt.session() as s:
        try:
            with s.begin():
                changed = s.execute(
                    update(JobRun).filter_by(id=run_id, **scope.as_filter()).where(JobRun.status == "failed")
                    .values(status="queued", error=None, finished_at=None)
                    .execution_options(synchronize_session=False)).rowcount
        except IntegrityError:  # uq_job_runs_inflight: that job type is already in flight
            result.skipped.append({"rq_job_id": entry.job.id, "reason": "in_flight"})
            return
        if not changed:
            status = s.scalar(select(JobRun.status).filter_by(id=run_id, **scope.as_filter()))
            reason = "in_flight" if status in IN_FLIGHT else "not_failed"
            result.skipped.append({"rq_job_id": entry.job.id, "reason": reason})
            return
    try:
        dlq.requeue(rt.redis, entry)
    except (InvalidJobOperation, RedisError) as exc:
        with rt.transaction() as s:
            s.execute(update(JobRun).filter_by(id=run_id, status="queued", **scope.as_filter())
                      .values(status="failed", error="enqueue_failed").execution_options(synchronize_session=False))
        if isinstance(exc, RedisError):
            raise QueueUnavailable(message="The job queue is unavailable, try again shortly") from exc
        result.skipped.append({"rq_job_id": entry.job.id, "reason": "not_in_failed_registry"})
        return
    with rt.session() as s:
        run = s.scalar(select(JobRun).filter_by(id=run_id, **scope.as_filter()))
        s.expunge(run)
    result.requeued.append(entry.job.id)
    result.jobs.append(Enqueued(run, False))
