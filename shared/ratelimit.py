"""Redis-backed limiters: the login failure counter (platform §3.6) and the per-vendor request limiter.

``VendorRateLimiter`` is one GCRA (generic cell rate algorithm, a token bucket kept as one timestamp)
per vendor in Redis, evaluated by a Lua script against Redis's own clock, so every worker process on
every machine draws from the same budget and scaling a pool can never exceed the vendor's limit.
Limits come from ``<VENDOR>_RATE_LIMIT_PER_MINUTE`` and ``<VENDOR>_RATE_LIMIT_BURST``; the defaults
are 80 % of each vendor's documented limit (headroom for other clients of the same key or IP):

| vendor   | documented limit                                              | default per minute | burst |
|----------|---------------------------------------------------------------|--------------------|-------|
| chatwoot | Rack::Attack ``RACK_ATTACK_LIMIT`` 3000 requests/min per IP    | 2400               | 40    |
| attio    | 100 read requests/s (25 writes/s) per token                   | 4800               | 20    |
| linear   | 5000 requests/hour per API key (leaky bucket)                 | 66                 | 10    |

In any window of ``w`` seconds at most ``burst + w × per_minute / 60`` requests are granted, so each default
stays under its documented limit over the vendor's own window (Attio: 20 + 80 = 100 per second).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

from shared.config import env_int

log = logging.getLogger(__name__)


class LoginRateLimiter:
    """Fixed window from the first failure; fails open when Redis is unavailable."""

    key_template = "auth:login_fail:{0}"

    def __init__(self, connection: Redis, max_attempts: int, window_seconds: int) -> None:
        self.connection, self.max_attempts, self.window_seconds = connection, max_attempts, window_seconds

    def key(self, client_ip: str, username: str | None) -> str:
        raw = f"{client_ip}:{username or '-'}"
        return self.key_template.format(hashlib.sha1(raw.encode()).hexdigest())

    def retry_after(self, key: str) -> int | None:
        """Seconds left in the window when the limit is reached, else None."""
        try:
            pipe = self.connection.pipeline()
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = pipe.execute()
        except RedisError:
            log.warning("login rate limiter unavailable; failing open")
            return None
        if count is not None and int(count) >= self.max_attempts:
            return max(1, int(ttl)) if ttl and ttl > 0 else self.window_seconds
        return None

    def record_failure(self, key: str) -> None:
        try:
            if self.connection.incr(key) == 1:
                self.connection.expire(key, self.window_seconds)
        except RedisError:
            log.warning("login rate limiter unavailable; failure not counted")

    def clear(self, key: str) -> None:
        try:
            self.connection.delete(key)
        except RedisError:
            log.warning("login rate limiter unavailable; counter not cleared")


# --- per-vendor request limiter --------------------------------------------------------------------
VENDOR_DEFAULTS: dict[str, tuple[int, int]] = {  # vendor -> (per minute, burst); see the module docstring
    "chatwoot": (2400, 40),
    "attio": (4800, 20),
    "linear": (66, 10),
}

# KEYS[1] = bucket key; ARGV[1] = emission interval (µs per request), ARGV[2] = burst.
# Returns 0 when a request is granted, else the microseconds to wait before the next one can be.
_GCRA = """
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local new_tat = tat + interval
local allow_at = new_tat - burst * interval
if allow_at > now then return math.ceil(allow_at - now) end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
return 0
"""


@dataclass(frozen=True)
class VendorLimit:
    vendor: str
    per_minute: int
    burst: int

    @property
    def interval_us(self) -> int:
        return max(1, round(60_000_000 / self.per_minute))

    @classmethod
    def from_env(cls, vendor: str, environ: Mapping[str, str]) -> VendorLimit:
        per_minute, burst = VENDOR_DEFAULTS.get(vendor, (60, 1))
        prefix = vendor.upper()
        return cls(vendor, env_int(environ, f"{prefix}_RATE_LIMIT_PER_MINUTE", per_minute, 1, 1_000_000),
                   env_int(environ, f"{prefix}_RATE_LIMIT_BURST", burst, 1, 100_000))


class VendorRateLimiter:
    """One shared request budget per vendor (``ratelimit:vendor:<vendor>``).

    ``acquire(timeout)`` blocks until a request may be sent or the deadline passes (→ False); the
    caller treats False as a transient failure. Redis unavailable → fails open with a warning (the
    worker cannot run jobs without Redis anyway, and the vendor's own 429 + the retry policy remain).
    """

    key_template = "ratelimit:vendor:{0}"

    def __init__(self, connection: Redis, limit: VendorLimit, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.connection, self.limit, self.clock, self.sleep = connection, limit, clock, sleep
        self.key = self.key_template.format(limit.vendor)
        self._script = connection.register_script(_GCRA)

    @classmethod
    def for_vendor(cls, vendor: str, connection: Redis, environ: Mapping[str, str]) -> VendorRateLimiter:
        return cls(connection, VendorLimit.from_env(vendor, environ))

    def try_acquire(self) -> float:
        """0.0 when a request is granted now, else the seconds until one can be."""
        try:
            wait_us = int(self._script(keys=[self.key], args=[self.limit.interval_us, self.limit.burst]))
        except RedisError:
            log.warning("vendor rate limiter unavailable; failing open",
                        extra={"fields": {"vendor": self.limit.vendor}})
            return 0.0
        return wait_us / 1_000_000

    def acquire(self, timeout: float | None = 30.0) -> bool:
        """Wait for a request slot; False when it cannot be had within ``timeout`` seconds."""
        deadline = None if timeout is None else self.clock() + timeout
        while True:
            wait = self.try_acquire()
            if wait <= 0:
                return True
            if deadline is not None:
                remaining = deadline - self.clock()
                if remaining <= 0 or wait > remaining:
                    return False
            self.sleep(min(wait, 1.0) if math.isfinite(wait) else 1.0)

    def reset(self) -> None:
        self.connection.delete(self.key)
