"""Legacy signals and NBA (kag.md §10) and the shared v1/legacy/NBA status vocabulary."""

from __future__ import annotations

from datetime import timedelta

import pytest

from jobs.kag.errors import InvalidStatus
from jobs.kag.keys import sha1hex
from jobs.kag.legacy import (
    apply_legacy_signal_status,
    apply_nba_status,
    legacy_signal_candidates,
    merge_legacy_signal,
    merge_nba,
    nba_for_signal,
    top_nba,
)
from tests.unit.kag._support import NOW


def msg(i: int, content: str, **extra) -> dict:
    return {
        "id": f"cwmsg:p:1:{i}",
        "conversation_global_id": "cw:p:1:9",
        "content": content,
        "created_at": NOW - timedelta(days=1),
        "private": False,
    } | extra


def test_message_keywords_yield_one_candidate_per_type():
    messages = [
        msg(1, "We are BLOCKED, this is urgent and the budget is tight"),
        msg(2, "latest update"),  # plain substring: "latest" contains "late"
        msg(3, "delay", private=True),
        msg(4, "delay", created_at=NOW - timedelta(days=15)),
        msg(5, "cross sell please"),
    ]
    candidates, dropped = legacy_signal_candidates("P", messages=messages, now=NOW)
    assert dropped == 0
    types = {(c.signal_type, c.source_ref) for c in candidates}
    assert types == {
        ("delivery_risk", "cwmsg:p:1:1"),
        ("commercial_pressure", "cwmsg:p:1:1"),
        ("urgency_increase", "cwmsg:p:1:1"),
        ("delivery_risk", "cwmsg:p:1:2"),
        ("upsell_intent", "cwmsg:p:1:5"),
    }
    first = next(c for c in candidates if c.signal_type == "delivery_risk")
    assert (first.severity, first.confidence, first.source_kind) == (4, 0.82, "conversation")
    assert first.evidence_refs == [first.source_ref, "cw:p:1:9"]
    assert first.dedupe_key == sha1hex(f"P:delivery_risk:{first.source_ref}")


def test_linear_overdue_grouped_per_project():
    issues = [
        {
            "id": "linissue:w:b",
            "linear_project_external_id": "LP",
            "due_date": "2026-02-10",
            "completed_at": None,
        },
        {
            "id": "linissue:w:a",
            "linear_project_external_id": "LP",
            "due_date": "2026-02-16",
            "completed_at": None,
        },
        {
            "id": "linissue:w:c",
            "linear_project_external_id": "LP",
            "due_date": "2026-02-17",
            "completed_at": None,
        },
        {
            "id": "linissue:w:d",
            "linear_project_external_id": None,
            "due_date": "2026-01-01",
            "completed_at": "2026-01-02T00:00Z",
        },
        {
            "id": "linissue:w:e",
            "linear_project_external_id": None,
            "due_date": "2026-01-01",
            "completed_at": None,
        },
    ]
    candidates, _ = legacy_signal_candidates("P", linear_issues=issues, now=NOW)
    lp, unknown = candidates
    assert (lp.source_ref, lp.severity, lp.summary, lp.evidence_refs) == (
        "linear_project:LP",
        4,
        "Linear overdue issues: 2",
        ["linissue:w:a"],
    )
    assert lp.confidence == pytest.approx(0.76)
    assert (unknown.source_ref, unknown.severity) == ("linear_project:unknown", 3)


def test_open_deals_without_next_step():
    opps = [
        {"id": "o1", "title": "Renewal", "stage": "proposal", "next_step": " call ", "updated_at": NOW},
        {"id": "o2", "title": "Won deal", "stage": "Won 🎉", "next_step": None, "updated_at": NOW},
        {
            "id": "o3",
            "title": "Expansion",
            "stage": "negotiation",
            "next_step": "Send the contract",
            "updated_at": NOW,
        },
    ]
    [c], _ = legacy_signal_candidates("P", opportunities=opps, now=NOW)
    assert (c.signal_type, c.severity, c.confidence, c.source_kind, c.evidence_refs) == (
        "deal_without_next_step",
        3,
        0.72,
        "crm",
        ["o1"],
    )
    assert "Renewal" in c.summary


