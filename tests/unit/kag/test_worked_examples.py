"""kag.md §20 worked examples W1–W6, asserted on the pure pipeline (4 dp ±0.0005, 2 dp ±0.005)."""

from __future__ import annotations

import pytest

from jobs.kag.pipeline import evaluate_project
from jobs.kag.signals import process_events
from jobs.kag.similarity import CaseCandidate, rank_similar_cases
from tests.unit.kag._support import NOW, P2, P4, STUDIO, events, ids

DOC = {"doc_url": "https://docs.example.com/approval"}
TEAM_1 = {"message_id": "msg-team-1"}


def w1_events(stage_payload_extra: dict | None = None) -> list[dict]:
    stage = {"stage_id": "approval_stage", "stage_name": "Client approval", "approval_pending": True}
    stage |= stage_payload_extra or {}
    return events(
        ("stage_started", "2026-02-13T09:00Z", stage, [DOC]),
        ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [TEAM_1]),
    )


# --- W1 ---------------------------------------------------------------------------------------


def test_w1_client_silent_four_days_while_stage_awaits_approval():
    e = evaluate_project(w1_events(), NOW, context=STUDIO)

    waiting = e.signal("waiting_on_client_days")
    assert waiting.value == pytest.approx(4.0833, abs=P4)
    assert waiting.status == "critical"
    assert waiting.details["waiting_on_client"] is True
    assert waiting.details["approval_pending"] is True
    assert waiting.details["stage_name"] == "Client approval"
    assert (e.signal("stage_overdue").value, e.signal("stage_overdue").status) == (0, "ok")
    drop = e.signal("activity_drop")
    assert (drop.value, drop.status) == (0, "ok")
    assert (drop.details["activity_current_7d"], drop.details["activity_prev_7d"]) == (2, 0)

    assert e.score("project_health").score == pytest.approx(93.19, abs=P2)
    assert e.score("project_health").level == "low"
    assert (e.score("risk").score, e.score("risk").level) == (pytest.approx(4.08, abs=P2), "low")
    assert (e.score("client_value").score, e.score("client_value").level) == (
        pytest.approx(63.98, abs=P2),
        "medium",
    )
    assert e.score("upsell_likelihood").score == pytest.approx(49.30, abs=P2)
    assert e.score("upsell_likelihood").level == "medium"

    [rec] = e.v1.recommendations
    assert (rec.category, rec.priority) == ("waiting_on_client", 5)
    assert ids(rec.evidence_refs) == ["msg-team-1", "https://docs.example.com/approval"]
    for fragment in ("«Client approval»", "4.1", "апрув"):
        assert fragment in rec.suggested_template

    client = e.forecast("client_risk")
    assert client.probability_7d == pytest.approx(0.4650, abs=P4)
    assert client.probability_14d == pytest.approx(0.5292, abs=P4)
    assert client.probability_30d == pytest.approx(0.6139, abs=P4)
    assert client.expected_time_to_risk_days == pytest.approx(17.44, abs=P2)
    assert client.confidence == pytest.approx(0.37, abs=P2)
    assert client.top_drivers[0]["key"] == "waiting_on_client_days"
    assert client.top_drivers[0]["contribution"] == pytest.approx(0.6806, abs=P4)
    assert client.baseline == pytest.approx(0.62)  # the waiting floor applied
    assert e.forecast("delivery_risk").probability_7d == pytest.approx(0.0055, abs=P4)
    assert e.forecast("finance_risk").probability_7d == pytest.approx(0.0077, abs=P4)
    assert e.forecast("scope_risk").probability_7d == pytest.approx(0.0776, abs=P4)

    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority, v2.due_date.isoformat(), v2.owner_role) == (
        "waiting_on_client",
        4,
        "2026-02-18",
        "pm",
    )
    assert v2.links == ["chatwoot://message/msg-team-1", "https://docs.example.com/approval"]

    assert e.snapshot.snapshot_date.isoformat() == "2026-02-17"
    assert e.snapshot.normalized_signals_json["waiting_on_client_days"] == 1.0
    assert e.snapshot.publishable is True
    [outcome] = e.outcomes
    assert (outcome.outcome_type, outcome.severity) == ("client_risk", 4)
    assert outcome.occurred_at.isoformat() == "2026-02-17T23:59:59+00:00"
    assert e.warnings == []


