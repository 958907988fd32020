"""The worker class every pool runs: RQ's ``SimpleWorker`` plus a heartbeat thread and a hand-back.

Why ``SimpleWorker``: a forking worker pays a ``fork()`` and a fresh import of the job's modules
(SQLAlchemy engine, embedding model) for every job, about 5× the cost of a no-op job here; our jobs
are plain functions that open their own sessions, so running them in the worker process is safe.

What the fork gave us comes back here:

- **A dead job is noticed quickly.** The heartbeat thread renews the job's ``StartedJobRegistry`` entry
  every ``heartbeat_s`` with a short TTL (``execution_ttl_s``, ``WORKER_EXECUTION_TTL_SECONDS``, default
  20 s), so a worker killed with SIGKILL (OOM, a PaaS deploy) leaves an entry that expires within that
  TTL. ``jobs.recovery.recover_abandoned`` — run by every worker's maintenance (``clean_registries``) and
  by housekeeping — then marks the ledger row and lets RQ retry the same job (or fail it into the DLQ).
- **Warm shutdown.** SIGTERM lets the current job finish, then the worker exits (RQ's warm shutdown).
  If the job is still running ``shutdown_grace_s`` later (``WORKER_SHUTDOWN_GRACE_SECONDS``, default
  25 s, under the usual 30 s before a PaaS sends SIGKILL), or on a second SIGTERM/SIGINT, ``HandBack`` is
  raised inside the job: the runner puts the row back to ``queued`` and the worker requeues the same RQ
  job at the front of its queue without spending a retry, then exits.
"""

from __future__ import annotations

import os
import signal
import threading
from datetime import timedelta
from types import FrameType
from typing import Any

from rq.defaults import DEFAULT_LOGGING_DATE_FORMAT, DEFAULT_LOGGING_FORMAT
from rq.job import Job, JobStatus
from rq.scheduler import RQScheduler
from rq.utils import now
from rq.worker import SimpleWorker, WorkerStatus

from jobs.runner import HandBack

_performing = threading.Event()  # set while a job's own code runs (one job at a time per process)


class KeelJob(Job):
    """Marks the span in which ``HandBack`` may be raised: only the job's code, never RQ's bookkeeping."""

    def perform(self) -> Any:
        _performing.set()
        try:
            return super().perform()
        finally:
            _performing.clear()


