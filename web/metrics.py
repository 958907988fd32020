"""``/metrics`` (platform §11.1): exporter defaults, request counters and scrape-time gauges.

Job duration histograms (``app_job_duration_seconds{job_type, outcome}``) are recorded by the job
wrapper into Redis (``shared.jobmetrics``) and exposed here at scrape time, so runs on every worker
machine are counted, not only processes sharing this host's multiprocess directory.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from flask import Blueprint, Flask, Response, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily
from prometheus_flask_exporter import PrometheusMetrics
from sqlalchemy import func, select, text

from shared.catalog import QUEUES
from shared.db.models.platform import OPEN_ERROR_STATUSES, ConnectorError, ScheduledJob
from shared.errors import Unauthorized
from shared.jobmetrics import JobDurationHistogram
from shared.queues import queue_counts
from shared.timeutil import seconds_from_now
from web.api import route

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
SCRAPE_TIMEOUT_S = 2.0
_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="metrics")

REQUESTS = Counter("app_requests_total", "Requests seen")
RESPONSES = Counter("app_responses_total", "Responses sent")
STATUSES = Counter("app_response_status_total", "Responses per HTTP status", ["status"])
ERRORS = Counter("app_errors_total", "Responses with status >= 500")


class ScrapeCollector:
    """Gauges read at scrape time from Redis and the database; never fails the scrape."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def _redis(self) -> dict[str, Any]:
        from rq import Worker

        counts = queue_counts(self.runtime.redis)
        workers: dict[str, int] = dict.fromkeys(QUEUES, 0)
        durations: list[Any] = []
        if counts:
            for worker in Worker.all(connection=self.runtime.redis):
                for name in worker.queue_names():
                    if name in workers:
                        workers[name] += 1
            durations = list(JobDurationHistogram(self.runtime.redis).samples())
        return {"counts": counts, "workers": workers, "durations": durations}

    def _database(self) -> dict[str, Any]:
        with self.runtime.sessions() as s:
            s.execute(text("SELECT 1"))
            errors = s.execute(
                select(ConnectorError.connector, ConnectorError.status, func.count())
                .where(ConnectorError.status.in_(OPEN_ERROR_STATUSES))
                .group_by(ConnectorError.connector, ConnectorError.status)
            ).all()
            overdue = s.scalar(select(func.count()).select_from(ScheduledJob).where(
                ScheduledJob.status == "active", ScheduledJob.next_run_at < seconds_from_now(-300)))
        return {"errors": errors, "overdue": overdue or 0}

    def collect(self):  # noqa: ANN201 - prometheus collector protocol
        futures = {"redis": _pool.submit(self._redis), "database": _pool.submit(self._database)}
        results: dict[str, Any] = {}
        for name, fut in futures.items():
            try:
                results[name] = fut.result(timeout=SCRAPE_TIMEOUT_S)
            except Exception:  # noqa: BLE001 - reported as app_dependency_up 0
                results[name] = None
        up = GaugeMetricFamily("app_dependency_up", "Dependency reachable", labels=["dependency"])
        redis_data, db_data = results["redis"], results["database"]
        up.add_metric(["redis"], 1 if redis_data and redis_data["counts"] else 0)
        up.add_metric(["database"], 1 if db_data else 0)
        yield up
        jobs = GaugeMetricFamily("app_rq_queue_jobs", "RQ jobs per queue and registry", labels=["queue", "state"])
        workers = GaugeMetricFamily("app_rq_workers", "Live workers listening on the queue", labels=["queue"])
        if redis_data:
            for queue, states in redis_data["counts"].items():
                for state, value in states.items():
                    jobs.add_metric([queue, state], value)
            for queue, count in redis_data["workers"].items():
                workers.add_metric([queue], count)
        yield jobs
        yield workers
        durations = HistogramMetricFamily("app_job_duration_seconds", "Job execution time per job type and outcome",
                                          labels=["job_type", "outcome"])
        for sample in (redis_data or {}).get("durations", []):
            durations.add_metric([sample.job_type, sample.outcome], sample.buckets, sample.total)
        yield durations
        errors = GaugeMetricFamily("app_connector_errors_open", "Open connector errors, all projects",
                                   labels=["connector", "status"])
        overdue = GaugeMetricFamily("app_scheduled_jobs_overdue", "Active schedule rows overdue by > 300 s")
        if db_data:
            for connector, status, count in db_data["errors"]:
                errors.add_metric([connector, status], count)
            overdue.add_metric([], db_data["overdue"])
        yield errors
        yield overdue


def count_request() -> None:
    REQUESTS.inc()


def count_response(resp: Response) -> Response:
    RESPONSES.inc()
    STATUSES.labels(str(resp.status_code)).inc()
    if resp.status_code >= 500:
        ERRORS.inc()
    return resp


@route(bp, "/metrics", public=True, summary="Prometheus metrics (text exposition format)",
       responses={401: "METRICS_TOKEN set and bearer missing"})
def metrics() -> Response:
    from web.context import runtime

    token = runtime().settings.metrics_token
    if token and request.headers.get("Authorization", "") != f"Bearer {token}":
        raise Unauthorized(message="Metrics token required")
    exporter = _exporter()
    if runtime().settings.prometheus_multiproc_dir:
        body, _ = exporter.generate_metrics()  # merges every process's files, app_* counters included
    else:
        body = generate_latest(exporter.registry).decode() + generate_latest(REGISTRY).decode()
    scrape = CollectorRegistry(auto_describe=False)
    scrape.register(ScrapeCollector(runtime()))
    body += generate_latest(scrape).decode()
    return Response(body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


def _exporter() -> PrometheusMetrics:
    from flask import current_app

    return current_app.extensions["keel.metrics"]


def path(req) -> str:  # noqa: ANN001 - named ``path``: the exporter uses the function name as the label
    """The URL rule (``/jobs/runs/<run_id>``), so path parameters never explode label cardinality."""
    return req.url_rule.rule if req.url_rule is not None else "<unmatched>"


def init_app(app: Flask) -> None:
    multiproc = app.extensions["keel.runtime"].settings.prometheus_multiproc_dir
    # One registry per app outside gunicorn, so tests can build many apps in one process.
    registry = REGISTRY if multiproc else CollectorRegistry(auto_describe=True)
    exporter = PrometheusMetrics(app, path=None, group_by=path, defaults_prefix="flask", registry=registry)
    app.extensions["keel.metrics"] = exporter
    app.before_request(count_request)
    app.after_request(count_response)
