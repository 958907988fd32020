"""Health score and risk radar (business.md §A4.1), the pure part of the ``health_scoring`` job.

Inputs (project-restricted, read by the handler): ``S`` = the 300 most recent signals with status
proposed/accepted, the count of overdue Linear issues and the count of failed ``job_runs`` started
in the last 7 days. Writes planned here: one ``health_scores`` row, the composite
``risk_radar_items`` row (``radar_key='project_composite'``) and the ``risk_pattern_events`` row
``delivery_risk_cluster``.

All formulas run on unrounded ``Decimal`` values; only outputs are rounded half-up (score and
factors 2 dp, probability and weight 4 dp). Worked example G2: 60 signals × 5 × 0.9, 7 overdue,
3 failed → pressures 27 + 14 + 9 = 50, score 50.00, severity 3, probability 0.5, weight 0.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from shared.business.dates import as_utc
from shared.business.evidence import concat_refs
from shared.business.nba import ACTIVE_SIGNAL_STATUSES
from shared.business.numbers import clamp, json_number, money, ratio, round_half_up, to_decimal

__all__ = [
    "COMPOSITE_MITIGATION",
    "COMPOSITE_RADAR_KEY",
    "COMPOSITE_TITLE",
    "PATTERN_KEY",
    "PATTERN_PLAYBOOK",
    "PATTERN_TITLE",
    "HealthResult",
    "RowPlan",
    "compute_health",
    "count_recent_failed_jobs",
    "plan_composite_radar",
    "plan_pattern",
    "select_signals",
]

SIGNAL_LIMIT = 300
RADAR_REF_LIMIT = 25
FAILED_JOB_WINDOW = timedelta(days=7)

COMPOSITE_RADAR_KEY = "project_composite"
COMPOSITE_TITLE = "Project delivery/commercial risk composite"
COMPOSITE_MITIGATION = "Execute the mitigation playbook; work accepted next-best-actions first."
PATTERN_KEY = "delivery_risk_cluster"
PATTERN_TITLE = "Delivery risk pattern cluster"
PATTERN_PLAYBOOK: dict[str, list[str]] = {"playbook": [
    "Triage the highest-severity signals",
    "Accept or dismiss stale signals",
    "Create or refresh mitigation next-best-actions",
    "Re-align the timeline with the client",
]}

_ZERO = Decimal(0)


def select_signals(signals: Iterable[Mapping[str, Any]], *, limit: int = SIGNAL_LIMIT) -> list[Mapping[str, Any]]:
    """``S``: signals with status proposed/accepted, ``created_at`` desc, the first ``limit``."""
    active = [s for s in signals if s.get("status") in ACTIVE_SIGNAL_STATUSES]
    active.sort(key=lambda s: as_utc(s["created_at"]), reverse=True)
    return active[:limit]


def count_recent_failed_jobs(job_runs: Iterable[Mapping[str, Any]], *, now: datetime) -> int:
    """Job runs with ``status='failed'`` and ``started_at > now − 7 days``."""
    since = as_utc(now) - FAILED_JOB_WINDOW
    return sum(1 for r in job_runs
               if r.get("status") == "failed" and r.get("started_at") is not None and as_utc(r["started_at"]) > since)


@dataclass(frozen=True)
class HealthResult:
    severity_weighted: Decimal
    signal_pressure: Decimal
    overdue_pressure: Decimal
    failed_job_pressure: Decimal
    total_pressure: Decimal
    health_score: Decimal  # 2 dp
    radar_severity: int  # 1..5
    radar_probability: Decimal  # 4 dp
    pattern_weight: Decimal  # 4 dp
    evidence_refs: list[Any] = field(default_factory=list)  # signals' refs in signal order, first 25

    @property
    def factors(self) -> list[dict[str, Any]]:
        """The explainable drivers, each value rounded to 2 dp."""
        return [{"key": "signal_pressure", "value": json_number(money(self.signal_pressure))},
                {"key": "overdue_pressure", "value": json_number(money(self.overdue_pressure))},
                {"key": "failed_job_pressure", "value": json_number(money(self.failed_job_pressure))}]

    def job_result(self) -> dict[str, Any]:
        """``{"health_score", "factors", "total_pressure"}`` (2 dp), also the ``risk.refresh`` payload."""
        return {"health_score": json_number(self.health_score), "factors": self.factors,
                "total_pressure": json_number(money(self.total_pressure))}


def compute_health(*, signals: Sequence[Mapping[str, Any]], overdue: int, failed_jobs: int) -> HealthResult:
    """The §A4.1 formulas over ``S`` (rows with ``severity``, ``confidence``, ``evidence_refs``)."""
    weighted = sum(((to_decimal(s.get("severity")) or _ZERO) * (to_decimal(s.get("confidence")) or _ZERO)
                    for s in signals), _ZERO)
    signal_pressure = min(Decimal(40), weighted / 10)
    overdue_pressure = min(Decimal(30), Decimal(overdue) * 2)
    failed_pressure = min(Decimal(20), Decimal(failed_jobs) * 3)
    total = signal_pressure + overdue_pressure + failed_pressure
    score = clamp(Decimal(100) - total, 0, 100)
    return HealthResult(
        severity_weighted=weighted,
        signal_pressure=signal_pressure,
        overdue_pressure=overdue_pressure,
        failed_job_pressure=failed_pressure,
        total_pressure=total,
        health_score=money(score),
        radar_severity=int(clamp(round_half_up(total / 20), 1, 5)),
        radar_probability=ratio(clamp(total / 100, 0, 1)),
        pattern_weight=ratio(min(Decimal(1), total / 100)),
        evidence_refs=concat_refs((s.get("evidence_refs") for s in signals), limit=RADAR_REF_LIMIT),
    )


@dataclass(frozen=True)
class RowPlan:
    """An upsert decision: ``insert`` / ``update`` (``values`` = columns to write) or ``skip``."""

    action: str
    values: dict[str, Any]


def plan_composite_radar(existing_status: str | None, result: HealthResult, *, now: datetime) -> RowPlan:
    """The composite radar item. ``existing_status`` = status of the project's non-closed item with
    ``radar_key='project_composite'`` (None if there is none, e.g. it was closed by an operator):
    update severity/probability/refs keeping its status, or insert a new ``open`` item."""
    values: dict[str, Any] = {"severity": result.radar_severity, "probability": result.radar_probability,
                              "evidence_refs": list(result.evidence_refs), "updated_at": now}
    if existing_status is not None and existing_status != "closed":
        return RowPlan("update", values)
    values.update({"radar_key": COMPOSITE_RADAR_KEY, "title": COMPOSITE_TITLE,
                   "mitigation_action": COMPOSITE_MITIGATION, "status": "open"})
    return RowPlan("insert", values)


def plan_pattern(existing_status: str | None, result: HealthResult, *, now: datetime) -> RowPlan:
    """The ``delivery_risk_cluster`` pattern, upserted on ``(project_id, pattern_key)``: inserted when
    missing, updated only while ``open``; a ``mitigated`` or ``ignored`` pattern is left unchanged."""
    values: dict[str, Any] = {"pattern_key": PATTERN_KEY, "title": PATTERN_TITLE, "status": "open",
                              "weight": result.pattern_weight, "evidence_refs": list(result.evidence_refs),
                              "mitigation_playbook": PATTERN_PLAYBOOK, "updated_at": now}
    if existing_status is None:
        return RowPlan("insert", values)
    if existing_status == "open":
        return RowPlan("update", values)
    return RowPlan("skip", {})
