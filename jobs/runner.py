"""The job wrapper (platform §7.5): RQ only ever calls ``execute(job_run_id)``.

``HANDLERS`` is the one registry of job types (dotted paths, imported on first use). A handler is
``def handler(scope: Scope, params: dict, log: Logger) -> dict``; it opens its own sessions, is
idempotent, and may return ``follow_up = {"job_type", "params"?}`` which is enqueued only after this
run's row is final. ``JobSkipped`` ends the run ``skipped``; other exceptions are classified as
permanent (straight to the DLQ) or transient (RQ retries, then the DLQ).
"""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from rq import get_current_job
from sqlalchemy import select

from jobs import context
from shared import catalog, logs
from shared.audit import write_audit_event
from shared.db.models.platform import JobRun, ScheduledJob
from shared.errors import JobSkipped, is_permanent
from shared.jobs import enqueue
from shared.locks import JobLock
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Scope, dict[str, Any], logging.Logger], dict[str, Any]]

HANDLERS: dict[str, str] = {
    "scheduler_tick": "jobs.platform:scheduler_tick",
    "chatwoot_sync": "jobs.connectors.sync:chatwoot_sync",
    "attio_sync": "jobs.connectors.sync:attio_sync",
    "linear_sync": "jobs.connectors.sync:linear_sync",
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


def execute(job_run_id: int) -> dict[str, Any] | None:
    rt = current()
    rq_job = get_current_job()
    with rt.transaction() as s:
        run = s.scalar(select(JobRun).where(JobRun.id == job_run_id).with_for_update())
        if run is None:
            log.warning("job run not found (project deleted?)", extra={"fields": {"job_run_id": job_run_id}})
            return None
        if run.status in ("ok", "skipped"):
            return {"duplicate_delivery": True}
        run.status, run.attempt, run.started_at, run.error = "running", run.attempt + 1, utcnow(), None
        run.finished_at = None
        scope = Scope(run.project_id, run.account_scope_id)
        job_type, params = run.job_type, dict((run.meta or {}).get("params") or {})
        token = run.rq_job_id or f"run:{run.id}"
        meta = {"job_run_id": run.id, "rq_job_id": run.rq_job_id, "job_type": job_type, "queue": run.queue,
                "project_id": str(run.project_id), "request_id": run.request_id}
    log_token = logs.bind(**meta)
    ctx_token = context.enter(context.RunContext(job_run_id, job_type, rq_job))
    lock = JobLock(scope.project_id, job_type, rt.redis)
    try:
        spec = catalog.get(job_type)
        if not lock.acquire(token, catalog.job_timeout(spec.queue, rt.settings) + 60):
            _finish(rt, job_run_id, "skipped", result={"skipped": "already_running"})
            return {"skipped": "already_running"}
        try:
            return _run(rt, job_run_id, scope, job_type, params, rq_job)
        finally:
            lock.release(token)
    finally:
        context.leave(ctx_token)
        logs.reset(log_token)


def _run(rt: Runtime, job_run_id: int, scope: Scope, job_type: str, params: dict[str, Any], rq_job: Any) -> dict:
    gate = FLAG_GATES.get(job_type)
    if gate and not rt.settings.flag(gate[0]):
        _finish(rt, job_run_id, "ok", result=dict(gate[1]))
        return dict(gate[1])
    try:
        if not has_handler(job_type):
            from shared.errors import ConfigurationError

            raise ConfigurationError(f"no handler registered for job type {job_type}")
        result = handler_for(job_type)(scope, params, log) or {}
    except JobSkipped as skip:
        result = {"skipped": skip.reason, **skip.details}
        _finish(rt, job_run_id, "skipped", result=result)
        return result
    except Exception as exc:
        permanent = is_permanent(exc)
        retries_left = bool(rq_job is not None and rq_job.retries_left and rq_job.retries_left > 0)
        if permanent and rq_job is not None:
            rq_job.retries_left = 0
        status = "retry_scheduled" if not permanent and retries_left else "failed"
        log.warning("job failed", extra={"fields": {"error_class": type(exc).__name__, "status": status,
                                                     "permanent": permanent}})
        _finish(rt, job_run_id, status, error=f"{type(exc).__name__}: {exc}")
        raise
    follow_up = result.pop("follow_up", None)
    _finish(rt, job_run_id, "ok", result=result)
    if follow_up:
        result["follow_up"] = _enqueue_follow_up(rt, job_run_id, scope, follow_up)
    return result


def _finish(rt: Runtime, job_run_id: int, status: str, *, result: dict | None = None, error: str | None = None) -> None:
    """Write the final (or retry) state, the schedule bookkeeping and the audit row in one transaction."""
    now = utcnow()
    with rt.transaction() as s:
        run = s.scalar(select(JobRun).where(JobRun.id == job_run_id).with_for_update())
        if run is None:
            return
        run.status, run.finished_at = status, now
        if error is not None:
            run.error = error[:2000]
        meta = dict(run.meta or {})
        if result is not None:
            meta["result"] = result
            run.processed_count = catalog.get(run.job_type).processed_count(result)
        run.meta = meta
        if run.trigger == "scheduler" and run.scheduled_job_id and status != "retry_scheduled":
            _schedule_bookkeeping(s, run, status, now)
        if run.trigger in ("manual", "retry") and status != "retry_scheduled":
            audit_status = "ok" if status == "ok" else status
            payload = result if status != "failed" else {"error": (error or "")[:2000]}
            write_audit_event(
                s, Scope(run.project_id, run.account_scope_id), actor_username=run.requested_by,
                action=f"job.{run.job_type}", entity_type="job_run", entity_id=str(run.id), status=audit_status,
                request_id=run.request_id, payload=_cut(payload or {}),
            )


def _schedule_bookkeeping(s: Any, run: JobRun, status: str, now: Any) -> None:
    row = s.get(ScheduledJob, run.scheduled_job_id)
    if row is None:
        return
    row.last_run_at = now
    if status == "failed":
        row.last_status, row.last_error = "failed", (run.error or "")[:1000]
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
