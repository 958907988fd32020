"""Redis-backed limiters: the login failure counter (platform §3.6)."""

from __future__ import annotations

import hashlib
import logging

from redis import Redis
from redis.exceptions import RedisError

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
