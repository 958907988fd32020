"""Recommendations v1 (kag.md §9): triggers, priorities, dedupe keys, upsert merge."""

from __future__ import annotations

import pytest

from jobs.kag.keys import canonical_json, sha1hex
from jobs.kag.recommendations_v1 import generate_v1_recommendations, merge_v1_row, need_signal_phrase
from jobs.kag.signals import SignalState
from tests.unit.kag._support import NOW

REF = [{"message_id": "m"}]


def sig(key: str, value: float, **details) -> dict:
    return {"signal_key": key, "value": value, "status": "ok", "details": details, "evidence_refs": REF}


def generate(signals, scores=(), state=None):
    return generate_v1_recommendations(signals, list(scores), state, None, NOW)


def test_waiting_priority_4_without_approval_and_dedupe_key_from_context():
    [rec] = generate(
        [sig("waiting_on_client_days", 2.5), sig("stage_overdue", 0, approval_pending=False)]
    ).recommendations
    assert rec.priority == 4
    ctx = {"waiting_days": "2.5", "approval_pending": False}
    assert rec.dedupe_key == sha1hex("waiting_on_client:" + canonical_json(ctx))
    assert "текущий этап" in rec.suggested_template and "коллеги" in rec.suggested_template
    assert set(rec.signal_snapshot) == {"waiting", "stage"}
    assert set(rec.score_snapshot) == {"project_health", "risk"}


def test_waiting_priority_5_when_stage_awaits_approval():
    [rec] = generate(
        [
            sig("waiting_on_client_days", 2.0),
            sig("stage_overdue", 0, approval_pending=True, stage_name="Design"),
        ]
    ).recommendations
    assert rec.priority == 5 and "«Design»" in rec.suggested_template


@pytest.mark.parametrize(
    ("rate", "requests", "priority", "count"),
    [(0.2, 0, 4, 2), (0.1, 2, 4, 2), (0.1, 3, 5, 3), (0.35, 1, 5, 1), (0.19, 1, None, None)],
)
def test_scope_rule(rate, requests, priority, count):
    recs = generate([sig("scope_creep_rate", rate, scope_requests_7d=requests)]).recommendations
    if priority is None:
        assert recs == []
        return
    [rec] = recs
    assert rec.priority == priority
    assert f"получили {count} запрос" in rec.suggested_template


def test_delivery_needs_more_than_three_old_blockers_or_overdue_stage():
    assert generate([sig("blockers_age", 6, open_blockers=3)]).recommendations == []
    [rec] = generate([sig("stage_overdue", 1.5)]).recommendations
    assert (rec.category, rec.priority) == ("delivery_risk", 4)


@pytest.mark.parametrize(
    ("burn", "margin", "priority"), [(1.11, 0, 4), (1.0, 0.25, 4), (1.2, 0, 5), (0, 0.4, 5)]
)
def test_finance_rule(burn, margin, priority):
    [rec] = generate([sig("budget_burn_rate", burn), sig("margin_risk", margin)]).recommendations
    assert rec.priority == priority


def test_upsell_needs_score_and_a_recent_need():
    state = SignalState(need_events=[NOW], need_evidence=[{"message_id": "need"}])
    scores = [{"score_type": "upsell_likelihood", "score": 81, "level": "critical", "evidence_refs": REF}]
    [rec] = generate([], scores, state).recommendations
    assert (rec.category, rec.priority) == ("upsell_opportunity", 5)
    assert need_signal_phrase(1) in rec.suggested_template
    assert generate([], scores, SignalState()).recommendations == []


def test_output_sorted_by_priority_then_rule_order():
    recs = generate(
        [
            sig("waiting_on_client_days", 2.5),
            sig("scope_creep_rate", 0.5, scope_requests_7d=1),
            sig("budget_burn_rate", 1.15),
        ]
    ).recommendations
    assert [(r.category, r.priority) for r in recs] == [
        ("scope_creep_change_request", 5),
        ("waiting_on_client", 4),
        ("finance_risk", 4),
    ]


def test_upsert_merge_never_overwrites_status():
    [rec] = generate([sig("waiting_on_client_days", 2.5)]).recommendations
    fresh = merge_v1_row(None, rec, NOW)
    assert fresh["status"] == "proposed"
    merged = merge_v1_row(fresh | {"status": "accepted"}, rec, NOW)
    assert merged["status"] == "accepted" and merged["created_at"] == NOW


def test_v1_status_vocabulary():
    from jobs.kag.errors import InvalidStatus
    from jobs.kag.recommendations_v1 import apply_v1_status

    row, changed = apply_v1_status({"status": "proposed"}, "DONE", NOW)
    assert (row["status"], row["updated_at"], changed) == ("done", NOW, True)
    assert apply_v1_status(row, "done", NOW) == (row, False)
    with pytest.raises(InvalidStatus):
        apply_v1_status(row, "acknowledged", NOW)