def test_candidates_without_evidence_are_dropped():
    candidates, dropped = legacy_signal_candidates(
        "P", messages=[msg(0, "urgent") | {"id": None, "conversation_global_id": None}], now=NOW
    )
    assert candidates == [] and dropped == 1


def test_signal_upsert_keeps_status_and_takes_maximums():
    [c], _ = legacy_signal_candidates("P", messages=[msg(1, "pricing")], now=NOW)
    existing = {"id": "s1", "severity": 5, "confidence": 0.5, "status": "accepted", "created_at": "t0"}
    merged = merge_legacy_signal(existing, c, NOW)
    assert (merged["severity"], merged["confidence"], merged["status"], merged["created_at"]) == (
        5,
        0.74,
        "accepted",
        "t0",
    )
    assert merge_legacy_signal(None, c, NOW)["status"] == "proposed"


@pytest.mark.parametrize(
    ("signal_type", "action", "priority"),
    [
        ("delivery_risk", "review_delivery_blockers", 5),
        ("delivery_overdue", "review_delivery_blockers", 5),
        ("commercial_pressure", "prepare_pricing_response", 4),
        ("upsell_intent", "prepare_upsell_offer", 4),
        ("urgency_increase", "align_priority_and_timeline", 4),
        ("deal_without_next_step", "triage_signal", 3),
    ],
)
def test_nba_mapping(signal_type, action, priority):
    nba = nba_for_signal(
        "P", {"id": "s1", "signal_type": signal_type, "summary": "x", "evidence_refs": ["e"]}
    )
    assert (nba.action_type, nba.priority, nba.evidence_refs) == (action, priority, ["e"])
    assert nba.dedupe_key == sha1hex(f"P:s1:{action}")


def test_nba_upsert_keeps_status_and_max_priority():
    nba = nba_for_signal(
        "P", {"id": "s1", "signal_type": "deal_without_next_step", "summary": "x", "evidence_refs": ["e"]}
    )
    merged = merge_nba({"priority": 5, "status": "done", "created_at": "t0"}, nba, NOW)
    assert (merged["priority"], merged["status"], merged["updated_at"]) == (5, "done", NOW)


def test_status_changes_share_one_vocabulary():
    row, changed = apply_legacy_signal_status({"status": "proposed"}, " Accepted ")
    assert (row["status"], changed) == ("accepted", True)
    same, changed = apply_legacy_signal_status(row, "accepted")
    assert same == row and changed is False
    with pytest.raises(InvalidStatus):
        apply_legacy_signal_status(row, "cancelled")  # NBA-only status

    nba, changed = apply_nba_status({"status": "proposed", "updated_at": "old"}, "proposed", NOW)
    assert (nba["updated_at"], changed) == (NOW, False)  # same status still refreshes updated_at
    assert apply_nba_status(nba, "cancelled", NOW)[0]["status"] == "cancelled"
    with pytest.raises(InvalidStatus):
        apply_nba_status(nba, "", NOW)


def test_top_nba_filters_and_orders():
    rows = [
        {"id": 1, "status": "proposed", "priority": 3, "updated_at": NOW},
        {"id": 2, "status": "done", "priority": 5, "updated_at": NOW},
        {"id": 3, "status": "accepted", "priority": 5, "updated_at": NOW - timedelta(hours=1)},
        {"id": 4, "status": "proposed", "priority": 5, "updated_at": NOW},
    ]
    assert [r["id"] for r in top_nba(rows)] == [4, 3, 1]
    assert [r["id"] for r in top_nba(rows, limit=0)] == [4]
