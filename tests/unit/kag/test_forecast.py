"""Risk forecasts (kag.md §13): baseline, floors, case score, horizons, logit_v1."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.kag.forecast import (
    LogitModel,
    LogitSamples,
    case_score,
    compute_forecasts,
    fit_logit_models,
    horizon_probabilities,
    logit_samples,
)
from tests.unit.kag._support import NOW, P2, P4


def test_forecast_before_any_signal_or_score_exists():
    rows = compute_forecasts([], [], [], NOW)
    assert [r.risk_type for r in rows] == ["delivery_risk", "finance_risk", "client_risk", "scope_risk"]
    for r in rows:
        assert (r.probability_7d, r.probability_14d, r.probability_30d) == pytest.approx(
            (0, 0.12, 0.2784), abs=P4
        )
        assert r.expected_time_to_risk_days == pytest.approx(30.86, abs=P2)
        assert r.confidence == pytest.approx(0.35)
        assert r.publishable is False and r.model == "rules_v1" and r.evidence_refs == []


def test_horizons_are_monotonic():
    for b in (0, 0.2, 0.62, 1):
        for s in (0, 0.5, 1):
            p7, p14, p30 = horizon_probabilities(b, s)
            assert 0 <= p7 <= p14 <= p30 <= 1


def test_expected_time_is_60_days_when_p30_is_tiny():
    from jobs.kag.forecast import expected_time_to_risk

    assert expected_time_to_risk(0.049) == 60.0
    assert expected_time_to_risk(1.0) == 2.0


def test_case_score_ignores_zero_similarity_and_cases_without_that_outcome():
    cases = [
        {"similarity_score": 0, "outcomes_seen": [{"outcome_type": "client_risk", "severity": 5}]},
        {"similarity_score": 0.5, "outcomes_seen": [{"outcome_type": "finance_risk", "severity": 5}]},
        {
            "similarity_score": 0.5,
            "outcomes_seen": [
                {"outcome_type": "client_risk", "severity": None},
                {"outcome_type": "client_risk", "severity": 5},
            ],
        },
    ]
    assert case_score(cases, "client_risk") == pytest.approx(0.8)  # mean(3, 5) / 5
    assert case_score(cases, "scope_risk") == 0


def test_floors_compare_raw_values():
    signals = [
        {"signal_key": "stage_overdue", "value": 3.0},
        {"signal_key": "blockers_age", "value": 6.0, "details": {"open_blockers": 2}},
    ]
    delivery = compute_forecasts(signals, [], [], NOW)[0]
    assert delivery.baseline == pytest.approx(0.58)  # stage floor; blockers floor needs ≥3 open


def test_burn_feature_is_zero_without_the_signal_row():
    rows = compute_forecasts([{"signal_key": "margin_risk", "value": 0.0}], [], [], NOW)
    finance = rows[1]
    assert finance.top_drivers[0]["contribution"] == 0


def test_similar_cases_raise_confidence_and_are_summarised():
    cases = [
        {"case_project_id": f"p{i}", "similarity_score": 0.5, "why_similar": "w", "outcomes_seen": []}
        for i in range(7)
    ]
    row = compute_forecasts([], [], cases, NOW)[0]
    assert row.confidence == pytest.approx(0.35 + 0.45)
    assert [c["case_project_id"] for c in row.similar_cases] == ["p0", "p1", "p2"]


def test_same_inputs_give_identical_rows():
    signals = [{"signal_key": "waiting_on_client_days", "value": 3, "evidence_refs": [{"message_id": "m"}]}]
    assert [r.to_row() for r in compute_forecasts(signals, [], [], NOW)] == [
        r.to_row() for r in compute_forecasts(signals, [], [], NOW)
    ]


# --- logit_v1 ---------------------------------------------------------------------------------


def _snapshot(project: str, days_ago: int, waiting: float) -> dict:
    return {
        "project_id": project,
        "snapshot_date": (NOW - timedelta(days=days_ago)).date().isoformat(),
        "signals_json": {"waiting_on_client_days": {"value": waiting}},
        "scores_json": {"risk": {"score": 10}},
    }


def test_logit_samples_label_the_next_seven_days_and_skip_unfinished_windows():
    snaps = [_snapshot("p1", 20, 5.0), _snapshot("p2", 20, 0.0), _snapshot("p1", 3, 5.0)]
    outcomes = [
        {
            "project_id": "p1",
            "outcome_type": "client_risk",
            "occurred_at": (NOW - timedelta(days=17)).isoformat(),
        }
    ]
    samples = logit_samples(snaps, outcomes, NOW)
    assert samples.y["client_risk"] == [1, 0]
    assert samples.X["client_risk"][0][0] == pytest.approx(5 / 6)


def test_logit_needs_enough_samples_and_both_classes():
    thin = LogitSamples()
    thin.X["client_risk"] = [[0.1] * 5] * 39
    thin.y["client_risk"] = [1] * 20 + [0] * 19
    assert fit_logit_models(thin)["client_risk"] is None


def test_logit_model_is_used_with_floors_and_coefficient_drivers():
    samples = LogitSamples()
    for i in range(60):
        w = (i % 10) / 10
        samples.X["client_risk"].append([w, 0, 0, 0, 0.1])
        samples.y["client_risk"].append(int(w >= 0.5))
    models = fit_logit_models(samples)
    model = models["client_risk"]
    assert isinstance(model, LogitModel) and models["delivery_risk"] is None
    assert LogitModel.from_json(model.to_json()) == model

    signals = [{"signal_key": "waiting_on_client_days", "value": 1.2}]
    rows = {
        r.risk_type: r for r in compute_forecasts(signals, [], [], NOW, model="logit_v1", logit_models=models)
    }
    assert rows["client_risk"].model == "logit_v1" and rows["delivery_risk"].model == "rules_v1"
    assert rows["client_risk"].baseline == pytest.approx(model.predict_proba({"waiting_on_client_days": 0.2}))
    assert rows["client_risk"].top_drivers[0] == {
        "key": "waiting_on_client_days",
        "contribution": pytest.approx(model.coef[0] * 0.2, abs=P4),
    }
    floored = compute_forecasts(
        [{"signal_key": "waiting_on_client_days", "value": 4.5}],
        [],
        [],
        NOW,
        model="logit_v1",
        logit_models=models,
    )[2]
    assert floored.baseline >= 0.62
