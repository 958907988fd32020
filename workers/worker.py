"""The worker class every pool runs: RQ's ``SimpleWorker`` plus a heartbeat thread.

Why ``SimpleWorker``: a forking worker pays a ``fork()`` and a fresh import of the job's modules
(SQLAlchemy engine, embedding model) for every job, about 5× the cost of a no-op job here; our jobs
are plain functions that open their own sessions, so running them in the worker process is safe.
What the fork gave us — a dead job noticed quickly — comes back through ``KeelWorker``'s heartbeat
thread: the job's entry in RQ's StartedJobRegistry is renewed every ``heartbeat_s`` with a short TTL,
so a worker killed with SIGKILL (OOM, a PaaS deploy) leaves an entry that expires within
``execution_ttl_s``; RQ's registry cleanup (run by every worker's maintenance and by housekeeping) then
retries the job when it has retries left or fails it, and the stale reaper settles the ledger row.
SIGTERM is RQ's warm shutdown: the current job finishes, then the worker exits.
"""

from __future__ import annotations

import threading
from typing import Any

from rq.worker import SimpleWorker


class KeelWorker(SimpleWorker):
    heartbeat_s = 5
    execution_ttl_s = 20

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", 30)
        super().__init__(*args, **kwargs)

    def get_heartbeat_ttl(self, job: Any, working_time: float = 0.0) -> int:
        return self.execution_ttl_s

    def execute_job(self, job: Any, queue: Any) -> None:
        execution = self.prepare_execution(job)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.heartbeat_s):
                try:
                    self.maintain_heartbeats(job, execution)
                except Exception:  # noqa: BLE001 - a missed beat is retried; the TTL covers a few
                    self.log.warning("heartbeat failed for job %s", job.id)

        thread = threading.Thread(target=beat, name=f"heartbeat-{job.id}", daemon=True)
        thread.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            stop.set()
            thread.join(timeout=self.heartbeat_s + 1)
        from rq.worker import WorkerStatus

        self.set_state(WorkerStatus.IDLE)
