"""Benchmark: ledgered no-op jobs/s per worker process vs raw RQ ``SimpleWorker`` (issue 3: ratio ≥ 0.5).

Both run in this one process, one after the other, in the same run and on the same Redis and
PostgreSQL:

- **ledgered**: ``jobs.runner.execute(job_run_id)`` through ``KeelWorker`` (the class every pool runs),
  for a no-op job type registered for the benchmark: the ``job_runs`` row goes ``queued → running →
  ok`` with its audit row, the per-job Redis lock, the duration histogram, the heartbeat thread;
- **raw**: ``rq.SimpleWorker`` running a module-level no-op function, same queue class and serializer.

Jobs are enqueued first (not timed); the timed part is a burst worker draining the queue. Each side is
measured ``--rounds`` times, interleaved, and the best round of each is kept (noise on a shared machine
only ever slows a round down).

Usage: ``.venv/bin/python bench/bench_jobs.py [--jobs 500] [--rounds 3]``. Results: ``bench/results/jobs.json``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Timer, isolated_env, print_summary, write_results  # noqa: E402

TARGET = 0.5
JOB_TYPE = "bench_noop"
QUEUE = "platform"


def noop(scope: object = None, params: object = None, log: object = None) -> dict:
    return {}


def raw_noop() -> None:
    return None


def register_noop() -> None:
    from jobs import runner
    from shared import catalog

    catalog.JOB_TYPES[JOB_TYPE] = catalog.JobType(JOB_TYPE, QUEUE)
    runner.HANDLERS[JOB_TYPE] = "bench.bench_jobs:noop"


def make_scopes(rt: object, count: int) -> list:
    """One project per job: the in-flight index allows one queued run per (project, job type)."""
    from sqlalchemy import select

    from shared.db.models.platform import AccountScope, Project
    from shared.scope import Scope
    from shared.timeutil import utcnow

    with rt.transaction() as s:  # type: ignore[attr-defined]
        scope_id = s.scalar(select(AccountScope.id).filter_by(scope_key="default"))
        projects = [Project(id=uuid.uuid4(), name=f"Bench {i}", account_scope_id=scope_id, created_at=utcnow())
                    for i in range(count)]
        s.add_all(projects)
    return [Scope(p.id, scope_id) for p in projects]


def ledgered_round(rt: object, jobs: int) -> float:
    from sqlalchemy import delete, func, select

    from shared.db.models.platform import JobRun
    from shared.jobs import enqueue
    from shared.queues import SERIALIZER, queue
    from workers.worker import KeelWorker

    for scope in make_scopes(rt, jobs):
        enqueue(rt, scope=scope, job_type=JOB_TYPE, trigger="manual", requested_by="bench")  # type: ignore[arg-type]
    worker = KeelWorker([queue(QUEUE, rt.redis)], connection=rt.redis, serializer=SERIALIZER)  # type: ignore[attr-defined]
    with Timer() as timer:
        worker.work(burst=True, logging_level="WARNING")
    with rt.session() as s:  # type: ignore[attr-defined]
        done = s.scalar(select(func.count()).select_from(JobRun).where(JobRun.status == "ok",
                                                                       JobRun.job_type == JOB_TYPE))
        s.execute(delete(JobRun))
        s.commit()
    assert done == jobs, done
    return jobs / timer.seconds


def raw_round(rt: object, jobs: int) -> float:
    from rq import SimpleWorker

    from shared.queues import SERIALIZER, queue

    q = queue(QUEUE, rt.redis)  # type: ignore[attr-defined]
    for _ in range(jobs):
        q.enqueue("bench.bench_jobs.raw_noop", result_ttl=86400, failure_ttl=1209600)
    worker = SimpleWorker([q], connection=rt.redis, serializer=SERIALIZER)  # type: ignore[attr-defined]
    with Timer() as timer:
        worker.work(burst=True, logging_level="WARNING")
    assert len(q) == 0 and q.failed_job_registry.count == 0
    return jobs / timer.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from shared.config import Settings
    from shared.runtime import Runtime, install

    register_noop()
    ledgered: list[float] = []
    raw: list[float] = []
    with isolated_env(LOG_LEVEL="warning") as env:
        rt = install(Runtime(Settings.from_env(env)))
        ledgered_round(rt, 50)  # warm-up: imports, prepared statements, connection pool
        raw_round(rt, 50)
        for _ in range(args.rounds):
            ledgered.append(ledgered_round(rt, args.jobs))
            raw.append(raw_round(rt, args.jobs))
        rt.close()
    ratio = max(ledgered) / max(raw)
    path = write_results("jobs", {
        "target_ratio": TARGET, "ratio": round(ratio, 3), "jobs_per_round": args.jobs,
        "worker_class": "workers.worker.KeelWorker (rq.SimpleWorker + heartbeat thread)",
        "ledgered_jobs_per_s": [round(x, 1) for x in ledgered], "raw_jobs_per_s": [round(x, 1) for x in raw],
        "best": {"ledgered": round(max(ledgered), 1), "raw": round(max(raw), 1)},
    })
    print_summary("jobs", ratio, TARGET, [
        f"ledgered no-op (KeelWorker, job_runs row, lock, audit): {max(ledgered):.1f} jobs/s per process",
        f"raw RQ SimpleWorker no-op:                            {max(raw):.1f} jobs/s per process",
        f"results: {path.relative_to(ROOT)}",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
