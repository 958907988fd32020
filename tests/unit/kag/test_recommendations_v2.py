"""Recommendations v2 (kag.md §14): lifecycle, feedback, shown tracking, regeneration merge."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.kag.errors import InvalidFeedback, InvalidStatus, InvalidTransition
from jobs.kag.pipeline import evaluate_project
from jobs.kag.recommendations_v2 import (
    V2_CONTENT_COLUMNS,
    apply_v2_feedback,
    apply_v2_status,
    generate_v2_recommendations,
    mark_shown,
    merge_regenerated,
)
from jobs.kag.vocab import V2_STATUSES, check_v2_transition
from tests.unit.kag._support import NOW, STUDIO, events

LATER = NOW + timedelta(hours=1)

ALLOWED = {
    ("new", "acknowledged"),
    ("new", "done"),
    ("new", "dismissed"),
    ("acknowledged", "new"),
    ("acknowledged", "done"),
    ("acknowledged", "dismissed"),
    ("done", "new"),
    ("dismissed", "new"),
}


@pytest.mark.parametrize("current", V2_STATUSES)
@pytest.mark.parametrize("target", V2_STATUSES)
def test_transition_matrix(current, target):
    row = {"status": current, "completed_at": None, "updated_at": NOW}
    if current == target:
        new, changed = apply_v2_status(row, target, LATER)
        assert changed is False and new == row  # same status: untouched
    elif (current, target) in ALLOWED:
        new, changed = apply_v2_status(row, target, LATER)
        assert changed is True and new["status"] == target and new["updated_at"] == LATER
    else:
        with pytest.raises(InvalidTransition) as err:
            apply_v2_status(row, target, LATER)
        assert err.value.code == "invalid_transition" and err.value.http_status == 409


def test_done_sets_completed_at_and_reopen_clears_it():
    done, _ = apply_v2_status({"status": "acknowledged"}, "done", NOW)
    assert done["completed_at"] == NOW
    reopened, _ = apply_v2_status(done, " NEW ", LATER)
    assert reopened["status"] == "new" and reopened["completed_at"] is None


@pytest.mark.parametrize("status", [None, "", "   ", "archived", 3])
def test_invalid_status_is_a_clear_error(status):
    with pytest.raises(InvalidStatus) as err:
        apply_v2_status({"status": "new"}, status, NOW)
    assert err.value.code == "invalid_status"


def test_check_transition_reports_no_op():
    assert check_v2_transition("done", "done") is False
    assert check_v2_transition("new", "Acknowledged") is True


@pytest.mark.parametrize(
    ("body", "helpful", "note"),
    [
        ({}, "unknown", None),
        ({"helpful": True, "note": "  great  "}, "helpful", "great"),
        ({"helpful": False}, "not_helpful", None),
        ({"helpful": " Not_Helpful ", "note": "   "}, "not_helpful", None),
        ({"helpful": "unknown", "note": "x" * 2500}, "unknown", "x" * 2000),
    ],
)
def test_feedback(body, helpful, note):
    row = apply_v2_feedback({"status": "done", "helpful_feedback": "helpful"}, body, NOW)
    assert (row["helpful_feedback"], row["feedback_note"], row["status"]) == (helpful, note, "done")


@pytest.mark.parametrize("body", [[], {"helpful": "maybe"}, {"helpful": 1}, {"note": 5}])
def test_invalid_feedback(body):
    with pytest.raises(InvalidFeedback):
        apply_v2_feedback({}, body, NOW)


def test_mark_shown_counts_and_keeps_first_shown():
    [once] = mark_shown([{"shown_count": 0, "first_shown_at": None}], NOW)
    [twice] = mark_shown([once], LATER)
    assert (twice["shown_count"], twice["first_shown_at"], twice["last_shown_at"]) == (2, NOW, LATER)


def _waiting_events():
    return events(
        (
            "stage_started",
            "2026-02-13T09:00Z",
            {"stage_name": "Client approval", "approval_pending": True},
            [{"doc_url": "https://docs.example.com/approval"}],
        ),
        ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [{"message_id": "msg-team-1"}]),
    )


def test_regeneration_never_resets_user_status_feedback_or_counters():
    [generated] = evaluate_project(_waiting_events(), NOW, context=STUDIO).v2.recommendations
    fresh = merge_regenerated(None, generated, NOW)
    assert (fresh["status"], fresh["helpful_feedback"], fresh["shown_count"]) == ("new", "unknown", 0)

    user_row, _ = apply_v2_status(fresh, "dismissed", NOW)
    user_row = apply_v2_feedback(user_row, {"helpful": "not_helpful", "note": "already chased"}, NOW)
    user_row = mark_shown([user_row], NOW)[0] | {"title": "stale title", "id": "rec-1"}

    [regenerated] = evaluate_project(_waiting_events(), LATER, context=STUDIO).v2.recommendations
    assert regenerated.dedupe_key == generated.dedupe_key
    merged = merge_regenerated(user_row, regenerated, LATER)
    assert (merged["status"], merged["helpful_feedback"], merged["feedback_note"]) == (
        "dismissed",
        "not_helpful",
        "already chased",
    )
    assert (merged["shown_count"], merged["first_shown_at"], merged["created_at"]) == (1, NOW, NOW)
    assert merged["title"] == regenerated.title and merged["id"] == "rec-1" and merged["updated_at"] == LATER
    assert set(V2_CONTENT_COLUMNS) <= set(regenerated.to_row())


def test_generation_is_idempotent():
    a = evaluate_project(_waiting_events(), NOW, context=STUDIO)
    b = evaluate_project(_waiting_events(), NOW, context=STUDIO)
    assert [r.to_row() for r in a.v2.recommendations] == [r.to_row() for r in b.v2.recommendations]
    assert [r.to_row() for r in a.v1.recommendations] == [r.to_row() for r in b.v1.recommendations]


def test_no_inputs_no_recommendations():
    result = generate_v2_recommendations([], [], [], [], None, NOW)
    assert result.recommendations == [] and result.dropped == {} and result.warning is None
    assert result.result()["generated"] == 0


def test_rewriter_is_used_for_normal_categories_but_never_for_winback():
    signals = [{"signal_key": "waiting_on_client_days", "value": 5, "evidence_refs": [{"message_id": "m"}]}]
    forecasts = [
        {
            "risk_type": "client_risk",
            "probability_7d": 0.7,
            "probability_14d": 0.8,
            "probability_30d": 0.9,
            "evidence_refs": [{"message_id": "m"}],
        }
    ]
    cases = [
        {
            "case_project_id": "x",
            "similarity_score": 0.9,
            "outcomes_seen": [{"outcome_type": "client_risk", "evidence_refs": [{"attio_record_id": "d"}]}],
        }
    ]
    from jobs.kag.recommendations_v2 import generate_v2_recommendations as gen

    result = gen(signals, [], forecasts, cases, STUDIO, NOW, rewriter=lambda key, text, v: "REWRITTEN")
    by_cat = {r.category: r for r in result.recommendations}
    assert [r.category for r in result.recommendations] == ["waiting_on_client", "winback"]
    assert by_cat["waiting_on_client"].priority == 5
    assert by_cat["waiting_on_client"].suggested_template == "REWRITTEN"
    assert "оффер" in by_cat["winback"].suggested_template
    assert by_cat["winback"].why_now == "P(client_risk,14d)=0.80"
