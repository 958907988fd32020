"""Redis locks, one small class per key family (platform §7.5 step 3, §8.3)."""

from __future__ import annotations

from uuid import UUID

from redis import Redis

_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end
return 0
"""
# Take the lock, or renew it when this token already holds it (a redelivery of the same RQ job).
_ACQUIRE = """
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('expire', KEYS[1], ARGV[2]) return 1 end
return 0
"""


class JobLock:
    """``lock:job:<project_id>:<job_type>``: one execution per (project, job type) at a time.

    The token is the RQ job id, so a redelivery of the same job after its worker died (RQ requeues
    abandoned jobs) takes the lock over instead of being skipped as ``already_running``.
    """

    key_template = "lock:job:{0}:{1}"

    def __init__(self, project_id: UUID | str, job_type: str, connection: Redis) -> None:
        self.connection = connection
        self.key = self.key_template.format(project_id, job_type)

    def acquire(self, token: str, ttl_s: int) -> bool:
        return bool(self.connection.eval(_ACQUIRE, 1, self.key, token, ttl_s))

    def release(self, token: str) -> None:
        self.connection.eval(_RELEASE, 1, self.key, token)


class TickLock:
    key = "lock:scheduler_tick_all"

    def __init__(self, connection: Redis) -> None:
        self.connection = connection

    def acquire(self, token: str, ttl_s: int = 55) -> bool:
        return bool(self.connection.set(self.key, token, nx=True, ex=ttl_s))

    def release(self, token: str) -> None:
        self.connection.eval(_RELEASE, 1, self.key, token)
