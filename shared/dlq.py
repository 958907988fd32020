"""The dead-letter queue in Redis: the ``FailedJobRegistry`` of every application queue (platform §6.6, §9.5).

Entries are read per project through ``meta.project_id`` (set by ``shared.jobs.push_to_rq``), at most
``MAX_INSPECT`` ids per queue, newest first. An entry of another project is indistinguishable from a
missing one. The durable record of a failure is the ``job_runs`` row (and ``connector_errors``);
these entries are transport, kept ``JOB_FAILURE_TTL_SECONDS``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from redis import Redis
from rq.exceptions import NoSuchJobError
from rq.job import Job
from rq.results import Result

from shared.catalog import QUEUES
from shared.queues import SERIALIZER, failed_registry
from shared.timeutil import as_utc, iso

log = logging.getLogger(__name__)
MAX_INSPECT = 1000
SUMMARY_MAX = 500
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def error_summary(exc_string: str | None) -> str | None:
    """The last non-empty line of a stored exception (``ValueError: boom``), never the traceback."""
    if not exc_string:
        return None
    lines = [line.strip() for line in exc_string.strip().splitlines() if line.strip()]
    return lines[-1][:SUMMARY_MAX] if lines else None


@dataclass
class FailedJob:
    job: Job
    queue: str

    @property
    def meta(self) -> dict[str, Any]:
        return self.job.meta or {}

    @property
    def failed_at(self) -> datetime | None:
        return as_utc(self.job.ended_at or self.job.started_at or self.job.enqueued_at)

    def exc_string(self) -> str | None:
        try:
            result = self.job.latest_result()
        except Exception:  # noqa: BLE001 - an unreadable result only loses the summary
            return None
        if result is None or result.type != Result.Type.FAILED:
            return None
        return result.exc_string

    def to_json(self) -> dict[str, Any]:
        meta = self.meta
        return {
            "rq_job_id": self.job.id, "queue": self.queue,
            "job_type": meta.get("job_type") or (self.job.func_name or "").rsplit(".", 1)[-1] or None,
            "job_run_id": meta.get("job_run_id"), "connector": meta.get("connector"),
            "failed_at": iso(self.failed_at), "error_summary": error_summary(self.exc_string()),
            "retries_left": self.job.retries_left,
        }


def _belongs(job: Job | None, project_id: UUID | str) -> bool:
    return job is not None and (job.meta or {}).get("project_id") == str(project_id)


def project_failed_jobs(connection: Redis, project_id: UUID | str, *, queues: tuple[str, ...] = QUEUES,
                        limit: int = 100) -> list[FailedJob]:
    """This project's entries of the queues' failed registries, newest first, at most ``limit``."""
    found: list[FailedJob] = []
    for name in queues:
        registry = failed_registry(name, connection)
        ids = registry.get_job_ids(0, MAX_INSPECT - 1, desc=True)
        if not ids:
            continue
        for job in Job.fetch_many(ids, connection=connection, serializer=SERIALIZER):
            if _belongs(job, project_id):
                found.append(FailedJob(job, name))
    found.sort(key=lambda f: f.failed_at or _EPOCH, reverse=True)
    return found[:limit]


def find_failed_job(connection: Redis, rq_job_id: str, project_id: UUID | str) -> FailedJob | None:
    """The entry ``rq_job_id`` when it sits in an application queue's failed registry and is this project's."""
    try:
        job = Job.fetch(rq_job_id, connection=connection, serializer=SERIALIZER)
    except NoSuchJobError:
        return None
    if job.origin not in QUEUES or not _belongs(job, project_id):
        return None
    if job.id not in failed_registry(job.origin, connection):
        return None
    return FailedJob(job, job.origin)


def requeue(connection: Redis, failed: FailedJob) -> Job:
    """``FailedJobRegistry.requeue()``: the same RQ job goes back to its queue (``InvalidJobOperation`` if gone)."""
    return failed_registry(failed.queue, connection).requeue(failed.job)


def remove_project_entries(connection: Redis, queue: str, project_id: UUID | str) -> int:
    """Drop this project's entries from ``queue``'s failed registry (a successful sync resolves them)."""
    registry = failed_registry(queue, connection)
    ids = registry.get_job_ids(0, MAX_INSPECT - 1, desc=True)
    removed = 0
    for job in Job.fetch_many(ids, connection=connection, serializer=SERIALIZER) if ids else []:
        if _belongs(job, project_id):
            registry.remove(job, delete_job=False)
            removed += 1
    return removed
