"""Wiring shared by the KAG job handlers: the process-event decorator of kag.md §5.2.

``@kag_stage(job_type)`` turns ``fn(run: StageRun) -> dict`` into a platform handler
``(scope, params, log) -> dict`` (platform §7.5) that, inside the job wrapper, writes
``process_started`` before the stage, ``process_warning`` for every warning the stage reported
(``run.warn``), and ``process_finished`` (duration, scalar counters, skip reason) or
``process_failed`` (duration, error type and message) after it, each in its own transaction, so a
failed stage leaves its events behind. Flag-gated and lock skips never reach the handler (the
wrapper answers them), so they produce no process event (§5.2).

``clock()`` is the one ``now`` of a run (kag.md §1): every handler calls it once, at start.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import wraps
from typing import Any

from sqlalchemy import select

from jobs import context
from jobs.kag.events_log import KagWarning, ProcessContext, ProcessEventRecorder
from jobs.kag.settings import KagSettings
from shared import catalog
from shared.db.models.platform import JobRun
from shared.db.service import kag_v2 as svc
from shared.errors import JobSkipped
from shared.retry import retry_db
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
Handler = Callable[[Scope, dict[str, Any], logging.Logger], dict[str, Any]]


def clock() -> datetime:
    """The run's `now` (tests replace it to replay the spec's worked examples)."""
    return utcnow()


@dataclass
class StageRun:
    """What a stage body gets: scope, params, the run's `now`, KAG settings and a warning sink."""

    rt: Runtime
    scope: Scope
    params: dict[str, Any]
    log: logging.Logger
    now: datetime
    settings: KagSettings
    warnings: list[KagWarning] = field(default_factory=list)

    def warn(self, warning: KagWarning | None) -> None:
        if warning is not None:
            self.warnings.append(warning)


def kag_settings(rt: Runtime) -> KagSettings:
    """KAG settings from the environment, with the flags exactly as the platform wrapper reads them."""
    base = KagSettings.from_env(rt.settings.environ)
    flags = rt.settings.flags
    return replace(
        base,
        kag_enabled=flags.get("KAG_ENABLED", base.kag_enabled),
        recommendations_enabled=flags.get("RECOMMENDATIONS_ENABLED", base.recommendations_enabled),
        snapshots_enabled=flags.get("KAG_SNAPSHOTS_ENABLED", base.snapshots_enabled),
        forecasting_enabled=flags.get("KAG_FORECASTING_ENABLED", base.forecasting_enabled),
        recommendations_v2_enabled=flags.get("KAG_RECOMMENDATIONS_V2_ENABLED", base.recommendations_v2_enabled),
    )


def counters(result: dict[str, Any]) -> dict[str, Any]:
    """The scalar counters of a stage result (lists, objects and the follow-up left out)."""
    return {k: v for k, v in result.items()
            if k != "follow_up" and (v is None or isinstance(v, bool | int | float | str))}


def _process_context(rt: Runtime, job_type: str, params: dict[str, Any]) -> ProcessContext:
    run_ctx = context.current_run()
    queue = catalog.get(job_type).queue
    if run_ctx is None:  # called outside the job wrapper (benchmarks, scripts): a synthetic run id
        return ProcessContext(job_run_id=f"direct:{uuid.uuid4()}", job_type=job_type, queue=queue, trigger="direct")
    with rt.session() as s:
        row = s.execute(select(JobRun.attempt, JobRun.trigger, JobRun.queue, JobRun.rq_job_id)
                        .where(JobRun.id == run_ctx.job_run_id)).one_or_none()
    attempt, trigger, queue, rq_job_id = row if row is not None else (1, "manual", queue, None)
    return ProcessContext(job_run_id=run_ctx.job_run_id, job_type=job_type, queue=queue, trigger=trigger,
                          attempt=int(attempt or 1), rq_job_id=rq_job_id,
                          parent_job_run_id=params.get("parent_job_run_id"))


def _write(rt: Runtime, scope: Scope, rows: list[Any]) -> None:
    def insert() -> None:
        with rt.transaction() as s:
            svc.insert_event_log_rows(session=s, scope=scope, rows=[r.to_row() for r in rows])

    try:
        retry_db(insert, operation="kag.process_events")
    except Exception:  # noqa: BLE001 - monitoring rows never fail (or mask the failure of) a stage
        log.warning("could not write KAG process events", exc_info=True)


def kag_stage(job_type: str) -> Callable[[Callable[[StageRun], dict[str, Any]]], Handler]:
    def decorate(fn: Callable[[StageRun], dict[str, Any]]) -> Handler:
        @wraps(fn)
        def handler(scope: Scope, params: dict[str, Any], logger: logging.Logger) -> dict[str, Any]:
            rt = current()
            now = clock()
            recorder = ProcessEventRecorder(_process_context(rt, job_type, params))
            _write(rt, scope, [recorder.started(now)])
            run = StageRun(rt=rt, scope=scope, params=dict(params), log=logger, now=now, settings=kag_settings(rt))
            started = time.monotonic()

            def elapsed_ms() -> int:
                return int((time.monotonic() - started) * 1000)

            try:
                result = fn(run)
            except JobSkipped as skip:
                rows = recorder.warnings(now, run.warnings)
                rows.append(recorder.finished(clock(), duration_ms=elapsed_ms(), counters=dict(skip.details),
                                              skipped=skip.reason))
                _write(rt, scope, rows)
                raise
            except Exception as exc:
                rows = recorder.warnings(now, run.warnings)
                rows.append(recorder.failed(clock(), duration_ms=elapsed_ms(), error=exc))
                _write(rt, scope, rows)
                raise
            rows = recorder.warnings(now, run.warnings)
            rows.append(recorder.finished(clock(), duration_ms=elapsed_ms(), counters=counters(result),
                                          skipped=result.get("skipped")))
            _write(rt, scope, rows)
            return result

        return handler

    return decorate
