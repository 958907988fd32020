"""Job duration histograms per job type, kept in Redis (``app_job_duration_seconds``, platform §11.1).

Why Redis and not a prometheus_client Histogram: workers run on other machines than the web process
that serves ``/metrics``, and prometheus multiprocess files only merge processes of one machine. The
job wrapper records each execution (``observe``: one pipelined ``HINCRBY``/``HINCRBYFLOAT`` round trip,
best effort) into one hash per (job type, outcome); ``/metrics`` reads them at scrape time and exposes
a cumulative Prometheus histogram. Counters only grow; losing Redis resets them, which Prometheus
treats as a counter reset.
"""

from __future__ import annotations

import logging
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass

from redis import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0)
OUTCOMES = ("ok", "skipped", "failed", "retry_scheduled")


@dataclass(frozen=True)
class HistogramSample:
    job_type: str
    outcome: str
    buckets: list[tuple[str, int]]  # cumulative (le, count), ending with ("+Inf", count)
    total: float
    count: int


class JobDurationHistogram:
    key_template = "metrics:job_duration:{0}:{1}"
    index_key = "metrics:job_duration:index"

    def __init__(self, connection: Redis) -> None:
        self.connection = connection

    def observe(self, job_type: str, outcome: str, seconds: float) -> None:
        seconds = max(0.0, float(seconds))
        index = bisect_left(BUCKETS, seconds)
        field = repr(BUCKETS[index]) if index < len(BUCKETS) else "+Inf"
        key = self.key_template.format(job_type, outcome)
        try:
            pipe = self.connection.pipeline(transaction=False)
            pipe.hincrby(key, field, 1)
            pipe.hincrby(key, "count", 1)
            pipe.hincrbyfloat(key, "sum", seconds)
            pipe.sadd(self.index_key, f"{job_type}|{outcome}")
            pipe.execute()
        except RedisError:
            log.debug("job duration not recorded (redis unavailable)")

    def samples(self) -> Iterator[HistogramSample]:
        members = sorted(m.decode() if isinstance(m, bytes) else m for m in self.connection.smembers(self.index_key))
        if not members:
            return
        pipe = self.connection.pipeline(transaction=False)
        for member in members:
            pipe.hgetall(self.key_template.format(*member.split("|", 1)))
        for member, raw in zip(members, pipe.execute(), strict=True):
            job_type, outcome = member.split("|", 1)
            data = {k.decode(): v.decode() for k, v in raw.items()}
            running, buckets = 0, []
            for bound in BUCKETS:
                running += int(data.get(repr(bound), 0))
                buckets.append((repr(bound), running))
            count = int(data.get("count", 0))
            buckets.append(("+Inf", count))
            yield HistogramSample(job_type, outcome, buckets, float(data.get("sum", 0.0)), count)
