"""Helpers for the job-system tests: credentials, test routines, RQ's scheduled retries, worker processes."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from sqlalchemy import select

from shared.db.models.platform import ConnectorError, JobRun
from shared.queues import SERIALIZER, queue
from shared.runtime import Runtime, install
from shared.scope import Scope
from tests.workerproc import PREFIX

ROOT = Path(__file__).resolve().parents[2]
CREDENTIALS = {"CHATWOOT_BASE_URL": "http://chatwoot.invalid", "CHATWOOT_API_TOKEN": "token",
               "ATTIO_API_TOKEN": "token", "LINEAR_API_TOKEN": "token"}


def with_credentials(monkeypatch: pytest.MonkeyPatch, rt: Runtime, **extra: str) -> Runtime:
    """Point the runtime's settings at an environment where every connector has credentials."""
    env = MappingProxyType({**rt.settings.environ, **CREDENTIALS, **extra})
    monkeypatch.setattr(rt, "settings", replace(rt.settings, environ=env))
    install(rt)
    return rt


def make_project(rt: Runtime, name: str = "Project", scope_key: str | None = None) -> Scope:
    from shared.db.service.projects import create_project, resolve_account_scope, scope_of

    with rt.transaction() as s:
        account = resolve_account_scope(session=s, scope_key=scope_key, scope_name=scope_key)
        return scope_of(create_project(session=s, name=name, account_scope=account))


def use_routine(monkeypatch: pytest.MonkeyPatch, connector: str, name: str) -> None:
    from jobs.connectors import sync

    monkeypatch.setitem(sync.ROUTINES, connector, f"tests.workerproc:{name}_routine")


def counter(rt: Runtime, name: str) -> int:
    return int(rt.redis.get(PREFIX + name) or 0)


def promote_scheduled(rt: Runtime, *names: str) -> int:
    """Make RQ's scheduled retries due now and let RQ's own scheduler move them to their queues."""
    moved = 0
    for name in names:
        registry = ScheduledJobRegistry(name, connection=rt.redis, serializer=SERIALIZER)
        for job_id in registry.get_job_ids():
            registry.schedule(Job.fetch(job_id, connection=rt.redis, serializer=SERIALIZER), datetime.now(UTC))
            moved += 1
    scheduler = RQScheduler([queue(n, rt.redis) for n in names], connection=rt.redis, serializer=SERIALIZER)
    scheduler.acquire_locks()
    try:
        scheduler.enqueue_scheduled_jobs()
    finally:
        scheduler.release_locks()
    return moved


def run_row(rt: Runtime, run_id: int) -> JobRun:
    with rt.session() as s:
        row = s.get(JobRun, run_id)
        s.expunge(row)
        return row


def error_rows(rt: Runtime) -> list[ConnectorError]:
    with rt.session() as s:
        rows = list(s.scalars(select(ConnectorError).order_by(ConnectorError.id)))
        s.expunge_all()
        return rows


class WorkerProcess:
    """A real pool process (``python -m tests.workerproc``) in its own process group."""

    def __init__(self, env: dict[str, str], pool: str, log_dir: Path, *, routines: str = "", **extra: str) -> None:
        self.log_path = log_dir / f"worker-{os.urandom(3).hex()}.log"
        full_env = {**os.environ, **env, **CREDENTIALS, "KEEL_TEST_ROUTINES": routines,
                    "PYTHONPATH": str(ROOT), **extra}
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.workerproc", pool], cwd=ROOT, env=full_env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def exited(self) -> int | None:
        return self.proc.poll()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # the worker and its scheduler child
        self.proc.wait(timeout=10)


def rq_job(rt: Runtime, rq_job_id: str) -> Any:
    return Job.fetch(rq_job_id, connection=rt.redis, serializer=SERIALIZER)
