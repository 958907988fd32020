"""Orphan recovery and the stale reaper in-process (platform §7.3, §8.3): every branch, no sleeping."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import select, update

from jobs import recovery
from jobs.runner import execute
from shared.db.models.platform import ConnectorSyncState, JobRun, ScheduledJob
from shared.locks import JobLock
from shared.queues import SERIALIZER, failed_registry
from shared.runtime import install
from shared.timeutil import utcnow
from tests.conftest import Api
from tests.jobs.jobsys import error_rows, make_project, rq_job, run_row, with_credentials


def set_row(rt, run_id: int, **values) -> None:  # noqa: ANN001
    with rt.transaction() as s:
        s.execute(update(JobRun).where(JobRun.id == run_id).values(**values))


def abandon(rt, job: dict, *, retries_left: int | None = None) -> None:  # noqa: ANN001
    """Make ``job`` look like a started execution whose worker stopped heart-beating 10 s ago."""
    rqj = rq_job(rt, job["rq_job_id"])
    rt.redis.lrem("rq:queue:" + rqj.origin, 0, rqj.id)
    rqj.set_status(JobStatus.STARTED)
    if retries_left is not None:
        rt.redis.hset(rqj.key, "retries_left", retries_left)
    registry = StartedJobRegistry(rqj.origin, connection=rt.redis, serializer=SERIALIZER)
    rt.redis.zadd(registry.key, {f"{rqj.id}:dead-execution": time.time() - 10})
    set_row(rt, job["id"], status="running", attempt=1, started_at=utcnow())
    JobLock(rqj.meta["project_id"], rqj.meta["job_type"], rt.redis).acquire(rqj.id, 900)


@pytest.fixture()
def linear_job(api: Api, runtime, monkeypatch):  # noqa: ANN001, ANN201
    install(runtime)
    with_credentials(monkeypatch, runtime)
    api.create_project("Recovery")
    api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-r"})
    return api.post("/connectors/linear/sync").get_json()["job"]


def test_abandoned_execution_with_retries_is_rescheduled_by_rq(runtime, linear_job) -> None:
    abandon(runtime, linear_job)
    assert recovery.recover_abandoned(runtime) == {"abandoned": 1, "retried": 1, "failed": 0}
    row = run_row(runtime, linear_job["id"])
    assert (row.status, row.error, row.attempt) == ("retry_scheduled", "worker_lost", 1)
    job = rq_job(runtime, linear_job["rq_job_id"])
    assert job.get_status() == JobStatus.SCHEDULED and job.retries_left == 1
    assert recovery.recover_abandoned(runtime) == {"abandoned": 0, "retried": 0, "failed": 0}  # idempotent


def test_abandoned_execution_without_retries_fails_into_the_dlq(runtime, linear_job) -> None:
    abandon(runtime, linear_job, retries_left=0)
    assert recovery.recover_abandoned(runtime)["failed"] == 1
    row = run_row(runtime, linear_job["id"])
    assert (row.status, row.error) == ("failed", "worker_lost") and row.finished_at is not None
    assert linear_job["rq_job_id"] in failed_registry("linear", runtime.redis)
    [err] = error_rows(runtime)
    assert (err.status, err.error_kind, err.job_run_id) == ("dead_letter", "worker_lost", linear_job["id"])
    with runtime.sessions() as s:
        assert s.scalar(select(ConnectorSyncState.status)) == "failed"
    assert not runtime.redis.keys("lock:job:*")  # a new trigger is not skipped as already_running


def test_non_idempotent_job_types_are_never_rerun(runtime, linear_job, monkeypatch) -> None:
    from dataclasses import replace

    from shared import catalog

    monkeypatch.setitem(catalog.JOB_TYPES, "linear_sync", replace(catalog.JOB_TYPES["linear_sync"], idempotent=False))
    abandon(runtime, linear_job)
    assert recovery.recover_abandoned(runtime)["failed"] == 1
    assert rq_job(runtime, linear_job["rq_job_id"]).get_status() == JobStatus.FAILED


def test_reaper_reconciles_a_cleanup_done_elsewhere(runtime, linear_job) -> None:
    abandon(runtime, linear_job)
    StartedJobRegistry("linear", connection=runtime.redis, serializer=SERIALIZER).cleanup()  # e.g. rq-dashboard
    assert run_row(runtime, linear_job["id"]).status == "running"
    assert recovery.reap_stale_runs(runtime) == {"stale_runs": 0, "stale_rescheduled": 1}
    assert run_row(runtime, linear_job["id"]).status == "retry_scheduled"


@pytest.mark.parametrize(("status", "age_field", "age_s", "reaped"), [
    ("running", "started_at", 900 + 301, True),
    ("running", "started_at", 900 + 200, False),
    ("queued", "enqueued_at", 301, True),       # its RQ job is gone: reaped after the grace period
    ("queued", "enqueued_at", 100, False),
    ("retry_scheduled", "finished_at", 301, True),
    ("retry_scheduled", "finished_at", 100, False),
])
def test_stale_reaper_age_rules_for_lost_rq_jobs(runtime, linear_job, status, age_field, age_s, reaped) -> None:
    runtime.redis.delete(f"rq:job:{linear_job['rq_job_id']}")  # Redis lost the job
    set_row(runtime, linear_job["id"], status=status, **{age_field: utcnow() - timedelta(seconds=age_s)})
    JobLock(run_row(runtime, linear_job["id"]).project_id, "linear_sync", runtime.redis).acquire(
        linear_job["rq_job_id"], 900)
    result = recovery.reap_stale_runs(runtime)
    row = run_row(runtime, linear_job["id"])
    if reaped:
        assert result["stale_runs"] == 1 and (row.status, row.error) == ("failed", "stale_run")
        assert not runtime.redis.keys("lock:job:*")
    else:
        assert result["stale_runs"] == 0 and row.status == status


def test_reaped_scheduled_run_gets_the_failure_bookkeeping(clean) -> None:
    from jobs.platform import tick_project

    install(clean)
    scope = make_project(clean, "Scheduled")
    tick_project(clean, scope, 100)
    with clean.session() as s:
        run = s.scalar(select(JobRun).filter_by(job_type="linear_sync"))
    clean.redis.delete(f"rq:job:{run.rq_job_id}")
    set_row(clean, run.id, status="running", started_at=utcnow() - timedelta(hours=1))
    assert recovery.reap_stale_runs(clean)["stale_runs"] >= 1
    with clean.session() as s:
        row = s.get(ScheduledJob, run.scheduled_job_id)
        assert (row.last_status, row.last_error) == ("failed", "stale_run")
        assert 250 < (row.next_run_at - utcnow()).total_seconds() <= 300


def test_housekeeping_resets_stale_running_connector_states(clean) -> None:
    from jobs.platform import housekeeping

    install(clean)
    scope = make_project(clean, "States")
    with clean.transaction() as s:
        s.add(ConnectorSyncState(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                                 connector="chatwoot", status="running", meta={},
                                 last_attempt_at=utcnow() - timedelta(seconds=1300)))
    assert housekeeping()["stale_connector_states"] == 1
    with clean.session() as s:
        state = s.scalar(select(ConnectorSyncState))
    assert (state.status, state.last_error) == ("failed", "stale_running_state")


def test_duplicate_delivery_and_held_lock(runtime, linear_job) -> None:
    set_row(runtime, linear_job["id"], status="ok")
    assert execute(linear_job["id"]) == {"duplicate_delivery": True}
    set_row(runtime, linear_job["id"], status="queued")
    row = run_row(runtime, linear_job["id"])
    JobLock(row.project_id, "linear_sync", runtime.redis).acquire("someone-else", 60)
    assert execute(linear_job["id"]) == {"skipped": "already_running"}
    row = run_row(runtime, linear_job["id"])
    assert (row.status, row.meta["result"]) == ("skipped", {"skipped": "already_running"})
    assert execute(10**9) is None  # the row is gone (project deleted)
