"""Benchmark: ledgered no-op jobs/s per worker process vs raw RQ ``SimpleWorker`` (issue 3: ratio ≥ 0.5).

Both run in this one process, one after the other, in the same run and on the same Redis and
PostgreSQL:

- **ledgered**: ``jobs.runner.execute(job_run_id)`` through ``KeelWorker`` (the class every pool runs),
  for a no-op job type registered for the benchmark: the ``job_runs`` row goes ``queued → running →
  ok`` with its audit row, the per-job Redis lock, the duration histogram, the heartbeat thread;
- **raw**: ``rq.SimpleWorker`` running a module-level no-op function, same queue class and serializer;
- **raw limit**: the same ``SimpleWorker`` running a job that makes one durably committed ``UPDATE`` of
  its own ledger row on a bare psycopg connection (the least a job that records its outcome must do).

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

from bench.common import Timer, isolated_env, libpq_url, print_summary, write_results  # noqa: E402

TARGET = 0.5
JOB_TYPE = "bench_noop"
QUEUE = "platform"


def noop(scope: object = None, params: object = None, log: object = None) -> dict:
    return {}


def raw_noop() -> None:
    return None


_raw: dict = {"dsn": "", "conn": None}


def raw_durable(dsn: str, row_id: int) -> None:
    """The raw limit of a ledgered job: one durably committed UPDATE of its ledger row, nothing else.
    (The worker imports this module anew as ``bench.bench_jobs``: the connection lives there.)"""
    import psycopg

    if _raw["conn"] is None:
        _raw["conn"] = psycopg.connect(dsn)
    conn = _raw["conn"]
    with conn.transaction():
        conn.execute("UPDATE bench_raw_ledger SET status = 'ok', finished_at = now() WHERE id = %s", (row_id,))


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


def raw_durable_round(rt: object, jobs: int) -> float:
    import psycopg
    from rq import SimpleWorker

    from shared.queues import SERIALIZER, queue

    with psycopg.connect(_raw["dsn"], autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw_ledger (id bigserial PRIMARY KEY, "
                     "status text NOT NULL DEFAULT 'queued', finished_at timestamptz)")
        ids = [r[0] for r in conn.execute("INSERT INTO bench_raw_ledger (status) SELECT 'queued' "
                                          "FROM generate_series(1, %s) RETURNING id", (jobs,))]
    q = queue(QUEUE, rt.redis)  # type: ignore[attr-defined]
    for row_id in ids:
        q.enqueue("bench.bench_jobs.raw_durable", _raw["dsn"], row_id, result_ttl=86400, failure_ttl=1209600)
    worker = SimpleWorker([q], connection=rt.redis, serializer=SERIALIZER)  # type: ignore[attr-defined]
    with Timer() as timer:
        worker.work(burst=True, logging_level="WARNING")
    with psycopg.connect(_raw["dsn"], autocommit=True) as conn:
        done = conn.execute("SELECT count(*) FROM bench_raw_ledger WHERE status = 'ok' AND id = ANY(%s)",
                            (ids,)).fetchone()[0]
    assert done == jobs, done
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
    durable: list[float] = []
    with isolated_env(LOG_LEVEL="warning") as env:
        _raw["dsn"] = libpq_url(env["DATABASE_URL"])
        rt = install(Runtime(Settings.from_env(env)))
        ledgered_round(rt, 50)  # warm-up: imports, prepared statements, connection pool
        raw_round(rt, 50)
        raw_durable_round(rt, 50)
        for _ in range(args.rounds):
            ledgered.append(ledgered_round(rt, args.jobs))
            raw.append(raw_round(rt, args.jobs))
            durable.append(raw_durable_round(rt, args.jobs))
        from bench import bench_jobs as imported  # the module instance the worker ran the jobs in

        if imported._raw["conn"] is not None:
            imported._raw["conn"].close()
        rt.close()
    ratio = max(ledgered) / max(raw)
    durable_ratio, to_durable = max(durable) / max(raw), max(ledgered) / max(durable)
    path = write_results("jobs", {
        "target_ratio": TARGET, "ratio": round(ratio, 3), "jobs_per_round": args.jobs,
        "worker_class": "workers.worker.KeelWorker (rq.SimpleWorker + heartbeat thread)",
        "ledgered_jobs_per_s": [round(x, 1) for x in ledgered], "raw_jobs_per_s": [round(x, 1) for x in raw],
        "raw_durable_jobs_per_s": [round(x, 1) for x in durable],
        "best": {"ledgered": round(max(ledgered), 1), "raw": round(max(raw), 1), "raw_durable": round(max(durable), 1)},
        "ratio_raw_durable": round(durable_ratio, 3), "ratio_to_raw_durable": round(to_durable, 3),
        "raw_durable": "rq.SimpleWorker running a job that makes one durably committed UPDATE of its ledger row "
                       "(bare psycopg): the least a job that records its outcome must do",
        "figures": [
            {"figure": "jobs: ledgered no-op vs raw SimpleWorker no-op", "value": round(ratio, 3), "unit": "x",
             "baseline": f"raw {max(raw):.1f} jobs/s, same run", "ratio": round(ratio, 3), "target": TARGET,
             "meets": ratio >= TARGET},
            {"figure": "jobs: raw limit (SimpleWorker + 1 durable UPDATE per job) vs raw SimpleWorker",
             "value": round(durable_ratio, 3), "unit": "x", "baseline": "same run", "ratio": round(durable_ratio, 3),
             "target": None, "meets": None},
            {"figure": "jobs: ledgered no-op vs that raw limit", "value": round(to_durable, 3), "unit": "x",
             "baseline": f"raw limit {max(durable):.1f} jobs/s, same run", "ratio": round(to_durable, 3),
             "target": None, "meets": None},
        ],
    })
    print_summary("jobs", ratio, TARGET, [
        f"ledgered no-op (KeelWorker, job_runs row, lock, audit): {max(ledgered):.1f} jobs/s per process",
        f"raw RQ SimpleWorker no-op:                            {max(raw):.1f} jobs/s per process",
        f"raw limit (SimpleWorker + 1 durable UPDATE per job):  {max(durable):.1f} jobs/s = {durable_ratio:.3f}x raw; "
        f"ledgered reaches {to_durable:.3f}x of it",
        f"results: {path.relative_to(ROOT)}",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
