"""Job routes (platform §6.4, §6.5): triggers, the polled status, run reads, the schedule."""

from __future__ import annotations

from flask import Response
from rq.exceptions import NoSuchJobError
from rq.job import Job

from shared import catalog
from shared.db.service import jobs as svc
from shared.db.service.scheduler import seed_defaults
from shared.jobs import JOB_FIELDS, job_to_json
from shared.queues import SERIALIZER, queue_counts
from shared.scope import Scope
from shared.timeutil import iso
from web.api import PathParam, route
from web.context import db, runtime, write
from web.envelope import ok
from web.jobs import bp
from web.jobs.schemas import EmbeddingsRunIn, TickQuery
from web.triggers import accepted, sync_trigger, trigger_job

STATUS_FIELDS = tuple(f for f in JOB_FIELDS if f not in ("rq_job_id", "scheduled_job_id", "requested_by",
                                                         "request_id"))


def _sync(scope: Scope, connector: str) -> Response:
    done, mode = sync_trigger(scope, connector)
    return accepted(done, effective_mode=mode.mode, skip_reason=mode.reason)


@route(bp, "/jobs/chatwoot/sync", method="POST", success=202, summary="Enqueue a Chatwoot sync")
def chatwoot_sync(scope: Scope) -> Response:
    return _sync(scope, "chatwoot")


@route(bp, "/jobs/attio/sync", method="POST", success=202, summary="Enqueue an Attio sync")
def attio_sync(scope: Scope) -> Response:
    return _sync(scope, "attio")


@route(bp, "/jobs/linear/sync", method="POST", success=202, summary="Enqueue a Linear sync")
def linear_sync(scope: Scope) -> Response:
    return _sync(scope, "linear")


@route(bp, "/jobs/embeddings/run", method="POST", body=EmbeddingsRunIn, success=202,
       summary="Enqueue an embeddings run")
def embeddings_run(scope: Scope, body: EmbeddingsRunIn) -> Response:
    from shared.embeddings import ProviderUnavailable, active_provider

    try:  # the same shared provider /search uses (built once per process)
        active_provider(runtime().settings.environ)
        mode, reason = "available", None
    except ProviderUnavailable as exc:
        mode, reason = "skip", exc.reason
    done = trigger_job(scope, "embeddings_run", params={"retry_failed": body.retry_failed})
    return accepted(done, effective_mode=mode, skip_reason=reason)


@route(bp, "/jobs/status", summary="Everything the UI polls: runs, counts, storage, queues")
def status(scope: Scope) -> Response:
    s = db()
    latest = svc.latest_runs(session=s, scope=scope)
    active = svc.active_runs(session=s, scope=scope)
    entities, rag_counts = svc.entity_counts(session=s, scope=scope)
    rt = runtime()
    return ok({
        "jobs": [job_to_json(r, fields=STATUS_FIELDS) for r in latest],
        "active_jobs": [job_to_json(r, fields=STATUS_FIELDS) for r in active],
        "rag_counts": rag_counts,
        "entities": entities,
        "storage": svc.storage(session=s, scope=scope, redis=rt.redis, budget_gb=rt.settings.storage_budget_gb),
        "watermarks": svc.watermarks(session=s, scope=scope),
        "dead_letter": {"connector_errors": svc.dead_letter_count(session=s, scope=scope)},
        "queues": {q: {k: v for k, v in c.items() if k != "deferred"} for q, c in queue_counts(rt.redis).items()},
        "poll_after_ms": 3000 if active else 30000,
    })


@route(bp, "/jobs/runs/<run_id>", path={"run_id": PathParam("int", "invalid_job_id")},
       summary="One run of the active project", responses={404: "job_not_found"})
def get_run(scope: Scope, run_id: int) -> Response:
    run = svc.get_run_or_raise(session=db(), scope=scope, run_id=run_id)
    rq_status = None
    if run.rq_job_id:
        try:
            rq_status = Job.fetch(run.rq_job_id, connection=runtime().redis, serializer=SERIALIZER).get_status()
        except (NoSuchJobError, Exception):  # noqa: BLE001 - expired or Redis down: unknown
            rq_status = None
    return ok({"job": job_to_json(run), "rq_status": str(rq_status.value) if rq_status else None})


@route(bp, "/jobs/scheduler", summary="The project's scheduled jobs")
def scheduler(scope: Scope) -> Response:
    with write() as s:
        seed_defaults(session=s, scope=scope)
    s = db()
    in_flight = svc.in_flight_by_type(session=s, scope=scope)
    rows = svc.schedule_rows(session=s, scope=scope)
    return ok({"jobs": [{
        "id": r.id, "job_type": r.job_type, "queue": catalog.JOB_TYPES[r.job_type].queue
        if r.job_type in catalog.JOB_TYPES else None, "status": r.status, "cadence_seconds": r.cadence_seconds,
        "next_run_at": iso(r.next_run_at), "last_run_at": iso(r.last_run_at), "last_status": r.last_status,
        "last_error": r.last_error, "payload": r.payload, "in_flight_job_id": in_flight.get(r.job_type),
    } for r in rows]})


@route(bp, "/jobs/scheduler/tick", method="POST", query=TickQuery, success=202,
       summary="Enqueue a tick of the project's schedule")
def tick(scope: Scope, q: TickQuery) -> Response:
    return accepted(trigger_job(scope, "scheduler_tick", params={"limit": q.limit}))