def test_w1b_stage_due_date_adds_overdue_and_delivery_recommendation():
    e = evaluate_project(w1_events({"due_at": "2026-02-15T00:00:00Z"}), NOW, context=STUDIO)

    overdue = e.signal("stage_overdue")
    assert (overdue.value, overdue.status) == (pytest.approx(2.5, abs=P4), "warn")
    assert e.score("project_health").score == pytest.approx(85.69, abs=P2)
    assert e.score("risk").score == pytest.approx(13.08, abs=P2)

    assert [(r.category, r.priority) for r in e.v1.recommendations] == [
        ("waiting_on_client", 5),
        ("delivery_risk", 4),
    ]
    assert ids(e.v1.recommendations[1].evidence_refs) == ["https://docs.example.com/approval"]

    client = e.forecast("client_risk")
    assert (client.probability_7d, client.probability_14d, client.probability_30d) == pytest.approx(
        (0.4650, 0.5292, 0.6139), abs=P4
    )
    assert [r.category for r in e.v2.recommendations] == ["waiting_on_client"]


# --- W2 ---------------------------------------------------------------------------------------


def test_w2_two_out_of_scope_requests_in_a_week():
    m1, m2, m3 = ({"message_id": m} for m in ("m1", "m2", "m3"))
    evs = events(
        ("message_sent", "2026-02-12T09:00Z", {"sender": "client"}, [m1]),
        ("message_sent", "2026-02-13T09:00Z", {"sender": "client"}, [m2]),
        ("scope_change_requested", "2026-02-13T10:00Z", {}, [m2]),
        ("message_sent", "2026-02-15T09:00Z", {"sender": "client"}, [m3]),
        ("scope_change_requested", "2026-02-16T09:00Z", {}, [m3]),
    )
    e = evaluate_project(evs, NOW, context=STUDIO)

    scope = e.signal("scope_creep_rate")
    assert (scope.value, scope.status) == (pytest.approx(0.6667, abs=P4), "critical")
    assert scope.details == {"scope_requests_7d": 2, "client_requests_7d": 3}
    assert e.signal("waiting_on_client_days").value == 0

    assert e.score("project_health").score == pytest.approx(90.00, abs=P2)
    assert e.score("risk").score == pytest.approx(10.00, abs=P2)
    assert e.score("client_value").score == pytest.approx(63.50, abs=P2)
    upsell = e.score("upsell_likelihood")
    assert upsell.score == pytest.approx(56.30, abs=P2)
    need = next(f for f in upsell.factors if f["key"] == "need_signal")
    assert need["contribution"] == pytest.approx(0.35 * 24, abs=P2)  # need_signal component = 24

    [rec] = e.v1.recommendations
    assert (rec.category, rec.priority) == ("scope_creep_change_request", 5)
    assert ids(rec.evidence_refs) == ["m2", "m3"]
    assert "Change Request" in rec.suggested_template
    assert " 2 запрос" in rec.suggested_template

    scope_fc = e.forecast("scope_risk")
    assert (scope_fc.probability_7d, scope_fc.probability_14d, scope_fc.probability_30d) == pytest.approx(
        (0.4500, 0.5160, 0.6031), abs=P4
    )
    assert scope_fc.expected_time_to_risk_days == pytest.approx(17.88, abs=P2)
    assert scope_fc.confidence == pytest.approx(0.38, abs=P2)

    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority, v2.due_date.isoformat()) == (
        "scope_creep_change_request",
        4,
        "2026-02-19",
    )
    assert len(v2.evidence_refs) == 3
    assert v2.links == ["chatwoot://message/m2", "chatwoot://message/m3", "chatwoot://message/m1"]

    assert [(o.outcome_type, o.severity) for o in e.outcomes] == [("scope_risk", 5)]


