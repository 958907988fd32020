"""Signal engine (kag.md §6) edge cases of §19 and idempotency."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.kag.signals import SignalState, apply_event, compute_signals, process_events, signal_status
from tests.unit.kag._support import NOW, P4, events, ids


def by_key(run):
    return {s.signal_key: s for s in run.signals}


def test_project_without_events_has_ten_ok_zero_signals():
    run = process_events(None, [], NOW)
    assert [s.signal_key for s in run.signals] == [
        "waiting_on_client_days",
        "response_time_avg",
        "blockers_age",
        "stage_overdue",
        "agreement_overdue_count",
        "sentiment_trend",
        "scope_creep_rate",
        "budget_burn_rate",
        "margin_risk",
        "activity_drop",
    ]
    assert all(s.value == 0 and s.status == "ok" and s.evidence_refs == [] for s in run.signals)
    assert run.result() == {"processed_events": 0, "last_event_id": 0, "touched_signals": 10}


def test_team_message_without_pending_client_message_takes_no_sample():
    run = process_events(None, events(("message_sent", "2026-02-17T10:00Z", {"sender": "team"}, [])), NOW)
    s = by_key(run)
    assert s["response_time_avg"].details["samples"] == 0
    assert run.state.last_team_message_at is not None
    assert sum(run.state.daily_counts.values()) == 1


def test_unknown_sender_counts_only_as_activity():
    run = process_events(
        None, events(("message_sent", "2026-02-17T10:00Z", {"sender": "bot"}, [{"message_id": "x"}])), NOW
    )
    st = run.state
    assert st.last_team_message_at is None and st.last_client_message_at is None
    assert st.daily_counts == {"2026-02-17": 1}
    assert list(st.evidence_by_signal) == ["activity_drop"]


@pytest.mark.parametrize("score", [None, True, "0.4", "x", float("nan")])
def test_non_numeric_sentiment_is_ignored(score):
    evs = events(("message_sent", "2026-02-17T10:00Z", {"sender": "client", "sentiment_score": score}, []))
    assert process_events(None, evs, NOW).state.sentiment_samples == 0


def test_out_of_range_sentiment_is_clamped_and_ewma_uses_alpha():
    evs = events(
        ("message_sent", "2026-02-16T10:00Z", {"sender": "client", "sentiment_score": 3}, []),
        ("message_sent", "2026-02-17T10:00Z", {"sender": "client", "sentiment_score": -1}, []),
    )
    st = process_events(None, evs, NOW).state
    assert st.sentiment_prev_ewma == 1.0
    assert st.sentiment_ewma == pytest.approx(0.35 * -1 + 0.65 * 1.0)


def test_finance_amounts_absolute_and_signed_adjustment_floored_at_zero():
    evs = events(
        ("finance_entry_created", "2026-02-16T10:00Z", {"entry_type": "revenue", "amount": -500}, []),
        (
            "finance_entry_created",
            "2026-02-16T11:00Z",
            {"entry_type": "revenue_adjustment", "amount": -800},
            [],
        ),
        ("finance_entry_created", "2026-02-16T12:00Z", {"kind": "Expense", "amount": "-300"}, []),
        ("finance_entry_created", "2026-02-16T13:00Z", {"entry_type": "gift", "amount": 999}, []),
    )
    st = process_events(None, evs, NOW).state
    assert (st.revenue, st.actual_cost, st.planned_budget) == (0.0, 300.0, 0.0)


def test_zero_plan_with_costs_is_burn_1_5_and_costs_over_revenue_is_full_margin_risk():
    evs = events(
        ("finance_entry_created", "2026-02-16T10:00Z", {"entry_type": "cost", "amount": 10}, []),
        ("finance_entry_created", "2026-02-16T10:00Z", {"entry_type": "revenue", "amount": 5}, []),
    )
    s = by_key(process_events(None, evs, NOW))
    assert (s["budget_burn_rate"].value, s["budget_burn_rate"].status) == (1.5, "critical")
    assert s["margin_risk"].value == 1.0  # margin < 0


def test_task_blocked_twice_keeps_first_opened_at_and_counts_activity():
    evs = events(
        ("task_blocked", "2026-02-10T09:00Z", {"blocker_id": "b1"}, [{"linear_issue_id": "L1"}]),
        ("task_blocked", "2026-02-15T09:00Z", {"task_id": "b1"}, [{"linear_issue_id": "L1"}]),
    )
    run = process_events(None, evs, NOW)
    assert run.state.open_blockers["b1"].isoformat() == "2026-02-10T09:00:00+00:00"
    assert sum(run.state.daily_counts.values()) == 2
    assert ids(run.state.evidence_by_signal["blockers_age"]) == ["L1"]


def test_task_blocked_without_any_id_is_ignored_entirely():
    run = process_events(
        None, events(("task_blocked", "2026-02-10T09:00Z", {}, [{"linear_issue_id": "L"}])), NOW
    )
    assert (
        run.state.open_blockers == {} and run.state.daily_counts == {} and run.state.evidence_by_signal == {}
    )
    assert run.state.last_event_id == 1


def test_subject_node_id_identifies_a_blocker_when_payload_has_none():
    evs = events(("task_blocked", "2026-02-10T09:00Z", {}, []))
    evs[0]["subject_node_id"] = "node-uuid-1"
    assert list(process_events(None, evs, NOW).state.open_blockers) == ["node-uuid-1"]


def test_resolution_or_approval_of_unknown_id_only_adds_activity_and_evidence():
    evs = events(
        ("blocker_resolved", "2026-02-16T09:00Z", {"blocker_id": "nope"}, [{"linear_issue_id": "L9"}]),
        ("approval_approved", "2026-02-16T10:00Z", {"agreement_id": "nope"}, [{"message_id": "m9"}]),
    )
    st = process_events(None, evs, NOW).state
    assert st.daily_counts == {"2026-02-16": 2}
    assert ids(st.evidence_by_signal["blockers_age"]) == ["L9"]
    assert ids(st.evidence_by_signal["agreement_overdue_count"]) == ["m9"]


def test_open_items_older_than_90_days_are_dropped():
    old = (NOW - timedelta(days=91)).isoformat()
    evs = events(
        ("task_blocked", old, {"blocker_id": "b-old"}, []),
        ("agreement_created", old, {"agreement_id": "a-old", "due_at": old}, []),
        ("task_blocked", "2026-02-16T09:00Z", {"blocker_id": "b-new"}, []),
    )
    run = process_events(None, evs, NOW)
    assert list(run.state.open_blockers) == ["b-new"]
    assert run.state.open_agreements == {}
    assert by_key(run)["agreement_overdue_count"].value == 0


def test_agreements_overdue_count_and_approval_closes_one():
    evs = events(
        ("agreement_created", "2026-02-10T09:00Z", {"agreement_id": "a1", "due_at": "2026-02-12T00:00Z"}, []),
        ("agreement_created", "2026-02-10T09:00Z", {"agreement_id": "a2", "due_at": "2026-02-13T00:00Z"}, []),
        ("agreement_created", "2026-02-10T09:00Z", {"agreement_id": "a3", "due_at": "2026-03-01T00:00Z"}, []),
    )
    s = by_key(process_events(None, evs, NOW))["agreement_overdue_count"]
    assert (s.value, s.status, s.details["open_agreements"]) == (2, "critical", 3)
    more = evs + events(("approval_approved", "2026-02-16T09:00Z", {"agreement_id": "a1"}, []))[0:1]
    more[-1]["id"] = 4
    s = by_key(process_events(None, more, NOW))["agreement_overdue_count"]
    assert (s.value, s.status) == (1, "warn")


def test_evidence_refs_with_only_source_table_and_pk_are_dropped():
    evs = events(
        (
            "message_sent",
            "2026-02-17T10:00Z",
            {"sender": "team"},
            [{"source_table": "cw_messages", "source_pk": "1"}],
        )
    )
    assert process_events(None, evs, NOW).state.evidence_by_signal == {}


def test_rag_chunk_refs_become_evidence():
    evs = events(("message_sent", "2026-02-17T10:00Z", {"sender": "team"}, [{"message_id": "m"}]))
    evs[0]["rag_chunk_refs"] = ["c-1", "c-1"]
    refs = process_events(None, evs, NOW).state.evidence_by_signal["waiting_on_client_days"]
    assert [(r["message_id"], r["rag_chunk_id"], r["source_table"]) for r in refs] == [
        ("m", None, None),
        (None, "c-1", "rag_chunks"),
    ]


def test_signal_bucket_keeps_the_20_most_recent_unique_refs():
    evs = events(
        *[
            ("scope_change_requested", f"2026-02-16T{h:02d}:00Z", {}, [{"message_id": f"m{h}"}])
            for h in range(24)
        ]
    )
    refs = process_events(None, evs, NOW).state.evidence_by_signal["scope_creep_rate"]
    assert ids(refs) == [f"m{h}" for h in range(4, 24)]


def test_unparsable_timestamp_uses_now_and_warns():
    run = process_events(None, events(("task_blocked", "yesterday-ish", {"blocker_id": "b"}, [])), NOW)
    assert run.state.open_blockers["b"] == NOW
    assert [w.code for w in run.warnings] == ["invalid_event_timestamp"]


def test_backlog_is_processed_over_successive_runs_in_id_order():
    evs = events(*[("decision_made", "2026-02-16T10:00Z", {}, []) for _ in range(5)])
    first = process_events(None, list(reversed(evs)), NOW, max_events=3)
    assert first.processed_event_ids == [1, 2, 3]
    assert [w.code for w in first.warnings] == ["event_backlog"]
    second = process_events(first.state, evs, NOW, max_events=3)
    assert second.processed_event_ids == [4, 5] and second.warnings == []


def test_rerunning_the_same_events_changes_nothing():
    evs = events(
        (
            "message_sent",
            "2026-02-16T09:00Z",
            {"sender": "client", "sentiment_score": 0.2},
            [{"message_id": "c"}],
        ),
        ("message_sent", "2026-02-16T11:00Z", {"sender": "team"}, [{"message_id": "t"}]),
        ("task_blocked", "2026-02-12T09:00Z", {"blocker_id": "b"}, [{"linear_issue_id": "L"}]),
    )
    first = process_events(None, evs, NOW)
    again = process_events(first.state.to_payload(), evs, NOW)
    assert again.processed_event_ids == []
    assert again.state.to_payload() == first.state.to_payload()
    assert [s.to_row() for s in again.signals] == [s.to_row() for s in first.signals]


def test_state_payload_round_trips():
    evs = events(
        (
            "stage_started",
            "2026-02-13T09:00Z",
            {"stage_id": "s", "due_at": "2026-02-15T00:00Z", "requires_approval": "yes"},
            [{"doc_url": "https://d"}],
        ),
        ("agreement_created", "2026-02-13T09:00Z", {"agreement_id": "a", "due_at": None}, []),
        ("need_detected", "2026-02-16T09:00Z", {}, [{"message_id": "n"}]),
    )
    state = process_events(None, evs, NOW).state
    assert state.approval_pending is True
    assert SignalState.from_payload(state.to_payload()).to_payload() == state.to_payload()


def test_apply_event_returns_a_new_state_and_leaves_the_input_alone():
    base = SignalState()
    new, warnings = apply_event(base, events(("decision_made", "2026-02-16T09:00Z", {}, []))[0], NOW)
    assert base.daily_counts == {} and new.daily_counts == {"2026-02-16": 1} and warnings == []


def test_stage_completed_stops_overdue():
    evs = events(
        ("stage_started", "2026-02-10T09:00Z", {"stage_id": "s", "due_at": "2026-02-12T00:00Z"}, []),
        ("stage_completed", "2026-02-16T09:00Z", {}, []),
    )
    s = by_key(process_events(None, evs, NOW))["stage_overdue"]
    assert (s.value, s.details["stage_status"]) == (0, "completed")


def test_statuses_use_the_unrounded_value_and_direction():
    assert signal_status("waiting_on_client_days", 3.99999) == "warn"
    assert signal_status("sentiment_trend", -0.15) == "warn"
    assert signal_status("sentiment_trend", -0.29) == "warn"
    assert signal_status("sentiment_trend", 0.5) == "ok"
    assert signal_status("margin_risk", 0.4) == "critical"


def test_old_activity_and_timestamps_are_pruned():
    evs = events(("scope_change_requested", (NOW - timedelta(days=40)).isoformat(), {}, []))
    st = process_events(None, evs, NOW).state
    assert st.scope_requests == [] and st.daily_counts == {}


def test_compute_signals_accepts_a_stored_payload():
    run = process_events(None, events(("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [])), NOW)
    again = compute_signals(run.state.to_payload(), NOW)
    assert again[0].value == pytest.approx(4.0833, abs=P4)
