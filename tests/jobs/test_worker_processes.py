"""Real worker processes: kill -9 mid-job is recovered and finishes once; SIGTERM is a warm shutdown.

Each test starts ``python -m tests.workerproc linear`` (the real pool entry point with a test routine
registered) and coordinates through Redis counters; recovery is driven by calling the same functions
housekeeping runs, polled with deadlines. ``WORKER_EXECUTION_TTL_SECONDS=2`` makes a dead worker's
started-registry entry expire in about two seconds instead of twenty.
"""

from __future__ import annotations

import signal

import pytest
from rq.job import JobStatus
from rq.registry import StartedJobRegistry
from sqlalchemy import func, select

from jobs import platform
from shared.db.models.platform import ConnectorSyncState, JobRun
from shared.queues import SERIALIZER, failed_registry, queue
from shared.runtime import install
from tests.jobs.jobsys import WorkerProcess, counter, promote_scheduled, rq_job, run_row, with_credentials
from tests.support import wait_for
from tests.workerproc import PREFIX

pytestmark = pytest.mark.slow
FAST = {"WORKER_EXECUTION_TTL_SECONDS": "2", "LOG_LEVEL": "info"}


@pytest.fixture()
def workers(env, tmp_path):  # noqa: ANN001, ANN201
    started: list[WorkerProcess] = []

    def start(**extra: str) -> WorkerProcess:
        proc = WorkerProcess(env, "linear", tmp_path, routines="linear=slow", **{**FAST, **extra})
        started.append(proc)
        return proc

    yield start
    for proc in started:
        proc.stop()


@pytest.fixture()
def slow_sync(api, runtime, monkeypatch):  # noqa: ANN001, ANN201
    with_credentials(monkeypatch, runtime)
    api.create_project("Long runs")
    assert api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-7"}).status_code == 201

    def trigger() -> dict:
        resp = api.post("/connectors/linear/sync")
        assert resp.status_code == 202
        return resp.get_json()["job"]

    return trigger


def running_rows(rt) -> int:  # noqa: ANN001
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(JobRun).where(JobRun.status == "running")) or 0


def test_kill_9_mid_job_is_recovered_and_finishes_once(runtime, workers, slow_sync) -> None:
    install(runtime)
    first = workers()
    job = slow_sync()
    wait_for(lambda: counter(runtime, "started") == 1, timeout=60, message=lambda: f"the job to start\n{first.log()}")
    assert run_row(runtime, job["id"]).status == "running"
    first.signal(signal.SIGKILL)
    wait_for(lambda: first.exited() is not None, timeout=10, message="the worker to die")

    # What housekeeping (and every live worker's maintenance) does, polled until the entry expires.
    def recovered() -> bool:
        platform.housekeeping()
        return run_row(runtime, job["id"]).status == "retry_scheduled"

    wait_for(recovered, timeout=20, interval=0.25, message="the abandoned run to be recovered")
    row = run_row(runtime, job["id"])
    assert (row.error, row.attempt) == ("worker_lost", 1)
    assert rq_job(runtime, job["rq_job_id"]).get_status() == JobStatus.SCHEDULED  # RQ's retry, same job
    assert running_rows(runtime) == 0

    runtime.redis.set(PREFIX + "release", 1)
    assert promote_scheduled(runtime, "linear") == 1
    second = workers()
    # A new worker process imports the whole stack first, which on a loaded 2-core machine has taken over
    # 30 s: a generous deadline (polled, so it costs nothing when the run finishes early).
    wait_for(lambda: run_row(runtime, job["id"]).status == "ok", timeout=90,
             message=lambda: f"the retried run to finish (worker exit code {second.exited()})\n{second.log()}")
    row = run_row(runtime, job["id"])
    assert (row.attempt, row.error) == (2, None)
    assert counter(runtime, "started") == 2 and counter(runtime, "completed") == 1
    assert running_rows(runtime) == 0
    assert len(StartedJobRegistry("linear", connection=runtime.redis, serializer=SERIALIZER)) == 0
    assert len(failed_registry("linear", runtime.redis)) == 0
    with runtime.sessions() as s:
        assert s.scalar(select(ConnectorSyncState.status)) == "ok"
    assert not runtime.redis.keys("lock:job:*")


def test_sigterm_is_a_warm_shutdown_that_finishes_the_job(runtime, workers, slow_sync) -> None:
    worker = workers(WORKER_SHUTDOWN_GRACE_SECONDS="60")
    job = slow_sync()
    wait_for(lambda: counter(runtime, "started") == 1, timeout=60, message=lambda: f"the job to start\n{worker.log()}")
    worker.signal(signal.SIGTERM)
    wait_for(lambda: b"warm shut down requested" in worker.log_path.read_bytes(), timeout=10,
             message="the worker to take the request")
    assert worker.exited() is None and run_row(runtime, job["id"]).status == "running"
    runtime.redis.set(PREFIX + "release", 1)
    wait_for(lambda: worker.exited() is not None, timeout=20, message=lambda: f"the worker to exit\n{worker.log()}")
    assert worker.exited() == 0
    row = run_row(runtime, job["id"])
    assert (row.status, row.attempt) == ("ok", 1) and counter(runtime, "completed") == 1
    assert running_rows(runtime) == 0 and len(queue("linear", runtime.redis)) == 0


def test_sigterm_past_the_grace_period_hands_the_job_back(runtime, workers, slow_sync) -> None:
    worker = workers(WORKER_SHUTDOWN_GRACE_SECONDS="1")
    job = slow_sync()
    wait_for(lambda: counter(runtime, "started") == 1, timeout=60, message=lambda: f"the job to start\n{worker.log()}")
    worker.signal(signal.SIGTERM)
    wait_for(lambda: worker.exited() is not None, timeout=20, message=lambda: f"the worker to exit\n{worker.log()}")
    assert worker.exited() == 0, worker.log()
    row = run_row(runtime, job["id"])
    assert (row.status, row.attempt) == ("queued", 1)
    handed = rq_job(runtime, job["rq_job_id"])
    assert handed.get_status() == JobStatus.QUEUED and handed.retries_left == 2  # no retry spent
    assert queue("linear", runtime.redis).job_ids == [job["rq_job_id"]]
    assert len(failed_registry("linear", runtime.redis)) == 0 and not runtime.redis.keys("lock:job:*")

    runtime.redis.set(PREFIX + "release", 1)
    workers()
    wait_for(lambda: run_row(runtime, job["id"]).status == "ok", timeout=90, message="the handed-back job to run")
    assert run_row(runtime, job["id"]).attempt == 2 and counter(runtime, "completed") == 1


def test_sigterm_stops_an_idle_worker_at_once(workers) -> None:
    """An idle worker (blocked waiting for jobs) stops on SIGTERM and the process exits, rather than starting
    a new worker (the pool process restarts its worker only after a Redis error)."""
    worker = workers()
    wait_for(lambda: b"Listening on" in worker.log_path.read_bytes(), timeout=60,
             message=lambda: f"the worker to listen\n{worker.log()}")
    worker.signal(signal.SIGTERM)
    wait_for(lambda: worker.exited() is not None, timeout=15, message=lambda: f"the worker to exit\n{worker.log()}")
    assert worker.exited() == 0
    assert worker.log().count('"worker starting"') == 1