def test_w2_incremental_response_time_across_runs():
    first = events(("message_sent", "2026-02-17T08:00Z", {"sender": "client"}, [{"message_id": "c-1"}]))
    run1 = process_events(None, first, NOW)
    response = next(s for s in run1.signals if s.signal_key == "response_time_avg")
    assert (response.value, response.details["samples"]) == (0, 0)

    second = first + [
        {
            "id": 2,
            "event_type": "message_sent",
            "event_ts": "2026-02-17T10:00Z",
            "payload": {"sender": "team"},
            "source_refs": [{"message_id": "t-1"}],
        }
    ]
    run2 = process_events(run1.state.to_payload(), second, NOW)  # state carried over as stored JSON
    by_key = {s.signal_key: s for s in run2.signals}
    assert by_key["response_time_avg"].value == pytest.approx(120.0, abs=P4)
    assert by_key["response_time_avg"].details["samples"] == 1
    assert by_key["waiting_on_client_days"].value == pytest.approx(0.0833, abs=P4)
    assert run2.processed_event_ids == [2]


# --- W3 ---------------------------------------------------------------------------------------


def w3_events(resolve_b4: bool = False) -> list[dict]:
    specs = [
        ("task_blocked", f"2026-02-10T{h}:00Z", {"blocker_id": f"b{i}"}, [{"linear_issue_id": f"LIN-{i}"}])
        for i, h in zip(range(1, 5), ("09", "10", "11", "12"), strict=True)
    ]
    if resolve_b4:
        specs.append(
            ("blocker_resolved", "2026-02-16T10:00Z", {"blocker_id": "b4"}, [{"linear_issue_id": "LIN-4"}])
        )
    return events(*specs)


def test_w3_four_blockers_older_than_five_days():
    e = evaluate_project(w3_events(), NOW, context=STUDIO)

    blockers = e.signal("blockers_age")
    assert (blockers.value, blockers.status, blockers.details["open_blockers"]) == (
        pytest.approx(7.0625, abs=P4),
        "critical",
        4,
    )
    drop = e.signal("activity_drop")
    assert (drop.value, drop.status) == (pytest.approx(1.0), "critical")
    assert (drop.details["activity_prev_7d"], drop.details["activity_current_7d"]) == (4, 0)

    assert (e.score("project_health").score, e.score("project_health").level) == (
        pytest.approx(79.00, abs=P2),
        "low",
    )
    assert (e.score("risk").score, e.score("risk").level) == (pytest.approx(20.00, abs=P2), "low")
    assert (e.score("client_value").score, e.score("client_value").level) == (
        pytest.approx(41.85, abs=P2),
        "low",
    )

    [rec] = e.v1.recommendations
    assert (rec.category, rec.priority, len(rec.evidence_refs)) == ("delivery_risk", 5, 4)

    delivery = e.forecast("delivery_risk")
    assert (delivery.probability_7d, delivery.probability_14d, delivery.probability_30d) == pytest.approx(
        (0.4650, 0.5292, 0.6139), abs=P4
    )
    assert delivery.baseline == pytest.approx(0.62)
    assert [(d["key"], d["contribution"]) for d in delivery.top_drivers] == [
        ("blockers_age", pytest.approx(1.0)),
        ("activity_drop", pytest.approx(1.0)),
        ("risk_score", pytest.approx(0.2, abs=P4)),
        ("stage_overdue", 0),
    ]

    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority, v2.due_date.isoformat()) == ("delivery_risk", 4, "2026-02-18")
    assert v2.links == [f"linear://issue/LIN-{i}" for i in range(1, 5)]
    assert [(o.outcome_type, o.severity) for o in e.outcomes] == [("delivery_risk", 4)]


