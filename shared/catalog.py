"""The job catalog (platform §7.2, §8.1): the one table of job types, queues and default cadences."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

QUEUES = (
    "chatwoot", "attio", "linear", "embeddings", "kag_signals", "kag_snapshots", "kag_similarity",
    "kag_forecast", "kag_recommendations", "intelligence", "outbound", "platform",
)
CONNECTOR_QUEUES = ("chatwoot", "attio", "linear")


@dataclass(frozen=True)
class JobType:
    name: str
    queue: str
    cadence_seconds: int | None = None
    processed_keys: tuple[str, ...] = ("processed", "touched")
    default_params: dict[str, Any] = field(default_factory=dict)
    idempotent: bool = True

    def processed_count(self, result: dict[str, Any] | None) -> int:
        if not result:
            return 0
        for key in self.processed_keys:
            parts = key.split("+")
            if all(isinstance(result.get(p), int | float) for p in parts):
                return int(sum(result[p] for p in parts))
        return 0


_JOBS = (
    JobType("chatwoot_sync", "chatwoot", 900, ("processed_messages",)),
    JobType("attio_sync", "attio", 1800, ("touched_accounts+touched_opportunities",)),
    JobType("linear_sync", "linear", 1800, ("touched_projects+touched_issues",)),
    JobType("embeddings_run", "embeddings", 1200),
    JobType("vector_gc", "embeddings", 86400, ("deleted",)),
    JobType("scheduler_tick", "platform", None, ("enqueued",)),
    JobType("signals_extraction", "intelligence", 900),
    JobType("health_scoring", "intelligence", 1800),
    JobType("upsell_radar", "intelligence", 1800),
    JobType("analytics_aggregates", "intelligence", 1800, default_params={"period_days": 30}),
    JobType("daily_digest", "intelligence", 86400),
    JobType("weekly_digest", "intelligence", 604800),
    JobType("continuity_preview", "intelligence"),
    JobType("identity_suggestions", "intelligence"),
    JobType("campaign_scheduler", "outbound", 300, default_params={"limit": 50, "actor": "scheduler"}),
    JobType("loops_contacts_sync", "outbound", 3600, default_params={"limit": 300, "actor": "scheduler"}),
    JobType("kag_event_log_sync", "kag_signals", None, ("inserted",)),
    JobType("kag_recommendations_refresh", "kag_signals", 900),
    JobType("project_snapshot_daily", "kag_snapshots", 86400),
    JobType("case_signatures_refresh", "kag_similarity", 21600),
    JobType("kag_v2_forecast_refresh", "kag_forecast", 1800),
    JobType("kag_v2_recommendations_refresh", "kag_recommendations", 1800),
)
JOB_TYPES: dict[str, JobType] = {j.name: j for j in _JOBS}
SCHEDULED_DEFAULTS: dict[str, JobType] = {j.name: j for j in _JOBS if j.cadence_seconds}
GLOBAL_JOBS = ("scheduler_tick_all", "connector_errors_retry", "housekeeping")


def get(job_type: str) -> JobType:
    return JOB_TYPES[job_type]


def sync_job_type(connector: str) -> str:
    return f"{connector}_sync"


def scheduled_params(job_type: str, project_id: str, payload: dict[str, Any] | None, today: date) -> dict[str, Any]:
    """Params of a scheduled run: catalog defaults, date-dependent defaults, then the row's payload."""
    params = dict(JOB_TYPES[job_type].default_params)
    if job_type == "daily_digest":
        params["digest_date"] = today.isoformat()
    elif job_type == "weekly_digest":
        params["week_start"] = (today - timedelta(days=today.weekday())).isoformat()
    elif job_type == "loops_contacts_sync":
        params["project_ids"] = [project_id]
    params.update(payload or {})
    return params


def job_timeout(queue: str, settings: Any) -> int:
    return settings.platform_job_timeout_seconds if queue == "platform" else settings.job_timeout_seconds
