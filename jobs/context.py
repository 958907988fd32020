"""What a running handler can reach besides its arguments: progress reporting.

``report_progress()`` writes ``progress`` into the RQ job meta (for rq-dashboard) and into
``job_runs.meta.progress`` (for ``/jobs/status``), at most once per second unless ``force``.
"""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from shared.db.models.platform import JobRun
from shared.runtime import current

log = logging.getLogger(__name__)
MIN_INTERVAL_S = 1.0


@dataclass
class RunContext:
    job_run_id: int
    job_type: str
    rq_job: Any = None
    last_report: float = field(default=0.0)


_run: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("job_run", default=None)


def enter(ctx: RunContext) -> contextvars.Token:
    return _run.set(ctx)


def leave(token: contextvars.Token) -> None:
    _run.reset(token)


def current_run() -> RunContext | None:
    return _run.get()


def report_progress(done: int, total: int | None = None, *, force: bool = False, **info: Any) -> None:
    ctx = _run.get()
    if ctx is None:
        return
    now = time.monotonic()
    if not force and now - ctx.last_report < MIN_INTERVAL_S:
        return
    ctx.last_report = now
    progress: dict[str, Any] = {"done": done, "total": total, **info}
    if total:
        progress["percent"] = round(min(100.0, done * 100.0 / total), 1)
    if ctx.rq_job is not None:
        try:
            ctx.rq_job.meta["progress"] = progress
            ctx.rq_job.save_meta()
        except Exception:  # noqa: BLE001 - progress is best effort
            log.warning("could not save progress to the RQ job meta")
    rt = current()
    with rt.transaction() as s:
        run = s.scalar(select(JobRun).where(JobRun.id == ctx.job_run_id).with_for_update())
        if run is not None:
            run.meta = {**(run.meta or {}), "progress": progress}