def test_w3b_resolved_blocker_drops_v1_but_forecast_floor_keeps_v2():
    e = evaluate_project(w3_events(resolve_b4=True), NOW, context=STUDIO)

    blockers = e.signal("blockers_age")
    assert (blockers.value, blockers.details["open_blockers"]) == (pytest.approx(7.0833, abs=P4), 3)
    assert e.signal("activity_drop").value == pytest.approx(0.75, abs=P4)
    assert all(r.category != "delivery_risk" for r in e.v1.recommendations)
    assert e.forecast("delivery_risk").probability_7d == pytest.approx(0.4650, abs=P4)
    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority) == ("delivery_risk", 4)


# --- W4 ---------------------------------------------------------------------------------------


def test_w4_burn_rate_twenty_percent_over_plan():
    deal = {"attio_record_id": "deal-1"}
    evs = events(
        (
            "finance_entry_created",
            "2026-02-10T10:00Z",
            {"entry_type": "planned_budget", "amount": 10000},
            [deal],
        ),
        ("finance_entry_created", "2026-02-15T10:00Z", {"entry_type": "cost", "amount": 12000}, [deal]),
    )
    e = evaluate_project(evs, NOW, context=STUDIO)

    assert (e.signal("budget_burn_rate").value, e.signal("budget_burn_rate").status) == (
        pytest.approx(1.2),
        "critical",
    )
    assert (e.signal("margin_risk").value, e.signal("margin_risk").status) == (pytest.approx(1.0), "critical")
    assert e.score("project_health").score == pytest.approx(82.00, abs=P2)
    assert (e.score("risk").score, e.score("risk").level) == (pytest.approx(32.00, abs=P2), "low")
    assert (e.score("client_value").score, e.score("client_value").level) == (
        pytest.approx(37.30, abs=P2),
        "low",
    )
    assert (e.score("upsell_likelihood").score, e.score("upsell_likelihood").level) == (
        pytest.approx(33.32, abs=P2),
        "low",
    )

    [rec] = e.v1.recommendations
    assert (rec.category, rec.priority, len(rec.evidence_refs)) == ("finance_risk", 5, 1)
    assert "1.20" in rec.rationale and "100.0 %" in rec.rationale

    finance = e.forecast("finance_risk")
    assert (finance.probability_7d, finance.probability_14d) == pytest.approx((0.4650, 0.5292), abs=P4)
    assert [(d["key"], d["contribution"]) for d in finance.top_drivers] == [
        ("margin_risk", pytest.approx(1.0)),
        ("budget_burn_rate", pytest.approx(0.4, abs=P4)),
        ("risk_score", pytest.approx(0.32, abs=P4)),
    ]

    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority, v2.due_date.isoformat(), v2.owner_role) == (
        "finance_risk",
        4,
        "2026-02-19",
        "finance_lead",
    )
    assert v2.links == ["attio://record/deal-1"]
    assert [(o.outcome_type, o.severity) for o in e.outcomes] == [("finance_risk", 4)]


