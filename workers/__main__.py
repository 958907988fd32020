"""Start one worker process for a pool: ``python -m workers <pool|queue,queue> [--burst]``.

Scale a pool by running more of these processes (Procfile formation, more machines against the
same Redis and database). Resources are built here, in the process that runs the jobs.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import sys
import time

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared import logs
from shared.config import Settings, env_int
from shared.queues import SERIALIZER, queue
from shared.runtime import Runtime, install
from workers.pools import POOLS, queues_for
from workers.worker import KeelWorker

log = logging.getLogger("workers")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workers", description=__doc__)
    parser.add_argument("pool", help=f"pool name ({', '.join(POOLS)}) or comma-separated queue names")
    parser.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    parser.add_argument("--name", default=None, help="worker name (default: RQ's)")
    args = parser.parse_args(argv)
    names = queues_for(args.pool)
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    rt = install(Runtime(settings))
    rt.redis.ping()
    try:
        for attempt in itertools.count():
            # A Redis outage while a job finishes makes RQ's loop quit ("unhandled exception"); the process
            # waits for Redis and serves again instead of exiting (under honcho an exit stops the whole stack).
            worker = KeelWorker([queue(n, rt.redis) for n in names], connection=rt.redis, serializer=SERIALIZER,
                                name=f"{args.name}.{attempt}" if args.name and attempt else args.name,
                                execution_ttl_s=env_int(settings.environ, "WORKER_EXECUTION_TTL_SECONDS", 20, 2, 600),
                                shutdown_grace_s=env_int(settings.environ, "WORKER_SHUTDOWN_GRACE_SECONDS", 25, 0,
                                                         3600))
            log.info("worker starting", extra={"fields": {"pool": args.pool, "queues": list(names)}})
            try:
                worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level.upper())
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("worker loop ended on a Redis error", extra={"fields": {"error": type(exc).__name__}})
            if args.burst or worker._stop_requested or worker.shutdown_signalled:
                break  # a requested stop ends the process; only a Redis error starts a new worker
            time.sleep(1)  # never a tight restart loop
            _wait_for_redis(rt)
    finally:
        rt.close()
    return 0


def _wait_for_redis(rt: Runtime, max_wait_s: float = 30.0) -> None:
    wait_s = 1.0
    while True:
        try:
            rt.redis.ping()
            return
        except (RedisConnectionError, RedisTimeoutError):
            log.warning("redis unavailable; worker waits", extra={"fields": {"retry_in_s": wait_s}})
            time.sleep(wait_s)
            wait_s = min(wait_s * 2, max_wait_s)


if __name__ == "__main__":
    sys.exit(main())
