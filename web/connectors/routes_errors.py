"""The DLQ view and re-drive (platform §6.6): ``GET /connectors/errors``, ``POST /connectors/errors/retry``."""

from __future__ import annotations

import logging

from flask import Response, g
from redis.exceptions import RedisError

from shared import dlq
from shared.catalog import QUEUES
from shared.db.service import connectors as svc
from shared.jobs import job_to_json
from shared.redrive import RedriveRequest, redrive
from shared.scope import Scope
from web.api import route
from web.connectors import bp
from web.connectors.schemas import ErrorsQuery, RetryIn
from web.context import db, runtime, username
from web.envelope import ok
from web.triggers import location

log = logging.getLogger(__name__)


@route(bp, "/connectors/errors", query=ErrorsQuery, summary="Connector error history and the failed-job registry")
def errors(scope: Scope, q: ErrorsQuery) -> Response:
    rows = svc.list_errors(session=db(), scope=scope, status=q.status, connector=q.connector, limit=q.limit)
    try:
        failed = dlq.project_failed_jobs(runtime().redis, scope.project_id,
                                         queues=(q.connector,) if q.connector else QUEUES, limit=q.limit)
        failed_jobs = [f.to_json() for f in failed]
    except RedisError:  # reads still answer when Redis is down; the database history is the record
        log.warning("failed-job registry unavailable")
        failed_jobs = []
    return ok({"errors": [svc.error_to_json(r) for r in rows], "failed_jobs": failed_jobs})


@route(bp, "/connectors/errors/retry", method="POST", body=RetryIn, success=202,
       summary="Re-drive dead-letter errors and failed jobs (202 when a job is returned, else 200)",
       responses={200: "nothing to re-drive", 404: "connector_error_not_found / failed_job_not_found"})
def retry(scope: Scope, body: RetryIn) -> Response:
    request = RedriveRequest(error_ids=body.error_ids, rq_job_ids=body.rq_job_ids, connector=body.connector,
                             include_dead_letter=body.include_dead_letter, reset_attempts=body.reset_attempts)
    result = redrive(runtime(), scope=scope, request=request, requested_by=username(), request_id=g.request_id)
    payload = {"jobs": [job_to_json(d.run, deduplicated=d.deduplicated) for d in result.jobs],
               "requeued": result.requeued, "skipped": result.skipped, "selected_errors": result.selected_errors}
    if not result.jobs:
        return ok(payload)
    return ok(payload, status=202, headers={"Location": location(result.jobs[0].run.id)})