class KeelScheduler(RQScheduler):
    """RQ's per-worker scheduler process, which also stops when its worker is gone (SIGKILL leaves it
    orphaned otherwise, holding the scheduler locks for ever)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.worker_pid = os.getpid()

    def heartbeat(self) -> None:
        if os.getppid() != self.worker_pid:
            self.log.warning("Scheduler: worker %s is gone; stopping", self.worker_pid)
            self._stop_requested = True
        super().heartbeat()


class KeelWorker(SimpleWorker):
    job_class = KeelJob
    execution_ttl_s = 20
    shutdown_grace_s = 25.0

    def __init__(self, *args: Any, execution_ttl_s: int | None = None, shutdown_grace_s: float | None = None,
                 **kwargs: Any) -> None:
        kwargs.setdefault("maintenance_interval", 30)
        kwargs.setdefault("job_class", KeelJob)
        super().__init__(*args, **kwargs)
        if execution_ttl_s is not None:
            self.execution_ttl_s = max(2, int(execution_ttl_s))
        if shutdown_grace_s is not None:
            self.shutdown_grace_s = max(0.0, float(shutdown_grace_s))
        self._grace_timer: threading.Timer | None = None
        self._force_hand_back = False
        self.shutdown_signalled = False

    @property
    def heartbeat_s(self) -> float:
        return max(0.5, self.execution_ttl_s / 4)

    # --- heartbeats -------------------------------------------------------------------------------------
    @property
    def dequeue_timeout(self) -> int:
        """Wake from the blocking pop at least every maintenance interval: RQ's own default (worker TTL - 15,
        about 405 s) would run the registry cleanup that recovers a killed worker's job only every ~7 minutes
        on an idle worker."""
        return max(1, min(super().dequeue_timeout, int(self.maintenance_interval)))

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
        self.set_state(WorkerStatus.IDLE)

    def _start_scheduler(self, burst: bool = False, logging_level: Any = "INFO", date_format: Any = None,
                         log_format: Any = None) -> None:
        """RQ's ``_start_scheduler`` with ``KeelScheduler``."""
        self.scheduler = KeelScheduler(
            self.queues, connection=self.connection,
            logging_level=logging_level if logging_level is not None else self.log.level,
            date_format=date_format or DEFAULT_LOGGING_DATE_FORMAT, log_format=log_format or DEFAULT_LOGGING_FORMAT,
            serializer=self.serializer,
        )
        self.scheduler.acquire_locks()
        if not self.scheduler.acquired_locks:
            return
        if burst:
            try:
                self.scheduler.register_birth()
                self.scheduler.enqueue_scheduled_jobs()
            finally:
                self.scheduler.release_locks()
                self.scheduler.register_death()
        else:
            self.scheduler.start()

    # --- maintenance: recover executions abandoned by dead workers ------------------------------------------
    def clean_registries(self) -> None:
        from jobs.recovery import recover_abandoned
        from shared.runtime import current

        try:
            recover_abandoned(current(), [q.name for q in self.queues])
        except Exception:  # noqa: BLE001 - housekeeping and the next maintenance run try again
            self.log.exception("abandoned-job recovery failed")
        super().clean_registries()

    # --- shutdown -------------------------------------------------------------------------------------------
    def handle_warm_shutdown_request(self) -> None:
        """SIGTERM/SIGINT. An idle worker stops at once (RQ raises ``StopRequested``, leaving ``_stop_requested``
        unset), so ``shutdown_signalled`` is what tells the pool process not to start a new worker."""
        self.shutdown_signalled = True
        super().handle_warm_shutdown_request()
        if _performing.is_set() and self.shutdown_grace_s > 0:
            self._grace_timer = threading.Timer(self.shutdown_grace_s, self._grace_expired)
            self._grace_timer.daemon = True
            self._grace_timer.start()

    def _grace_expired(self) -> None:
        if _performing.is_set():
            self.log.warning("Worker %s: shutdown grace of %ss over; handing the job back", self.name,
                             self.shutdown_grace_s)
            self._force_hand_back = True
            signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)  # → request_force_stop

    def request_force_stop(self, signum: int, frame: FrameType | None) -> None:
        """A second SIGTERM/SIGINT (or the grace timer): hand the running job back, else RQ's cold stop."""
        duplicate = self._shutdown_requested_date is not None and \
            (now() - self._shutdown_requested_date) < timedelta(seconds=1)
        if duplicate and not self._force_hand_back:
            return  # RQ's rule: a second signal within 1 s is the same request delivered twice
        if _performing.is_set():
            raise HandBack()
        super().request_force_stop(signum, frame)

    def _finalize_failure(self, job: Job, queue: Any, execution: Any, exc_info: Any) -> None:
        if exc_info[0] is not None and issubclass(exc_info[0], HandBack):
            self.hand_back(job, queue, execution)
            return
        super()._finalize_failure(job, queue, execution, exc_info)

    def hand_back(self, job: Job, queue: Any, execution: Any) -> None:
        """Requeue the interrupted job at the front of its queue; no retry is spent, nothing is failed."""
        self.log.warning("Worker %s: job %s handed back to %s", self.name, job.id, queue.name)
        with self.connection.pipeline() as pipeline:
            self.cleanup_execution(job, pipeline=pipeline, execution=execution)
            job.set_status(JobStatus.QUEUED, pipeline=pipeline)
            queue._enqueue_job(job, pipeline=pipeline, at_front=True)
            pipeline.execute()
        self._stop_requested = True

    def teardown(self) -> None:
        if self._grace_timer is not None:
            self._grace_timer.cancel()
        super().teardown()
