"""The job wrapper (platform §7.5): RQ only ever calls ``execute(job_run_id)``.

``HANDLERS`` is the one registry of job types (dotted paths, imported on first use). A handler is
``def handler(scope: Scope, params: dict, log: Logger) -> dict``; it opens its own sessions, is
idempotent, and may return ``follow_up = {"job_type", "params"?}`` which is enqueued only after this
run's row is final. ``JobSkipped`` ends the run ``skipped``; other exceptions are classified as
permanent (straight to the DLQ) or transient (RQ retries, then the DLQ).

Ledger writes are lean because they run for every job: the claim is one ``UPDATE … RETURNING`` with an
asynchronous commit (``running`` is transient state), the final write one ``UPDATE … RETURNING`` plus
the audit row, both retried on operational errors (``shared.retry.retry_db``). Each execution's
duration goes to ``app_job_duration_seconds`` (``shared.jobmetrics``). ``HandBack`` (raised by
``KeelWorker`` when a warm shutdown outlives its grace period) puts the row back to ``queued``.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq import get_current_job
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError

from jobs import context
from shared import catalog, logs
from shared.audit import write_audit_event
from shared.db.models.platform import JobRun, ScheduledJob
from shared.errors import ConfigurationError, JobSkipped, is_permanent
from shared.jobmetrics import JobDurationHistogram
from shared.jobs import enqueue
from shared.locks import JobLock
from shared.retry import retry_db
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import as_utc, utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Scope, dict[str, Any], logging.Logger], dict[str, Any]]

HANDLERS: dict[str, str] = {
    "scheduler_tick": "jobs.platform:scheduler_tick",
    "chatwoot_sync": "jobs.connectors.sync:chatwoot_sync",
    "attio_sync": "jobs.connectors.sync:attio_sync",
    "linear_sync": "jobs.connectors.sync:linear_sync",
    "embeddings_run": "jobs.embeddings:embeddings_run",
    "vector_gc": "jobs.embeddings:vector_gc",
    "upsell_radar": "jobs.business.handlers_growth:upsell_radar",
    "continuity_preview": "jobs.business.handlers_growth:continuity_preview",
    "identity_suggestions": "jobs.business.handlers_growth:identity_suggestions",
    "campaign_scheduler": "jobs.business.handlers_growth:campaign_scheduler",
    "loops_contacts_sync": "jobs.business.handlers_growth:loops_contacts_sync",
    "kag_event_log_sync": "jobs.kag.handlers:kag_event_log_sync",
    "kag_recommendations_refresh": "jobs.kag.handlers:kag_recommendations_refresh",
    "signals_extraction": "jobs.kag.handlers:signals_extraction",
    "project_snapshot_daily": "jobs.kag.handlers_v2:project_snapshot_daily",
    "case_signatures_refresh": "jobs.kag.handlers_v2:case_signatures_refresh",
    "kag_v2_forecast_refresh": "jobs.kag.handlers_v2:kag_v2_forecast_refresh",
    "kag_v2_recommendations_refresh": "jobs.kag.handlers_v2:kag_v2_recommendations_refresh",
    "daily_digest": "jobs.business.handlers:daily_digest",
    "weekly_digest": "jobs.business.handlers:weekly_digest",
    "health_scoring": "jobs.business.handlers:health_scoring",
    "analytics_aggregates": "jobs.business.handlers:analytics_aggregates",
}
FLAG_GATES: dict[str, tuple[str, dict[str, Any]]] = {
    "kag_recommendations_refresh": ("KAG_ENABLED", {
        "enabled": False, "recommendations_enabled": False, "skipped": "kag_disabled", "touched_signals": 0,
        "touched_scores": 0, "touched_recommendations": 0, "processed_events": 0}),
    "project_snapshot_daily": ("KAG_SNAPSHOTS_ENABLED", {"skipped": "kag_snapshots_disabled"}),
    "kag_v2_forecast_refresh": ("KAG_FORECASTING_ENABLED", {"skipped": "kag_forecasting_disabled"}),
    "kag_v2_recommendations_refresh": ("KAG_RECOMMENDATIONS_V2_ENABLED",
                                       {"skipped": "kag_recommendations_v2_disabled"}),
}
FAILED_RETRY_DELAY_S = 300
AUDIT_PAYLOAD_MAX = 32 * 1024
_loaded: dict[str, Handler] = {}


def has_handler(job_type: str) -> bool:
    return job_type in HANDLERS


def handler_for(job_type: str) -> Handler:
    if job_type not in _loaded:
        module_name, _, attr = HANDLERS[job_type].partition(":")
        _loaded[job_type] = getattr(importlib.import_module(module_name), attr)
    return _loaded[job_type]


class HandBack(BaseException):  # noqa: N818 - a signal, not an error
    """Raised into a running job when its worker must stop before the job can finish (warm shutdown
    past its grace period): the row goes back to ``queued`` and the worker requeues the same RQ job."""


def execute(job_run_id: int) -> dict[str, Any] | None:
    rt = current()
    rq_job = get_current_job()
    try:
        claimed = retry_db(_claim, rt, job_run_id, operation="job_run.claim")
    except IntegrityError:  # another run of this type is in flight (this row was reaped meanwhile)
        log.warning("job run superseded by another in-flight run", extra={"fields": {"job_run_id": job_run_id}})
        return {"skipped": "superseded"}
    if claimed is None or isinstance(claimed, dict):
        return claimed
    scope, job_type, params, token, meta = claimed
    log_token = logs.bind(**meta)
    ctx_token = context.enter(context.RunContext(job_run_id, job_type, rq_job))
    lock = JobLock(scope.project_id, job_type, rt.redis)
    try:
        spec = catalog.get(job_type)
        if not lock.acquire(token, catalog.job_timeout(spec.queue, rt.settings) + 60):
            _finish_and_observe(rt, job_run_id, "skipped", job_type=job_type, params=params,
                                result={"skipped": "already_running"})
            return {"skipped": "already_running"}
        try:
            result, follow_up = _run(rt, job_run_id, scope, job_type, params, rq_job)
        except HandBack:
            retry_db(_hand_back, rt, job_run_id, operation="job_run.hand_back")
            raise
        finally:
            lock.release(token)
        if follow_up:  # after the lock is released: a run may name its own job type as its follow-up
            result["follow_up"] = _enqueue_follow_up(rt, job_run_id, scope, follow_up)
        return result
    finally:
        context.leave(ctx_token)
        logs.reset(log_token)


def _claim(rt: Runtime, job_run_id: int) -> tuple | dict | None:
    """Step 1-2: set the row ``running`` (missing → None, already final → duplicate delivery).

    One ``UPDATE … RETURNING`` in autocommit (one round trip, no ``BEGIN``/``COMMIT``). On PostgreSQL its
    commit is asynchronous (``synchronous_commit off``): ``running`` is transient state, and losing it in a
    database crash only leaves the row ``queued`` for the recovery paths, so it is not worth an fsync on
    every job.
    """
    with rt.autocommit_engine.connect() as s:
        row = s.execute(_claim_statement(s.dialect.name), {"job_run_id": job_run_id, "started_at": utcnow()}).first()
        if row is None:
            if s.scalar(select(JobRun.id).where(JobRun.id == job_run_id)) is None:
                log.warning("job run not found (project deleted?)", extra={"fields": {"job_run_id": job_run_id}})
                return None
            return {"duplicate_delivery": True}
    if row.attempt > 1:
        log.info("job run delivered again", extra={"fields": {"job_run_id": job_run_id, "attempt": row.attempt}})
    params = dict((row.meta or {}).get("params") or {})
    meta = {"job_run_id": job_run_id, "rq_job_id": row.rq_job_id, "job_type": row.job_type, "queue": row.queue,
            "project_id": str(row.project_id), "request_id": row.request_id}
    return Scope(row.project_id, row.account_scope_id), row.job_type, params, row.rq_job_id or f"run:{job_run_id}", meta


@functools.cache
def _claim_statement(dialect: str) -> Any:
    """The claim ``UPDATE … RETURNING``, built once per dialect (its values are parameters)."""
    stmt = (update(JobRun).where(JobRun.id == bindparam("job_run_id"), JobRun.status.not_in(("ok", "skipped")))
            .values(status="running", attempt=JobRun.attempt + 1, started_at=bindparam("started_at"), error=None,
                    finished_at=None)
            .returning(JobRun.project_id, JobRun.account_scope_id, JobRun.job_type, JobRun.queue,
                       JobRun.rq_job_id, JobRun.request_id, JobRun.meta, JobRun.attempt))
    if dialect == "postgresql":  # SET LOCAL in the same round trip (an InitPlan)
        stmt = stmt.where(select(func.set_config("synchronous_commit", "off", True)).scalar_subquery() == "off")
    return stmt


def _hand_back(rt: Runtime, job_run_id: int) -> None:
    with rt.transaction() as s:
        s.execute(update(JobRun).where(JobRun.id == job_run_id, JobRun.status == "running")
                  .values(status="queued", error=None, finished_at=None).execution_options(synchronize_session=False))


def _run(rt: Runtime, job_run_id: int, scope: Scope, job_type: str, params: dict[str, Any],
         rq_job: Any) -> tuple[dict, dict | None]:
    """Run the handler and write the final row; returns the result and the follow-up still to enqueue."""
    gate = FLAG_GATES.get(job_type)
    if gate and not rt.settings.flag(gate[0]):
        _finish_and_observe(rt, job_run_id, "ok", job_type=job_type, params=params, result=dict(gate[1]))
        return dict(gate[1]), None
    try:
        if not has_handler(job_type):
            raise ConfigurationError(f"no handler registered for job type {job_type}")
        result = handler_for(job_type)(scope, params, log) or {}
    except JobSkipped as skip:
        result = {"skipped": skip.reason, **skip.details}
        _finish_and_observe(rt, job_run_id, "skipped", job_type=job_type, params=params, result=result)
        return result, None
    except Exception as exc:
        permanent = is_permanent(exc)
        retries_left = bool(rq_job is not None and rq_job.retries_left and rq_job.retries_left > 0)
        if permanent and rq_job is not None:
            rq_job.retries_left = 0
        status = "retry_scheduled" if not permanent and retries_left else "failed"
        log.warning("job failed", extra={"fields": {"error_class": type(exc).__name__, "status": status,
                                                     "permanent": permanent}})
        _finish_and_observe(rt, job_run_id, status, job_type=job_type, params=params,
                            error=f"{type(exc).__name__}: {exc}")
        raise
    follow_up = result.pop("follow_up", None)
    _finish_and_observe(rt, job_run_id, "ok", job_type=job_type, params=params, result=result)
    return result, follow_up


def _finish_and_observe(rt: Runtime, job_run_id: int, status: str, *, job_type: str, params: dict[str, Any],
                        result: dict | None = None, error: str | None = None) -> None:
    done = retry_db(finish, rt, job_run_id, status, result=result, error=error, job_type=job_type, params=params,
                    operation="job_run.finish")
    if done is not None:
        JobDurationHistogram(rt.redis).observe(done[0], status, done[1])


def finish(rt: Runtime, job_run_id: int, status: str, *, result: dict | None = None, error: str | None = None,
           job_type: str | None = None, params: dict[str, Any] | None = None,
           expect: tuple[str, int | None] | None = None) -> tuple[str, float] | None:
    """Write the final (or retry) state, the schedule bookkeeping and the audit row in one transaction.

    One ``UPDATE … RETURNING`` for the row; with a result, ``meta`` becomes ``{params, result}`` (the
    caller passes the run's ``job_type`` and ``params``, else they are read first). ``expect = (status,
    attempt)`` makes it conditional (recovery's case): nothing is written when the row moved on.
    Returns ``(job_type, seconds since started_at)`` when written, else None.
    """
    now = utcnow()
    values: dict[str, Any] = {"job_run_id": job_run_id, "status": status, "finished_at": now}
    if expect is not None:
        values["expect_status"] = expect[0]
        if expect[1] is not None:
            values["expect_attempt"] = expect[1]
    if error is not None:
        values["error"] = error[:2000]
    with rt.transaction() as s:
        if result is not None:
            if job_type is None or params is None:
                row = s.execute(select(JobRun.job_type, JobRun.meta).where(JobRun.id == job_run_id)).first()
                if row is None:
                    return None
                job_type, params = row.job_type, dict((row.meta or {}).get("params") or {})
            values["meta"] = {"params": params, "result": result}
            values["processed_count"] = catalog.get(job_type).processed_count(result)
        statement = _finish_statement(*(key in values for key in _FINISH_OPTIONAL))
        run = s.connection().execute(statement, values).first()
        if run is None:
            return None
        if run.trigger == "scheduler" and run.scheduled_job_id and status != "retry_scheduled":
            _schedule_bookkeeping(s, run.scheduled_job_id, status, run.error, now)
        if run.trigger in ("manual", "retry") and status != "retry_scheduled":
            payload = result if status != "failed" else {"error": (error or "")[:2000]}
            write_audit_event(
                s, Scope(run.project_id, run.account_scope_id), actor_username=run.requested_by,
                action=f"job.{run.job_type}", entity_type="job_run", entity_id=str(job_run_id), status=status,
                request_id=run.request_id, payload=_cut(payload or {}),
            )
        started = as_utc(run.started_at)
        return run.job_type, max(0.0, (now - started).total_seconds()) if started else 0.0


_FINISH_OPTIONAL = ("expect_status", "expect_attempt", "error", "meta")


@functools.cache
def _finish_statement(expect_status: bool, expect_attempt: bool, error: bool, meta: bool) -> Any:
    """``finish``'s ``UPDATE … RETURNING`` for one combination of optional parts, built once (values are
    parameters) and run as Core: no statement construction or ORM bulk-update machinery per job."""
    where = [JobRun.id == bindparam("job_run_id")]
    if expect_status:
        where.append(JobRun.status == bindparam("expect_status"))
    if expect_attempt:
        where.append(JobRun.attempt == bindparam("expect_attempt"))
    values: dict[str, Any] = {"status": bindparam("status"), "finished_at": bindparam("finished_at")}
    if error:
        values["error"] = bindparam("error")
    if meta:
        values["meta"] = bindparam("meta", type_=JobRun.__table__.c.meta.type)
        values["processed_count"] = bindparam("processed_count")
    return (update(JobRun).where(*where).values(**values)
            .returning(JobRun.job_type, JobRun.trigger, JobRun.scheduled_job_id, JobRun.project_id,
                       JobRun.account_scope_id, JobRun.requested_by, JobRun.request_id, JobRun.started_at,
                       JobRun.error))


def _schedule_bookkeeping(s: Any, scheduled_job_id: Any, status: str, error: str | None, now: Any) -> None:
    row = s.get(ScheduledJob, scheduled_job_id)
    if row is None:
        return
    row.last_run_at = now
    if status == "failed":
        row.last_status, row.last_error = "failed", (error or "")[:1000]
        row.next_run_at = now + timedelta(seconds=FAILED_RETRY_DELAY_S)
    else:
        row.last_status, row.last_error = "ok", None
        row.next_run_at = now + timedelta(seconds=clamp_cadence(row.cadence_seconds))


def clamp_cadence(value: Any) -> int:
    try:
        cadence = int(value)
    except (TypeError, ValueError):
        return 900
    return max(1, min(2_592_000, cadence))


def _enqueue_follow_up(rt: Runtime, parent_id: int, scope: Scope, follow_up: dict[str, Any]) -> dict[str, Any]:
    with rt.session() as s:
        parent = s.get(JobRun, parent_id)
        trigger, requested_by, request_id = parent.trigger, parent.requested_by, parent.request_id
    params = {**(follow_up.get("params") or {}), "parent_job_run_id": parent_id}
    try:
        done = enqueue(rt, scope=scope, job_type=follow_up["job_type"], trigger=trigger, params=params,
                       requested_by=requested_by, request_id=request_id)
    except Exception:  # noqa: BLE001 - left to the schedule (platform §7.5 step 6)
        log.warning("follow-up enqueue failed", extra={"fields": {"follow_up": follow_up.get("job_type")}})
        return {"job_type": follow_up["job_type"], "job_run_id": None, "deduplicated": False, "error": "enqueue_failed"}
    info = {"job_type": follow_up["job_type"], "job_run_id": done.run.id, "deduplicated": done.deduplicated}
    with rt.transaction() as s:
        row = s.get(JobRun, parent_id)
        meta = dict(row.meta or {})
        meta["result"] = {**(meta.get("result") or {}), "follow_up": info}
        row.meta = meta
    return info


def _cut(payload: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(payload, default=str)
    if len(text) <= AUDIT_PAYLOAD_MAX:
        return json.loads(text)
    return {"truncated": True, "preview": text[:AUDIT_PAYLOAD_MAX - 100]}