def test_w4b_no_evidence_means_no_recommendations_and_unpublishable_artifacts():
    evs = events(
        (
            "stage_started",
            "2026-02-13T09:00Z",
            {"stage_name": "Client approval", "approval_pending": True},
            [],
        ),
        ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, []),
        ("finance_entry_created", "2026-02-14T10:00Z", {"entry_type": "planned_budget", "amount": 1000}, []),
        ("finance_entry_created", "2026-02-14T11:00Z", {"entry_type": "cost", "amount": 2000}, []),
    )
    e = evaluate_project(evs, NOW, context=STUDIO)

    assert e.signal("waiting_on_client_days").value == pytest.approx(4.0833, abs=P4)
    assert e.signal("budget_burn_rate").value == pytest.approx(2.0)
    assert e.signal("margin_risk").value == pytest.approx(1.0)
    for key in ("waiting_on_client_days", "budget_burn_rate", "margin_risk"):
        assert e.signal(key).status == "critical"

    assert e.v1.recommendations == [] and e.v2.recommendations == []
    assert set(e.v1.dropped) == {"waiting_on_client", "finance_risk"}
    assert set(e.v2.dropped) == {"waiting_on_client", "finance_risk"}
    dropped_warnings = [w for w in e.warnings if w.code == "no_evidence_dropped"]
    assert [w.details["stage"] for w in dropped_warnings] == ["recommendations_v1", "recommendations_v2"]
    assert all(
        set(w.details["categories"]) == {"waiting_on_client", "finance_risk"} for w in dropped_warnings
    )

    assert all(f.evidence_refs == [] and f.publishable is False for f in e.forecasts)
    assert e.forecast("finance_risk").probability_7d == pytest.approx(0.630, abs=P4)
    assert e.snapshot.publishable is False
    assert {w.code for w in e.warnings} >= {"forecast_unpublishable", "snapshot_unpublishable"}


# --- W5 ---------------------------------------------------------------------------------------


def test_w5_need_detected_in_conversation_gives_upsell():
    deal = {"attio_record_id": "deal-upsell-1"}
    need = {"message_id": "need-1", "rag_chunk_id": "6f1c1e0e-58a4-4c55-9b1e-8d7f3f1f4c11"}
    evs = events(
        ("finance_entry_created", "2026-02-12T10:00Z", {"entry_type": "revenue", "amount": 120000}, [deal]),
        ("need_detected", "2026-02-16T12:00Z", {}, [need]),
    )
    e = evaluate_project(evs, NOW, context=STUDIO)

    assert e.signal("margin_risk").value == 0
    assert e.score("project_health").score == pytest.approx(100, abs=P2)
    assert e.score("risk").score == pytest.approx(0, abs=P2)
    assert (e.score("client_value").score, e.score("client_value").level) == (
        pytest.approx(95.00, abs=P2),
        "high",
    )
    upsell = e.score("upsell_likelihood")
    assert (upsell.score, upsell.level) == (pytest.approx(75.25, abs=P2), "high")

    [rec] = e.v1.recommendations
    assert (rec.category, rec.priority) == ("upsell_opportunity", 4)
    assert ids(rec.evidence_refs) == ["need-1", "deal-upsell-1"]
    assert "оффер" in rec.suggested_template and "ROI" in rec.suggested_template

    for f in e.forecasts:
        assert (f.probability_7d, f.probability_14d, f.probability_30d) == pytest.approx(
            (0, 0.12, 0.2784), abs=P4
        )
        assert f.publishable is True and ids(f.evidence_refs) == ["deal-upsell-1"]

    [v2] = e.v2.recommendations
    assert (v2.category, v2.priority, v2.due_date.isoformat(), v2.owner_role) == (
        "upsell_opportunity",
        4,
        "2026-02-20",
        "account_manager",
    )
    assert ids(v2.evidence_refs) == ["deal-upsell-1"]


# --- W6 ---------------------------------------------------------------------------------------


def _candidate(name: str, vector: list[float], ngrams: list[str], ctx: str) -> CaseCandidate:
    project_type, budget, stage = ctx.split("/")
    return CaseCandidate(
        name,
        f"Project {name}",
        vector,
        ngrams,
        {"project_type": project_type, "budget_bucket": budget, "stage_bucket": stage},
    )


