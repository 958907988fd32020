"""Scores (kag.md §7): formulas, levels, factors, and the empty-project values of §19."""

from __future__ import annotations

import pytest

from jobs.kag.scores import (
    HEALTH_WEIGHTS,
    RISK_WEIGHTS,
    compute_scores,
    risk_components,
    score_level,
    weighted_mean,
)
from tests.unit.kag._support import NOW, P2


def scores_of(values: dict[str, float], state=None) -> dict:
    rows = [{"signal_key": k, "value": v, "status": "ok", "evidence_refs": []} for k, v in values.items()]
    return {s.score_type: s for s in compute_scores(rows, state, NOW)}


def test_weights_sum_to_one():
    assert sum(HEALTH_WEIGHTS.values()) == pytest.approx(1.0)
    assert sum(RISK_WEIGHTS.values()) == pytest.approx(1.0)


def test_project_that_never_produced_events():
    s = scores_of({})
    assert (s["project_health"].score, s["project_health"].level) == (100, "low")
    assert (s["risk"].score, s["risk"].level) == (0, "low")
    assert (s["client_value"].score, s["client_value"].level) == (65, "medium")
    assert (s["upsell_likelihood"].score, s["upsell_likelihood"].level) == (51, "medium")


def test_missing_signals_count_as_zero_and_components_are_clamped():
    comps = risk_components({"scope_creep_rate": 5, "sentiment_trend": 0.3, "budget_burn_rate": 0.9})
    assert (
        comps["scope"] == 100 and comps["sentiment"] == 0 and comps["budget"] == 0 and comps["waiting"] == 0
    )


def test_weighted_mean_ignores_non_positive_weights():
    assert weighted_mean({"a": 100, "b": 0}, {"a": 1, "b": 0}) == 100
    assert weighted_mean({"a": 100}, {"a": -1}) == 0


@pytest.mark.parametrize(
    ("score_type", "value", "level"),
    [
        ("project_health", 39.99, "critical"),
        ("project_health", 40, "high"),
        ("project_health", 74.99, "medium"),
        ("project_health", 75, "low"),
        ("risk", 80, "critical"),
        ("risk", 65, "high"),
        ("risk", 45, "medium"),
        ("risk", 44.99, "low"),
        ("client_value", 80, "high"),
        ("client_value", 60, "medium"),
        ("client_value", 24.99, "critical"),
        ("client_value", 25, "low"),
        ("upsell_likelihood", 80, "critical"),
        ("upsell_likelihood", 65, "high"),
        ("upsell_likelihood", 40, "medium"),
        ("upsell_likelihood", 39.9, "low"),
    ],
)
def test_levels(score_type, value, level):
    assert score_level(score_type, value) == level


def test_factors_are_ordered_contributions_that_sum_to_the_score():
    s = scores_of({"waiting_on_client_days": 3, "blockers_age": 7, "margin_risk": 0.5})
    risk = s["risk"]
    assert [f["key"] for f in risk.factors] == list(RISK_WEIGHTS)
    assert sum(f["risk_contribution"] for f in risk.factors) == pytest.approx(risk.score, abs=P2 * 3)
    health = s["project_health"]
    assert 100 - sum(f["risk_contribution"] for f in health.factors) == pytest.approx(
        health.score, abs=P2 * 3
    )
    assert [f["key"] for f in s["client_value"].factors] == [
        "revenue",
        "margin",
        "engagement",
        "sentiment",
        "stability",
    ]
    assert risk.thresholds == {"warning_above": 60, "critical_above": 75}


def test_score_evidence_is_the_union_of_signal_evidence_in_signal_order():
    rows = [
        {"signal_key": "activity_drop", "value": 0, "evidence_refs": [{"message_id": "a"}]},
        {
            "signal_key": "waiting_on_client_days",
            "value": 0,
            "evidence_refs": [{"message_id": "w"}, {"message_id": "a"}],
        },
    ]
    [health, *_] = compute_scores(rows, None, NOW)
    assert [r["message_id"] for r in health.evidence_refs] == ["w", "a"]


def test_score_rows_are_deterministic():
    values = {"waiting_on_client_days": 4.0833, "budget_burn_rate": 1.3}
    a = [s.to_row() for s in scores_of(values).values()]
    b = [s.to_row() for s in scores_of(values).values()]
    assert a == b
