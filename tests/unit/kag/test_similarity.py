"""Case signatures and ranking (kag.md §12)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.kag.similarity import (
    CaseCandidate,
    budget_bucket,
    build_case_signature,
    context_score,
    jaccard,
    outcomes_seen,
    project_type,
    rank_similar_cases,
)
from tests.unit.kag._support import NOW


def snapshot(days_ago: int, waiting: float, risk: float, events_7d: int, pipeline: float = 60000) -> dict:
    return {
        "snapshot_date": (NOW - timedelta(days=days_ago)).date().isoformat(),
        "signals_json": {
            "waiting_on_client_days": {"value": waiting},
            "budget_burn_rate": {"value": 1.25},
            "sentiment_trend": {"value": -0.2},
        },
        "scores_json": {"risk": {"score": risk}},
        "key_aggregates_json": {"events": {"events_7d": events_7d}, "revenue": {"pipeline_amount": pipeline}},
    }


def test_signature_from_snapshots_and_event_log():
    snaps = [
        snapshot(0, 3.5, 40, 25),
        snapshot(6, 0.0, 20, 5),
        snapshot(20, 9, 90, 50),
    ]  # last one out of window
    log = [
        {"id": 2, "event_type": "issue_blocked", "occurred_at": NOW - timedelta(days=1)},
        {"id": 1, "event_type": "message_sent", "occurred_at": NOW - timedelta(days=1)},
        {"id": 3, "event_type": "process_started", "occurred_at": NOW},
        {"id": 4, "event_type": "message_sent", "occurred_at": NOW - timedelta(days=30)},
    ]
    deals = [
        {"stage": "Negotiation", "updated_at": "2026-02-10T00:00Z"},
        {"stage": "Proposal Sent", "updated_at": "2026-02-16T00:00Z"},
    ]
    sig = build_case_signature(
        window_days=7,
        now=NOW,
        snapshots=snaps,
        event_log=log,
        project_name="ACME Migration",
        deals=deals,
        project_id="P",
    )
    v = sig.signature_vector
    assert len(v) == 14
    assert v[0] == pytest.approx(1.75 / 7, abs=1e-5)  # avg waiting / 7
    assert v[1] == 0 and v[2] == 0
    assert v[4] == pytest.approx(0.5)  # (1.25 - 1) / 0.5
    assert v[7] == pytest.approx(0.5)  # |−0.2| / 0.4
    assert v[8] == pytest.approx(0.3) and v[9] == 0  # avg risk 30; missing health counts as 100
    assert v[10] == pytest.approx(0.3)  # avg events 15 / 50
    assert v[11] == pytest.approx(0.5)  # Δ risk = last − first = 40 − 20, / 40
    assert v[12] == pytest.approx(0.5)  # Δ waiting = 3.5 − 0, / 7
    assert sig.features_json["event_types"] == ["message_sent", "issue_blocked"]
    assert sig.features_json["event_ngrams"] == ["message_sent>issue_blocked"]
    assert sig.context_json == {
        "project_type": "migration",
        "pipeline_amount": 60000.0,
        "budget_bucket": "md",
        "stage_bucket": "proposal",
    }
    again = build_case_signature(
        window_days=7, now=NOW, snapshots=snaps, event_log=log, project_name="ACME Migration", deals=deals
    )
    assert again.signature_hash == sig.signature_hash


def test_no_snapshots_no_signature():
    assert build_case_signature(window_days=14, now=NOW, snapshots=[snapshot(20, 1, 1, 1)]) is None
    with pytest.raises(ValueError):
        build_case_signature(window_days=10, now=NOW, snapshots=[])


def test_buckets_and_project_type():
    assert [budget_bucket(x) for x in (0, 10000, 50000, 100000, 200000)] == ["xs", "sm", "md", "lg", "xl"]
    assert project_type("Support retainer") == "support" and project_type(None) == "delivery"


def test_parts():
    assert jaccard([], []) == 0 and jaccard(["a"], ["a", "b"]) == 0.5
    assert (
        context_score(
            {"budget_bucket": "md", "project_type": ""}, {"budget_bucket": "md", "project_type": ""}
        )
        == 0.4
    )


def test_vectors_of_different_length_are_zero_padded_and_self_is_excluded():
    source = {"project_id": "P", "signature_vector": [0.5, 0.5], "features_json": {}, "context_json": {}}
    cands = [
        CaseCandidate("P", "self", [0.5, 0.5], [], {}),
        CaseCandidate("Q", "short", [0.5], [], {}),
        CaseCandidate("R", "long", [0.5, 0.5, 0.0, 0.0], [], {}),
    ]
    ranked = rank_similar_cases(source, cands, NOW, top_k=50)
    assert [c.case_project_id for c in ranked] == ["R", "Q"]
    assert ranked[0].similarity_score == pytest.approx(0.6)
    assert ranked[1].similarity_score == pytest.approx(0.6 / 1.5, abs=1e-4)
    assert ranked[0].to_row()["computed_at"] == "2026-02-17T12:00:00.000Z"
    assert rank_similar_cases(source, [], NOW) == []


def test_shared_patterns_keep_candidate_order_and_cap_at_five():
    grams = [f"a>{i}" for i in range(8)]
    source = {"signature_vector": [0], "features_json": {"event_ngrams": grams}, "context_json": {}}
    [case] = rank_similar_cases(
        source, [CaseCandidate("Q", "q", [0], list(reversed(grams)) + grams, {})], NOW
    )
    assert case.key_shared_patterns == [f"a>{i}" for i in (7, 6, 5, 4, 3)]


def test_outcomes_seen_keeps_the_eight_most_recent():
    rows = [
        {"outcome_type": "client_risk", "occurred_at": NOW - timedelta(days=i), "severity": None}
        for i in range(10)
    ]
    seen = outcomes_seen(rows)
    assert (
        len(seen) == 8 and seen[0]["occurred_at"] == "2026-02-17T12:00:00.000Z" and seen[0]["severity"] == 3
    )


def test_candidate_from_a_signature_row():
    row = {
        "project_id": "Q",
        "signature_vector": ["0.1", 0.2],
        "features_json": {"event_ngrams": ["a>b"]},
        "context_json": {"budget_bucket": "md"},
    }
    cand = CaseCandidate.from_row(
        row, project_name="Q name", outcomes=[{"outcome_type": "x", "occurred_at": NOW}]
    )
    assert (cand.vector, cand.ngrams, cand.project_name, len(cand.outcomes_seen)) == (
        [0.1, 0.2],
        ["a>b"],
        "Q name",
        1,
    )
