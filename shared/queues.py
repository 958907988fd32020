"""The RQ queue registry: the twelve application queues, one serializer, counts per registry."""

from __future__ import annotations

from typing import Any

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import (
    DeferredJobRegistry,
    FailedJobRegistry,
    ScheduledJobRegistry,
    StartedJobRegistry,
)
from rq.serializers import JSONSerializer

from shared.catalog import QUEUES

SERIALIZER = JSONSerializer


class JsonJob(Job):
    """A job that (de)serialises with JSON unless told otherwise: for rq-scheduler, which builds and
    fetches jobs without passing a serializer."""

    def __init__(self, id: str | None = None, connection: Redis | None = None, serializer: Any = None) -> None:
        super().__init__(id, connection=connection, serializer=serializer or SERIALIZER)


def queue(name: str, connection: Redis) -> Queue:
    if name not in QUEUES:
        raise KeyError(f"unknown queue {name!r}")
    return Queue(name, connection=connection, serializer=SERIALIZER)


def failed_registry(name: str, connection: Redis) -> FailedJobRegistry:
    return FailedJobRegistry(name, connection=connection, serializer=SERIALIZER)


def queue_counts(connection: Redis, names: tuple[str, ...] = QUEUES) -> dict[str, dict[str, int]]:
    """Global counts per application queue; ``{}`` when Redis is unreachable (platform §6.4)."""
    try:
        pipe = connection.pipeline(transaction=False)
        for name in names:
            q = queue(name, connection)
            pipe.llen(q.key)
            for registry in (StartedJobRegistry, ScheduledJobRegistry, FailedJobRegistry, DeferredJobRegistry):
                pipe.zcard(registry(name, connection=connection).key)
        values = pipe.execute()
    except RedisError:
        return {}
    out: dict[str, dict[str, Any]] = {}
    for i, name in enumerate(names):
        queued, started, scheduled, failed, deferred = values[i * 5:(i + 1) * 5]
        out[name] = {"queued": queued, "started": started, "scheduled": scheduled, "failed": failed,
                     "deferred": deferred}
    return out