def test_w6a_similar_case_ranking():
    msg_scope, blocked, unblocked = (
        "message_sent>scope_change_detected",
        "issue_blocked>issue_blocked",
        "issue_blocked>issue_unblocked",
    )
    source = {
        "project_id": "P",
        "signature_vector": [0.4, 0.6, 0.5, 0.3],
        "features_json": {"event_ngrams": [msg_scope, blocked]},
        "context_json": {"project_type": "delivery", "budget_bucket": "md", "stage_bucket": "proposal"},
    }
    candidates = [
        _candidate("A", [0.42, 0.58, 0.48, 0.35], [msg_scope, blocked], "delivery/md/proposal"),
        _candidate("B", [0.30, 0.65, 0.55, 0.40], [msg_scope], "delivery/md/negotiation"),
        _candidate("C", [0.10, 0.20, 0.20, 0.10], ["message_sent>message_sent"], "support/xs/discovery"),
        _candidate("D", [0.44, 0.57, 0.51, 0.33], [blocked, unblocked], "delivery/md/proposal"),
    ]
    top = rank_similar_cases(source, candidates, NOW, top_k=3)

    assert [c.case_project_id for c in top] == ["A", "D", "B"]
    assert [c.similarity_score for c in top] == pytest.approx([0.9656, 0.7665, 0.7381], abs=P4)
    assert top[0].why_similar == "time_series=0.943, event_sequence=1.000, context=1.000"
    assert len(top[0].key_shared_patterns) == 2
    assert top[1].why_similar == "time_series=0.944, event_sequence=0.333, context=1.000"
    assert top[1].key_shared_patterns == [blocked]
    assert top[2].why_similar == "time_series=0.863, event_sequence=0.500, context=0.700"


def test_w6b_similar_cases_drive_the_client_forecast_and_winback():
    evs = events(
        ("message_sent", "2026-02-12T10:00Z", {"sender": "team"}, [{"message_id": "m-team-10"}]),
        (
            "message_sent",
            "2026-02-16T10:00Z",
            {"sender": "client", "sentiment_score": -0.5},
            [{"message_id": "m-client-10"}],
        ),
    )
    cases = [
        {
            "case_project_id": "p-sim-1",
            "similarity_score": 0.82,
            "why_similar": "…",
            "outcomes_seen": [
                {
                    "outcome_type": "client_risk",
                    "severity": 5,
                    "evidence_refs": [{"attio_record_id": "deal-frozen-1"}],
                }
            ],
        },
        {
            "case_project_id": "p-sim-2",
            "similarity_score": 0.77,
            "why_similar": "…",
            "outcomes_seen": [
                {
                    "outcome_type": "client_risk",
                    "severity": 4,
                    "evidence_refs": [{"attio_record_id": "deal-frozen-2"}],
                }
            ],
        },
    ]
    e = evaluate_project(evs, NOW, context=STUDIO, similar_cases=cases)

    trend = e.signal("sentiment_trend")
    assert (trend.value, trend.status) == (pytest.approx(-0.5, abs=P4), "critical")
    assert (trend.details["ewma"], trend.details["prev_ewma"]) == (pytest.approx(-0.5), 0)
    assert e.signal("waiting_on_client_days").value == 0
    assert e.score("project_health").score == pytest.approx(92.00, abs=P2)
    assert e.score("risk").score == pytest.approx(2.00, abs=P2)

    client = e.forecast("client_risk")
    assert client.case_score == pytest.approx(0.9031, abs=P4)
    assert client.baseline == pytest.approx(0.55)  # sentiment floor
    assert (client.probability_7d, client.probability_14d, client.probability_30d) == pytest.approx(
        (0.6383, 0.7405, 0.8388), abs=P4
    )
    assert client.expected_time_to_risk_days == pytest.approx(8.45, abs=P2)
    assert client.confidence == pytest.approx(0.53, abs=P2)

    first, second = e.v2.recommendations
    assert (first.category, first.priority, first.due_date.isoformat(), first.owner_role) == (
        "winback",
        5,
        "2026-02-18",
        "account_manager",
    )
    assert len(first.evidence_refs) == 2
    assert first.links == ["attio://record/deal-frozen-1", "attio://record/deal-frozen-2"]
    assert (second.category, second.priority) == ("waiting_on_client", 4)
    assert e.v1.recommendations == []
    assert [(o.outcome_type, o.severity) for o in e.outcomes] == [("client_risk", 4)]
