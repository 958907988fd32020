"""The ``scheduler`` process (platform §8.3): registers the one global tick, then runs rq-scheduler."""

from __future__ import annotations

import logging
import sys

from rq_scheduler import Scheduler

from shared import logs
from shared.config import Settings
from shared.queues import JsonJob
from shared.runtime import Runtime, install
from shared.timeutil import utcnow

log = logging.getLogger("workers.scheduler")
# The spec names the entry ``platform:scheduler_tick_all``; RQ 3 accepts only letters, digits, ``_`` and
# ``-`` in job ids, so the colon becomes a dash.
ENTRY_ID = "platform-scheduler_tick_all"


def register_tick(scheduler: Scheduler, settings: Settings) -> bool:
    """Idempotent: cancel any entry with our id, then schedule it again (unless disabled)."""
    if ENTRY_ID in scheduler:
        scheduler.cancel(ENTRY_ID)
    if not settings.scheduler_enabled:
        log.info("scheduler disabled; global tick not registered")
        return False
    scheduler.schedule(
        scheduled_time=utcnow().replace(tzinfo=None), func="jobs.platform.scheduler_tick_all",
        interval=settings.worker_interval_seconds, repeat=None, id=ENTRY_ID, queue_name="platform",
        timeout=settings.platform_job_timeout_seconds, result_ttl=600,
    )
    return True


def main() -> int:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    rt = install(Runtime(settings))
    scheduler = Scheduler(queue_name="platform", connection=rt.redis, interval=settings.scheduler_poll_seconds,
                          job_class=JsonJob)
    register_tick(scheduler, settings)
    log.info("scheduler running", extra={"fields": {"interval_s": settings.worker_interval_seconds}})
    scheduler.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
