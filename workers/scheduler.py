"""The ``scheduler`` process (platform §8.3): registers the one global tick, then runs rq-scheduler."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
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
REDIS_RETRY_MAX_S = 30.0


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


class KeelScheduler(Scheduler):
    """rq-scheduler that keeps the global tick registered: a Redis restarted empty loses every entry without
    any error reaching the loop (it may well be asleep during the outage), so each poll checks for it."""

    def __init__(self, *args: Any, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings

    def enqueue_jobs(self) -> list[Any]:
        if self.settings.scheduler_enabled and ENTRY_ID not in self:
            log.warning("global tick missing from the schedule (Redis lost its data); registering it again")
            register_tick(self, self.settings)
        return super().enqueue_jobs()


def main() -> int:
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    rt = install(Runtime(settings))
    wait_s = 1.0
    while True:
        # rq-scheduler's loop raises on the first Redis error; a Redis restart must not end the process (under
        # honcho that stops the whole stack). Reconnect with backoff, then register the tick again: a Redis
        # restarted empty has lost the entry (register_tick is idempotent).
        try:
            scheduler = KeelScheduler(queue_name="platform", connection=rt.redis,
                                      interval=settings.scheduler_poll_seconds, job_class=JsonJob, settings=settings)
            register_tick(scheduler, settings)
            log.info("scheduler running", extra={"fields": {"interval_s": settings.worker_interval_seconds}})
            wait_s = 1.0
            scheduler.run()
            return 0
        except (RedisConnectionError, RedisTimeoutError) as exc:
            log.warning("redis unavailable; scheduler reconnects", extra={"fields": {
                "error": type(exc).__name__, "retry_in_s": wait_s}})
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, REDIS_RETRY_MAX_S)


if __name__ == "__main__":
    sys.exit(main())
