"""The schedule (platform §8): concurrent ticks claim each due row once; the one global tick."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from dataclasses import replace

from rq_scheduler import Scheduler
from sqlalchemy import func, select

from jobs.platform import tick_project
from jobs.runner import has_handler
from shared.catalog import SCHEDULED_DEFAULTS
from shared.config import Settings
from shared.db.models.platform import JobRun, ScheduledJob
from shared.queues import JsonJob, queue, queue_counts
from shared.runtime import Runtime, install
from shared.scope import Scope
from tests.jobs.jobsys import make_project
from workers.scheduler import ENTRY_ID, register_tick

GO_KEY = "test:tick:go"


def expected_enqueues() -> set[str]:
    return {name for name in SCHEDULED_DEFAULTS if has_handler(name)}


def assert_each_due_row_enqueued_once(rt: Runtime, results: list[dict]) -> None:
    enqueued = Counter(d["job_type"] for r in results for d in r["details"] if d["status"] == "enqueued")
    assert set(enqueued) == expected_enqueues() and set(enqueued.values()) == {1}
    with rt.session() as s:
        runs = Counter(s.scalars(select(JobRun.job_type)))
        due = s.scalar(select(func.count()).select_from(ScheduledJob).where(ScheduledJob.next_run_at <= func.now()))
    assert runs == enqueued and due == 0
    assert sum(c["queued"] for c in queue_counts(rt.redis).values()) == len(enqueued)
    # every due row was claimed by exactly one tick (processed counts add up to the seeded rows)
    assert sum(r["processed"] for r in results) == len(SCHEDULED_DEFAULTS)


def test_concurrent_ticks_in_threads_enqueue_each_due_row_once(clean) -> None:
    scope = make_project(clean, "Threads")
    barrier = threading.Barrier(4)
    results: list[dict] = []

    def tick() -> None:
        barrier.wait()
        results.append(tick_project(clean, scope, 100))

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 4
    assert_each_due_row_enqueued_once(clean, results)


def _tick_in_process(env: dict[str, str], project_id: str, scope_id: str, out: multiprocessing.Queue) -> None:
    rt = install(Runtime(Settings.from_env(env)))
    rt.redis.blpop(GO_KEY, timeout=30)  # both processes start their tick together
    out.put(tick_project(rt, Scope.of(project_id, scope_id), 100))
    rt.close()


def test_concurrent_ticks_in_two_processes_enqueue_each_due_row_once(clean, env) -> None:
    scope = make_project(clean, "Processes")
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_tick_in_process, args=(env, str(scope.project_id), str(scope.account_scope_id), out))
             for _ in range(2)]
    for p in procs:
        p.start()
    clean.redis.rpush(GO_KEY, 1, 1)
    results = [out.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    assert_each_due_row_enqueued_once(clean, results)


def test_in_flight_job_type_is_skipped_and_pushed_by_one_cadence(clean) -> None:
    scope = make_project(clean, "Busy")
    first = tick_project(clean, scope, 100)
    with clean.transaction() as s:
        s.execute(ScheduledJob.__table__.update().values(next_run_at=func.now()))
    second = tick_project(clean, scope, 100)
    statuses = {d["job_type"]: d["status"] for d in second["details"]}
    assert all(statuses[name] == "skipped_in_flight" for name in expected_enqueues())
    assert second["enqueued"] == 0 and first["enqueued"] == len(expected_enqueues())
    with clean.session() as s:
        row = s.scalar(select(ScheduledJob).filter_by(job_type="linear_sync"))
        assert (row.next_run_at - s.scalar(select(func.now()))).total_seconds() > 1700


def test_scheduler_registers_one_global_tick_and_it_runs(clean, run_jobs, monkeypatch) -> None:
    install(clean)
    make_project(clean, "Global")
    scheduler = Scheduler(queue_name="platform", connection=clean.redis, interval=1, job_class=JsonJob)
    assert register_tick(scheduler, clean.settings) and register_tick(scheduler, clean.settings)  # idempotent
    assert [j.id for j in scheduler.get_jobs()] == [ENTRY_ID]
    scheduler.enqueue_jobs()  # what the scheduler process's loop does every SCHEDULER_POLL_SECONDS
    assert queue("platform", clean.redis).job_ids == [ENTRY_ID]
    run_jobs("platform")  # scheduler_tick_all, then the global jobs it enqueued
    with clean.session() as s:
        assert Counter(s.scalars(select(JobRun.job_type))) == Counter(expected_enqueues())
    assert clean.redis.exists("sched:global:housekeeping", "sched:global:connector_errors_retry") == 2
    monkeypatch.setattr(clean, "settings", replace(clean.settings, scheduler_enabled=False))
    assert register_tick(scheduler, clean.settings) is False and ENTRY_ID not in scheduler
