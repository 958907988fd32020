"""Health score and risk radar: worked example G2 and the upsert rules (business.md §A4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from jobs.business.health import (
    COMPOSITE_RADAR_KEY,
    PATTERN_KEY,
    PATTERN_PLAYBOOK,
    compute_health,
    count_recent_failed_jobs,
    plan_composite_radar,
    plan_pattern,
    select_signals,
)

NOW = datetime(2026, 2, 17, 10, 0, tzinfo=UTC)


def signals(n: int, severity: int, confidence: float, status: str = "proposed") -> list[dict]:
    return [{"id": f"s{i}", "severity": severity, "confidence": confidence, "status": status,
             "created_at": NOW - timedelta(minutes=i), "evidence_refs": [f"cwmsg:{i}"]} for i in range(n)]


def g2_job_runs() -> list[dict]:
    recent = [{"status": "failed", "started_at": NOW - timedelta(days=d)} for d in (1, 2, 6)]
    older = [{"status": "failed", "started_at": NOW - timedelta(days=d)} for d in (8, 30)]
    ok = [{"status": "succeeded", "started_at": NOW - timedelta(hours=1)}]
    return recent + older + ok


class RiskStore:
    """In-memory stand-in for health_scores / risk_radar_items / risk_pattern_events."""

    def __init__(self) -> None:
        self.health_scores: list[Decimal] = []
        self.radar: list[dict] = []
        self.patterns: dict[str, dict] = {}

    def refresh(self, result, now: datetime) -> None:
        self.health_scores.append(result.health_score)
        live = next((r for r in self.radar if r["radar_key"] == COMPOSITE_RADAR_KEY and r["status"] != "closed"), None)
        plan = plan_composite_radar(live["status"] if live else None, result, now=now)
        if plan.action == "update":
            live.update(plan.values)
        else:
            self.radar.append(dict(plan.values))
        existing = self.patterns.get(PATTERN_KEY)
        pattern_plan = plan_pattern(existing["status"] if existing else None, result, now=now)
        if pattern_plan.action == "insert":
            self.patterns[PATTERN_KEY] = dict(pattern_plan.values)
        elif pattern_plan.action == "update":
            existing.update(pattern_plan.values)


def test_g2_formulas() -> None:
    s = select_signals(signals(60, 5, 0.9))
    failed = count_recent_failed_jobs(g2_job_runs(), now=NOW)
    assert failed == 3  # the two older failures are ignored
    result = compute_health(signals=s, overdue=7, failed_jobs=failed)
    assert result.severity_weighted == Decimal("270")
    assert result.signal_pressure == Decimal("27")
    assert result.overdue_pressure == Decimal("14")
    assert result.failed_job_pressure == Decimal("9")
    assert result.total_pressure == Decimal("50")
    assert result.health_score == Decimal("50.00")
    assert result.factors == [{"key": "signal_pressure", "value": 27.0}, {"key": "overdue_pressure", "value": 14.0},
                              {"key": "failed_job_pressure", "value": 9.0}]
    assert result.radar_severity == 3  # round_half_up(2.5)
    assert result.radar_probability == Decimal("0.5000")
    assert result.pattern_weight == Decimal("0.5000")
    assert result.job_result() == {"health_score": 50.0, "factors": result.factors, "total_pressure": 50.0}
    assert result.evidence_refs == [f"cwmsg:{i}" for i in range(25)]  # signal order, first 25


def test_g2_second_refresh_keeps_one_radar_item_and_one_pattern() -> None:
    store = RiskStore()
    result = compute_health(signals=signals(60, 5, 0.9), overdue=7, failed_jobs=3)
    store.refresh(result, NOW)
    store.refresh(result, NOW + timedelta(minutes=30))
    assert store.health_scores == [Decimal("50.00"), Decimal("50.00")]
    assert len([r for r in store.radar if r["radar_key"] == COMPOSITE_RADAR_KEY]) == 1
    assert len(store.patterns) == 1
    radar = store.radar[0]
    assert (radar["severity"], radar["probability"], radar["status"]) == (3, Decimal("0.5000"), "open")
    assert radar["title"] == "Project delivery/commercial risk composite"
    assert radar["mitigation_action"] == "Execute the mitigation playbook; work accepted next-best-actions first."
    assert store.patterns[PATTERN_KEY]["mitigation_playbook"] == PATTERN_PLAYBOOK
    assert store.patterns[PATTERN_KEY]["weight"] == Decimal("0.5000")


def test_g2_saturation() -> None:
    result = compute_health(signals=signals(200, 5, 1.0), overdue=50, failed_jobs=10)
    assert (result.signal_pressure, result.overdue_pressure, result.failed_job_pressure) == (40, 30, 20)
    assert result.total_pressure == 90
    assert result.health_score == Decimal("10.00")
    assert result.radar_severity == 5  # from 4.5
    assert result.radar_probability == Decimal("0.9000")


def test_no_data_is_a_perfect_score_with_minimum_severity() -> None:
    result = compute_health(signals=[], overdue=0, failed_jobs=0)
    assert result.health_score == Decimal("100.00")
    assert result.radar_severity == 1 and result.radar_probability == 0 and result.evidence_refs == []


def test_select_signals_keeps_300_most_recent_active() -> None:
    rows = signals(310, 1, 0.5) + signals(5, 5, 1.0, status="dismissed") + signals(5, 5, 1.0, status="done")
    chosen = select_signals(rows)
    assert len(chosen) == 300
    assert all(s["status"] == "proposed" for s in chosen)
    assert chosen[0]["id"] == "s0" and chosen[-1]["id"] == "s299"


def test_closed_composite_item_gets_a_new_open_item() -> None:
    store = RiskStore()
    result = compute_health(signals=[], overdue=1, failed_jobs=0)
    store.refresh(result, NOW)
    store.radar[0]["status"] = "closed"
    store.refresh(result, NOW + timedelta(hours=1))
    assert [r["status"] for r in store.radar] == ["closed", "open"]


def test_mitigating_radar_item_keeps_its_status() -> None:
    result = compute_health(signals=[], overdue=1, failed_jobs=0)
    plan = plan_composite_radar("mitigating", result, now=NOW)
    assert plan.action == "update" and "status" not in plan.values


def test_mitigated_or_ignored_pattern_is_left_unchanged() -> None:
    result = compute_health(signals=[], overdue=1, failed_jobs=0)
    assert plan_pattern("mitigated", result, now=NOW).action == "skip"
    assert plan_pattern("ignored", result, now=NOW).action == "skip"
    assert plan_pattern("open", result, now=NOW).action == "update"
