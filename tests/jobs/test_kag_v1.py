"""KAG v1 end to end (kag.md §4–§9, §15, §20 W1–W5): real PostgreSQL, Redis and burst workers.

Each worked example is stored the way it arrives — graph events inserted into `kag_events` where the
spec does so (stage, finance-plan and cost events have no connector source), connector rows stored
through the connector models where a connector produces them (W2 Chatwoot, W3 Linear, W5 Attio +
Chatwoot) — then `POST /kag/refresh` enqueues the pipeline, a burst worker runs it with the run's `now`
frozen at the spec's 2026-02-17T12:00Z, and the routes must return the spec's values, levels and order.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from shared.db.models.kag import (
    KagEdge,
    KagEvent,
    KagEventLog,
    KagNode,
    KagProvenanceRef,
    KagRecommendation,
    KagScoreHistory,
    KagSignalHistory,
)
from shared.db.models.rag import RagChunk
from tests.conftest import Api
from tests.jobs.kag_v1_support import (
    DOC,
    P2,
    P4,
    add_deal,
    add_events,
    add_issue,
    add_message,
    count,
    recommendations,
    refresh,
    scope_of,
    scores,
    signals,
    ts,
    w1_specs,
)


def assert_scores(api: Api, expected: dict[str, tuple[float, str | None]]) -> None:
    got = scores(api)
    for score_type, (value, level) in expected.items():
        assert got[score_type]["score"] == pytest.approx(value, abs=P2), score_type
        if level:
            assert got[score_type]["level"] == level, score_type


def process_events(rt: Any, scope: Any, event_type: str) -> list[dict[str, Any]]:
    with rt.session() as s:
        rows = s.scalars(select(KagEventLog.payload_json).filter_by(event_type=event_type, **scope.as_filter())
                         .order_by(KagEventLog.id)).all()
    return list(rows)


# --- W1 ---------------------------------------------------------------------------------------------------
def test_w1_client_silent_while_the_stage_awaits_approval(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs())
    job = refresh(api, run_jobs)

    result = job["meta"]["result"]
    assert (result["enabled"], result["recommendations_enabled"], result["processed_events"],
            result["touched_signals"], result["touched_scores"], result["touched_recommendations"],
            result["generated_recommendations"], result["last_event_id"]) == (True, True, 2, 10, 4, 1, 1, 2)
    assert result["follow_up"]["job_type"] == "project_snapshot_daily"
    assert set(result["ingest"]) == {"nodes_upserted", "edges_upserted", "events_inserted", "provenance_inserted",
                                     "cursors"}

    sig = signals(api)
    assert len(sig) == 10
    waiting = sig["waiting_on_client_days"]
    assert waiting["value"] == pytest.approx(4.0833, abs=P4) and waiting["status"] == "critical"
    assert (waiting["details"]["waiting_on_client"], waiting["details"]["approval_pending"],
            waiting["details"]["stage_name"]) == (True, True, "Client approval")
    assert (waiting["threshold_warn"], waiting["threshold_critical"]) == (2, 4)
    assert (sig["stage_overdue"]["value"], sig["stage_overdue"]["status"]) == (0, "ok")
    drop = sig["activity_drop"]
    assert (drop["value"], drop["status"], drop["details"]) == (
        0, "ok", {"activity_current_7d": 2, "activity_prev_7d": 0})
    assert_scores(api, {"project_health": (93.19, "low"), "risk": (4.08, "low"),
                        "client_value": (63.98, "medium"), "upsell_likelihood": (49.30, "medium")})

    [rec] = recommendations(api)
    assert (rec["category"], rec["priority"], rec["status"]) == ("waiting_on_client", 5, "proposed")
    assert [r.get("message_id") or r.get("doc_url") for r in rec["evidence_refs"]] == [
        "msg-team-1", DOC["doc_url"]]
    assert all(w in rec["suggested_template"] for w in ("«Client approval»", "4.1", "апрув"))
    assert rec["suggested_template_key"] == "waiting_on_client_follow_up"
    assert set(rec["signal_snapshot"]) == {"waiting", "stage"}
    assert set(rec["score_snapshot"]) == {"project_health", "risk"}

    with runtime.session() as s:
        assert set(s.scalars(select(KagEvent.status).filter_by(**scope.as_filter()))) == {"processed"}
    finished = process_events(runtime, scope, "process_finished")
    assert finished[0]["job_type"] == "kag_recommendations_refresh" and finished[0]["duration_ms"] >= 0
    assert finished[0]["counters"]["touched_signals"] == 10 and finished[0]["skipped"] is None
    assert process_events(runtime, scope, "process_started")[0]["job_run_id"] == job["id"]


def test_w1b_stage_overdue_adds_a_delivery_recommendation(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs(due_at="2026-02-15T00:00:00Z"))
    refresh(api, run_jobs)

    overdue = signals(api)["stage_overdue"]
    assert (overdue["value"], overdue["status"]) == (pytest.approx(2.5, abs=P4), "warn")
    assert_scores(api, {"project_health": (85.69, None), "risk": (13.08, None)})
    recs = recommendations(api)
    assert [(r["category"], r["priority"]) for r in recs] == [("waiting_on_client", 5), ("delivery_risk", 4)]
    assert [r["doc_url"] for r in recs[1]["evidence_refs"]] == [DOC["doc_url"]]


# --- W2 ---------------------------------------------------------------------------------------------------
def test_w2_two_out_of_scope_requests_from_chatwoot_messages(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-12T09:00Z",
                content="Hello! Quick question about the homepage hero.")
    add_message(runtime, scope, global_id="cw:7:m2", created_at="2026-02-13T09:00Z",
                content="Could you also build a blog? I know it is out of scope.")
    add_message(runtime, scope, global_id="cw:7:m3", created_at="2026-02-15T09:00Z",
                content="And one more thing outside scope: a careers page.")
    job = refresh(api, run_jobs)
    assert job["meta"]["result"]["ingest"]["events_inserted"] == 5  # 3 message_sent + 2 scope_change_requested

    sig = signals(api)
    scope_rate = sig["scope_creep_rate"]
    assert (scope_rate["value"], scope_rate["status"]) == (pytest.approx(0.6667, abs=P4), "critical")
    assert scope_rate["details"] == {"scope_requests_7d": 2, "client_requests_7d": 3}
    assert sig["waiting_on_client_days"]["value"] == 0
    assert_scores(api, {"project_health": (90.00, None), "risk": (10.00, None), "client_value": (63.50, None),
                        "upsell_likelihood": (56.30, None)})
    assert scores(api)["upsell_likelihood"]["factors"][1] == {"key": "need_signal", "contribution": 8.4}

    [rec] = recommendations(api)
    assert (rec["category"], rec["priority"]) == ("scope_creep_change_request", 5)
    assert [r["message_id"] for r in rec["evidence_refs"]] == ["cw:7:m2", "cw:7:m3"]
    assert "Change Request" in rec["suggested_template"] and "2" in rec["suggested_template"]


def test_w2_response_time_is_incremental_across_runs(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Incremental"))
    add_events(runtime, scope, ("message_sent", "2026-02-17T08:00Z", {"sender": "client"}, [{"message_id": "c1"}]))
    refresh(api, run_jobs)
    response = signals(api)["response_time_avg"]
    assert (response["value"], response["details"]["samples"]) == (0, 0)

    add_events(runtime, scope, ("message_sent", "2026-02-17T10:00Z", {"sender": "team"}, [{"message_id": "t1"}]))
    job = refresh(api, run_jobs)
    assert job["meta"]["result"]["processed_events"] == 1
    sig = signals(api)
    assert (sig["response_time_avg"]["value"], sig["response_time_avg"]["details"]["samples"]) == (120.0, 1)
    assert sig["waiting_on_client_days"]["value"] == pytest.approx(0.0833, abs=P4)


# --- W3 ---------------------------------------------------------------------------------------------------
def test_w3_four_blocked_linear_issues_then_one_resolved(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    for n, hour in enumerate((9, 10, 11, 12), start=1):
        add_issue(runtime, scope, external_id=f"LIN-{n}", updated_at=f"2026-02-10T{hour:02d}:00Z", blocked=True)
    refresh(api, run_jobs)

    sig = signals(api)
    assert (sig["blockers_age"]["value"], sig["blockers_age"]["status"]) == (
        pytest.approx(7.0625, abs=P4), "critical")
    assert sig["blockers_age"]["details"] == {"open_blockers": 4}
    assert (sig["activity_drop"]["value"], sig["activity_drop"]["status"]) == (1.0, "critical")
    assert_scores(api, {"project_health": (79.00, "low"), "risk": (20.00, "low"), "client_value": (41.85, "low")})
    [rec] = recommendations(api)
    assert (rec["category"], rec["priority"]) == ("delivery_risk", 5)
    assert [r["linear_issue_id"] for r in rec["evidence_refs"]] == ["LIN-1", "LIN-2", "LIN-3", "LIN-4"]

    # W3b: LIN-4 unblocked on the 16th (the next sync stores the new vendor time)
    add_issue(runtime, scope, external_id="LIN-4", updated_at="2026-02-16T10:00Z", blocked=False)
    job = refresh(api, run_jobs)
    assert job["meta"]["result"]["processed_events"] == 1 and job["meta"]["result"]["generated_recommendations"] == 0
    sig = signals(api)
    assert sig["blockers_age"]["value"] == pytest.approx(7.0833, abs=P4)
    assert sig["blockers_age"]["details"] == {"open_blockers": 3}
    assert sig["activity_drop"]["value"] == pytest.approx(0.75, abs=P4)
    assert [r["id"] for r in recommendations(api)] == [rec["id"]]  # nothing new; the earlier row stays
    with runtime.session() as s:
        blocker = s.scalar(select(KagNode).filter_by(node_type="blocker", node_key="blocker:LIN-4",
                                                     **scope.as_filter()))
        resolved = s.scalar(select(KagEvent).filter_by(event_type="blocker_resolved", **scope.as_filter()))
    assert blocker.status == "inactive" and resolved.event_ts == ts("2026-02-16T10:00Z")


# --- W4 ---------------------------------------------------------------------------------------------------
def test_w4_burn_rate_twenty_percent_over_plan(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    deal = [{"attio_record_id": "deal-1"}]
    add_events(runtime, scope,
               ("finance_entry_created", "2026-02-10T10:00Z", {"entry_type": "planned_budget", "amount": 10000}, deal),
               ("finance_entry_created", "2026-02-15T10:00Z", {"entry_type": "cost", "amount": 12000}, deal))
    refresh(api, run_jobs)

    sig = signals(api)
    assert (sig["budget_burn_rate"]["value"], sig["budget_burn_rate"]["status"]) == (1.2, "critical")
    assert (sig["margin_risk"]["value"], sig["margin_risk"]["status"]) == (1.0, "critical")
    assert_scores(api, {"project_health": (82.00, None), "risk": (32.00, "low"), "client_value": (37.30, "low"),
                        "upsell_likelihood": (33.32, "low")})
    [rec] = recommendations(api)
    assert (rec["category"], rec["priority"]) == ("finance_risk", 5)
    assert [r["attio_record_id"] for r in rec["evidence_refs"]] == ["deal-1"]
    assert "1.20" in rec["rationale"] and "100.0" in rec["rationale"]


def test_w4b_no_evidence_no_recommendation(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs(refs=False),
               ("finance_entry_created", "2026-02-14T10:00Z", {"entry_type": "planned_budget", "amount": 1000}, []),
               ("finance_entry_created", "2026-02-14T11:00Z", {"entry_type": "cost", "amount": 2000}, []))
    job = refresh(api, run_jobs)

    sig = signals(api)
    assert sig["waiting_on_client_days"]["value"] == pytest.approx(4.0833, abs=P4)
    assert (sig["budget_burn_rate"]["value"], sig["margin_risk"]["value"]) == (2.0, 1.0)
    assert {sig[k]["status"] for k in ("waiting_on_client_days", "budget_burn_rate", "margin_risk")} == {"critical"}
    assert recommendations(api) == [] and job["meta"]["result"]["generated_recommendations"] == 0
    assert count(runtime, KagRecommendation, scope) == 0
    [warning] = process_events(runtime, scope, "process_warning")
    assert warning["warning"]["code"] == "no_evidence_dropped"
    assert set(warning["warning"]["details"]["dropped"]) == {"waiting_on_client", "finance_risk"}
    events = api.get("/kag/events", query_string={"type": "process_warning"}).get_json()["events"]
    assert [e["event_type"] for e in events] == ["process_warning"]


# --- W5 ---------------------------------------------------------------------------------------------------
def test_w5_need_in_conversation_and_a_won_deal_give_an_upsell(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_deal(runtime, scope, external_id="deal-upsell-1", updated_at="2026-02-12T10:00Z", amount=120000)
    add_message(runtime, scope, global_id="need-1", created_at="2026-02-16T12:00Z",
                content="We would like to upgrade to the bigger plan next quarter.")
    refresh(api, run_jobs)

    assert signals(api)["margin_risk"]["value"] == 0
    assert_scores(api, {"project_health": (100, None), "risk": (0, None), "client_value": (95.00, "high"),
                        "upsell_likelihood": (75.25, "high")})
    factors = {f["key"]: f["contribution"] for f in scores(api)["upsell_likelihood"]["factors"]}
    assert factors["need_signal"] == pytest.approx(0.35 * 35, abs=P2)
    assert factors["commercial_stability"] == pytest.approx(0.25 * 100, abs=P2)
    [rec] = recommendations(api)
    assert (rec["category"], rec["priority"]) == ("upsell_opportunity", 4)
    assert [r.get("message_id") or r.get("attio_record_id") for r in rec["evidence_refs"]] == [
        "need-1", "deal-upsell-1"]
    assert "оффер" in rec["suggested_template"] and "ROI" in rec["suggested_template"]


# --- idempotency, regeneration, ingest -----------------------------------------------------------------------
def _snapshot(api: Api) -> tuple[Any, ...]:
    return (api.get("/kag/signals").get_json()["signals"], api.get("/kag/scores").get_json()["scores"],
            recommendations(api))


@pytest.mark.parametrize("bulk_json_min", [1, 10_000])  # PostgreSQL's JSON bulk path and executemany
def test_recompute_with_unchanged_inputs_changes_nothing(api: Api, runtime, run_jobs, frozen, monkeypatch,
                                                         bulk_json_min: int) -> None:
    monkeypatch.setattr("shared.db.service.kag.BULK_JSON_MIN", bulk_json_min)
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs(due_at="2026-02-15T00:00:00Z"))
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-16T09:00Z", content="ok, out of scope")
    add_issue(runtime, scope, external_id="LIN-1", updated_at="2026-02-16T09:00Z", blocked=True)
    add_deal(runtime, scope, external_id="deal-1", updated_at="2026-02-16T09:00Z", amount=5000)
    refresh(api, run_jobs)
    graph = {m: count(runtime, m, scope) for m in (KagNode, KagEdge, KagEvent, KagProvenanceRef)}
    before = _snapshot(api)

    job = refresh(api, run_jobs)
    assert _snapshot(api) == before  # values, levels, order, ids, updated_at
    assert {m: count(runtime, m, scope) for m in graph} == graph
    result = job["meta"]["result"]
    assert (result["processed_events"], result["ingest"]["events_inserted"]) == (0, 0)
    assert count(runtime, KagSignalHistory, scope) == 20 and count(runtime, KagScoreHistory, scope) == 8


def test_a_users_decision_survives_regeneration(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs())
    refresh(api, run_jobs)
    [rec] = recommendations(api)
    with runtime.transaction() as s:
        s.execute(update(KagRecommendation).where(KagRecommendation.id == rec["id"]).values(status="accepted"))
    with runtime.transaction() as s:
        s.execute(update(KagRecommendation).where(KagRecommendation.id == rec["id"])
                  .values(title="stale", updated_at=ts("2026-01-01T00:00Z")))
    refresh(api, run_jobs)
    [again] = recommendations(api)
    assert (again["id"], again["status"], again["title"]) == (rec["id"], "accepted", rec["title"])
    assert again["created_at"] == rec["created_at"]
    assert recommendations(api, status="proposed") == [] and len(recommendations(api, status="accepted")) == 1


def test_ingest_writes_the_graph_with_chunk_evidence_and_provenance(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-16T09:00Z",
                content="We agreed on the plan; there is a risk of delay.", conversation="cw:7:c9")
    add_message(runtime, scope, global_id="cw:7:m2", created_at="2026-02-16T10:00Z", content="secret", private=True)
    add_message(runtime, scope, global_id="cw:7:old", created_at="2026-01-01T09:00Z", content="too old")
    with runtime.transaction() as s:
        for i in range(2):
            s.add(RagChunk(source_type="chatwoot_message", source_table="cw_messages", source_pk="cw:7:m1",
                           message_global_id="cw:7:m1", chunk_index=i, text=f"chunk {i}", text_hash=f"{i:064d}",
                           content_tokens=3, **scope.as_filter()))
    job = refresh(api, run_jobs)
    ingest = job["meta"]["result"]["ingest"]
    assert ingest["cursors"]["chatwoot_messages"] == "2026-02-16T09:00:00.000Z"

    with runtime.session() as s:
        nodes = {(n.node_type, n.node_key) for n in s.scalars(select(KagNode).filter_by(**scope.as_filter()))}
        events = list(s.scalars(select(KagEvent).filter_by(**scope.as_filter()).order_by(KagEvent.id)))
        chunk_refs = {p.rag_chunk_id for p in s.scalars(select(KagProvenanceRef).filter_by(**scope.as_filter()))
                      if p.rag_chunk_id}
    assert {("project", "project"), ("conversation", "cw:7:c9"), ("message", "cw:7:m1"),
            ("agreement", "cw:7:m1:agreement:0"), ("risk", "cw:7:m1:risk:0")} == nodes
    assert [e.event_type for e in events] == ["message_sent", "agreement_created", "risk_detected"]
    assert len(events[0].rag_chunk_refs) == 2 and len(chunk_refs) == 2
    assert {k: v for k, v in events[0].source_refs[0].items() if v} == {
        "message_id": "cw:7:m1", "source_table": "cw_messages", "source_pk": "cw:7:m1"}
    assert ingest["events_inserted"] == 3 and ingest["provenance_inserted"] > 0
