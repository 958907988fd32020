"""The per-vendor limiter shared by every worker (real Redis, several processes and threads)."""

from __future__ import annotations

import multiprocessing
import threading
import time

from redis import Redis

from shared.ratelimit import VendorLimit, VendorRateLimiter

LIMIT = VendorLimit("linear", per_minute=3000, burst=5)  # 50 requests/s, 20 ms apart after a burst of 5
GRANTS_KEY = "test:ratelimit:grants"


def _draw(redis_url: str, threads: int, per_thread: int) -> None:
    """One 'worker process': ``threads`` threads each take ``per_thread`` requests and log when."""
    connection = Redis.from_url(redis_url)
    limiter = VendorRateLimiter(connection, LIMIT)

    def run() -> None:
        for _ in range(per_thread):
            assert limiter.acquire(timeout=10)
            connection.rpush(GRANTS_KEY, repr(time.time()))

    pool = [threading.Thread(target=run) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    connection.close()


def test_processes_and_threads_share_one_budget(clean, redis_url) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_draw, args=(redis_url, 3, 8)) for _ in range(2)]
    for p in procs:
        p.start()
    _draw(redis_url, 2, 8)  # this process joins in too
    for p in procs:
        p.join(timeout=30)
        assert p.exitcode == 0
    grants = sorted(float(v) for v in clean.redis.lrange(GRANTS_KEY, 0, -1))
    assert len(grants) == 64
    interval = 60 / LIMIT.per_minute
    # The bucket's guarantee: any window of w seconds holds at most burst + w / interval grants.
    assert grants[-1] - grants[0] >= (len(grants) - LIMIT.burst - 1) * interval * 0.95
    window = 0.2
    for i, t in enumerate(grants):
        in_window = sum(1 for u in grants[: i + 1] if u > t - window)
        assert in_window <= LIMIT.burst + window / interval + 2, (i, in_window)


def test_acquire_gives_up_at_its_deadline(clean) -> None:
    limiter = VendorRateLimiter(clean.redis, VendorLimit("attio", per_minute=1, burst=1))
    assert limiter.acquire(timeout=0.05) is True
    started = time.monotonic()
    assert limiter.acquire(timeout=0.05) is False
    assert time.monotonic() - started < 1.0
    assert 50 < limiter.try_acquire() <= 60


def test_limits_come_from_the_environment() -> None:
    assert VendorLimit.from_env("chatwoot", {}) == VendorLimit("chatwoot", 2400, 40)
    env = {"LINEAR_RATE_LIMIT_PER_MINUTE": "30", "LINEAR_RATE_LIMIT_BURST": "x"}
    assert VendorLimit.from_env("linear", env) == VendorLimit("linear", 30, 10)
    # Every default stays under the documented limit over the vendor's own window.
    for vendor, (window_s, documented) in {"chatwoot": (60, 3000), "attio": (1, 100), "linear": (3600, 5000)}.items():
        limit = VendorLimit.from_env(vendor, {})
        assert limit.burst + window_s * limit.per_minute / 60 <= documented


def test_redis_down_fails_open() -> None:
    limiter = VendorRateLimiter(Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2), LIMIT)
    assert limiter.try_acquire() == 0.0 and limiter.acquire(timeout=0.1) is True


def test_threads_in_one_process_never_exceed_the_burst_at_once(clean) -> None:
    limiter = VendorRateLimiter(clean.redis, VendorLimit("chatwoot", per_minute=60, burst=3))
    results: list[float] = []
    lock = threading.Lock()

    def grab() -> None:
        wait = limiter.try_acquire()
        with lock:
            results.append(wait)

    pool = [threading.Thread(target=grab) for _ in range(10)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert sum(1 for w in results if w == 0) == 3
