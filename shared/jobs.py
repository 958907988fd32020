"""Enqueueing (platform §7.4): the ``job_runs`` row first, then RQ; the in-flight index dedupes.

``enqueue()`` is the only way work reaches a queue. A second trigger for a (project, job type)
already in flight returns that run with ``deduplicated=True``; the unique partial index
``uq_job_runs_inflight`` is the only de-duplication mechanism.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError
from rq import Retry
from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session
from tenacity import retry, retry_if_exception_type, stop_after_attempt, wait_fixed

from shared import catalog, queues
from shared.db import scope_guard
from shared.db.models.platform import IN_FLIGHT, JobRun
from shared.errors import QueueUnavailable
from shared.runtime import Runtime
from shared.scope import Scope
from shared.timeutil import iso, utcnow

log = logging.getLogger(__name__)
RQ_RETRY_INTERVALS = [30, 120]
IN_FLIGHT_SQL = "status IN (" + ", ".join(f"'{s}'" for s in IN_FLIGHT) + ")"  # uq_job_runs_inflight's predicate
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
    session: Session | None = None,
) -> Enqueued:
    """Insert the ledger row (dedupe), commit, then put ``jobs.runner.execute(run_id)`` on RQ.

    The row goes in with ``INSERT … ON CONFLICT DO NOTHING`` on the in-flight index: no row back means
    a run is in flight, which is returned with ``deduplicated=True`` (nothing enqueued). ``on_insert``
    adds writes (an audit row) to the row's own transaction. ``session``: the caller's session (a web
    request's), whose current transaction the row joins and which this function commits; otherwise
    one of its own. Redis down: the row becomes ``failed``/``enqueue_failed`` and ``QueueUnavailable``
    is raised.
    """
    spec = catalog.get(job_type)
    values = dict(project_id=scope.project_id, account_scope_id=scope.account_scope_id, job_type=job_type,
                  queue=spec.queue, trigger=trigger, status="queued", attempt=0, scheduled_job_id=scheduled_job_id,
                  requested_by=requested_by, request_id=request_id, processed_count=0,
                  meta={"params": params or {}, "result": None})
    with ExitStack() as stack:
        s = session if session is not None else stack.enter_context(rt.session())
        for _ in range(3):
            try:
                existing, run = _insert_run(s, scope, values)
                if run is not None and on_insert is not None:
                    on_insert(s, run)
            except BaseException:
                s.rollback()
                raise
            if existing is not None:
                s.commit()
                return Enqueued(existing, True)
            if run is not None:
                s.commit()
                break
            s.rollback()  # the in-flight run finished between the insert and the read: try again
        else:  # pragma: no cover - three consecutive races
            raise QueueUnavailable(message="could not record the job run")
    try:
        push_to_rq(rt, run)
    except RedisError as exc:
        log.warning("enqueue failed", extra={"fields": {"job_run_id": run.id, "error": type(exc).__name__}})
        with rt.transaction() as tx:
            row = tx.get(JobRun, run.id)
            row.status, row.error, row.finished_at = "failed", "enqueue_failed", utcnow()
            tx.flush()
            tx.expunge(row)
            run = row
        if raise_on_failure:
            raise QueueUnavailable(message="The job queue is unavailable, try again shortly") from exc
        return Enqueued(run, False)
    return Enqueued(run, False)


RUN_INSERT_COLUMNS = ("project_id", "account_scope_id", "job_type", "queue", "trigger", "status", "attempt",
                      "scheduled_job_id", "requested_by", "request_id", "processed_count", "meta", "rq_job_id",
                      "enqueued_at")


@functools.cache
def _insert_run_statement() -> Any:
    """``INSERT … ON CONFLICT (in-flight index) DO NOTHING RETURNING`` as one typed ``text()`` (the same SQL
    on PostgreSQL and SQLite): unlike the dialects' ``insert().on_conflict_do_nothing()``, which SQLAlchemy
    2.0 cannot cache and recompiles on every execution, a text clause is compiled once per process."""
    columns = JobRun.__table__.c
    sql = (f"INSERT INTO job_runs ({', '.join(RUN_INSERT_COLUMNS)}) "
           f"VALUES ({', '.join(':' + c for c in RUN_INSERT_COLUMNS)}) "
           f"ON CONFLICT (project_id, job_type) WHERE {IN_FLIGHT_SQL} DO NOTHING RETURNING id, enqueued_at")
    return (text(sql).bindparams(*(bindparam(c, type_=columns[c].type) for c in RUN_INSERT_COLUMNS))
            .columns(columns.id, columns.enqueued_at))


def _insert_run(session: Session, scope: Scope, values: dict[str, Any]) -> tuple[JobRun | None, JobRun | None]:
    """(in-flight run, None) on a conflict, (None, new transient run) when inserted, (None, None) on a race."""
    scope_guard.verify(session, scope.project_id, scope.account_scope_id)  # the ORM guard, for a Core insert
    rq_job_id = str(uuid.uuid4())
    row = session.connection().execute(_insert_run_statement(),
                                       {"rq_job_id": rq_job_id, "enqueued_at": utcnow(), **values}).first()
    if row is None:
        return in_flight_run(session, scope, values["job_type"]), None
    return None, JobRun(id=row.id, enqueued_at=row.enqueued_at, rq_job_id=rq_job_id, **values)


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
    with rt.redis.pipeline() as pipe:  # RQ's queue registration, job hash and push: one MULTI/EXEC round trip
        q.enqueue(
            EXECUTE, run.id, job_id=run.rq_job_id,
            job_timeout=catalog.job_timeout(spec.queue, rt.settings),
            result_ttl=rt.settings.job_result_ttl_seconds, failure_ttl=rt.settings.job_failure_ttl_seconds,
            retry=Retry(max=2, interval=RQ_RETRY_INTERVALS), meta=meta,
            description=f"{run.job_type} project={run.project_id} run={run.id}", pipeline=pipe,
        )
        pipe.execute()


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
