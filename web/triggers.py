"""The 202 contract shared by every trigger route (platform §5.1, §6.4, §7.6).

``trigger_job()`` records the run (dedupe by the in-flight index) with its ``job.<type>`` audit row in
the same transaction, enqueues it, and ``accepted()`` answers ``202 {job}`` with ``Location``.
"""

from __future__ import annotations

from typing import Any

from flask import Response, g, request

from shared import catalog
from shared.audit import write_audit_event
from shared.db.service import connectors as connectors_svc
from shared.jobs import Enqueued, enqueue, job_to_json
from shared.scope import Scope
from web.context import db, runtime, username
from web.envelope import ok


def trigger_job(scope: Scope, job_type: str, *, params: dict[str, Any] | None = None, trigger: str = "manual",
                audit_action: str | None = None, audit_entity: tuple[str, str] | None = None,
                audit_payload: dict[str, Any] | None = None, audit: bool = True) -> Enqueued:
    """Record and enqueue one run; ``audit=False`` when the route writes its own summary audit row."""

    def write_audit(session: Any, run: Any) -> None:
        entity_type, entity_id = audit_entity or ("job_run", str(run.id))
        write_audit_event(session, scope, actor_username=username(), action=audit_action or f"job.{job_type}",
                          entity_type=entity_type, entity_id=entity_id, status="queued", request_id=g.request_id,
                          payload={"job_run_id": run.id, **(audit_payload or {})})

    return enqueue(runtime(), scope=scope, job_type=job_type, trigger=trigger, params=params,
                   requested_by=username(), request_id=g.request_id, on_insert=write_audit if audit else None,
                   session=db())


def sync_trigger(scope: Scope, connector: str, *, audit_action: str | None = None,
                 audit: bool = True) -> tuple[Enqueued, connectors_svc.EffectiveMode]:
    """Enqueue ``<connector>_sync`` whatever the effective mode (never refused, platform §6.4)."""
    bound = connectors_svc.is_bound(session=db(), scope=scope, connector=connector)
    mode = connectors_svc.effective_mode(runtime().settings, connector, bound=bound)
    entity = ("connector", connector) if audit_action else None
    done = trigger_job(scope, catalog.sync_job_type(connector), audit_action=audit_action, audit_entity=entity,
                       audit=audit)
    return done, mode


def location(run_id: int) -> str:
    prefix = "/v1" if request.path.startswith("/v1/") else ""
    return f"{prefix}/jobs/runs/{run_id}"


def accepted(done: Enqueued, **extra: Any) -> Response:
    return ok({"job": job_to_json(done.run, deduplicated=done.deduplicated), **extra}, status=202,
              headers={"Location": location(done.run.id)})


def accepted_many(runs: list[Enqueued], **extra: Any) -> Response:
    headers = {"Location": location(runs[0].run.id)} if runs else None
    return ok({"jobs": [job_to_json(d.run, deduplicated=d.deduplicated) for d in runs], **extra}, status=202,
              headers=headers)
