"""Digests: worked example G3 (business.md §A3)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from jobs.business.digests import build_daily_digest, build_weekly_digest, count_open_pipeline
from shared.business.delivery import count_overdue_issues
from shared.business.digests import daily_digest_params, weekly_digest_params

NOW = datetime(2026, 2, 17, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
P, S = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"

SIGNAL_STATUSES = ["proposed"] * 3 + ["accepted"] + ["dismissed"] * 2
ISSUES = [{"completed_at": None, "due_date": date(2026, 2, 10)},
          {"completed_at": None, "due_date": date(2026, 2, 16)},
          {"completed_at": None, "due_date": date(2026, 2, 18)}]
OUTBOUND = ["draft"] * 2 + ["approved"] + ["failed"] + ["sent"] * 4


def g3_nbas() -> list[dict]:
    priorities = [5, 5, 4, 4, 4, 3, 3, 2, 2, 1]
    # the second priority-5 NBA is the most recently updated one
    return [{"id": f"n{i}", "signal_id": None, "action_type": "follow_up", "priority": p, "status": "proposed",
             "summary": f"nba {i}", "evidence_refs": [f"cwmsg:{i}"], "updated_at": NOW - timedelta(hours=10 - i)}
            for i, p in enumerate(priorities)] + [
        {"id": "done", "priority": 5, "status": "done", "evidence_refs": ["x"], "updated_at": NOW},
        {"id": "dismissed", "priority": 5, "status": "dismissed", "evidence_refs": ["y"], "updated_at": NOW},
    ]


def daily(generated_at: datetime):
    return build_daily_digest(
        project_id=P, account_scope_id=S, generated_at=generated_at,
        proposed_signals=Counter(SIGNAL_STATUSES)["proposed"],
        overdue_issues=count_overdue_issues(ISSUES, today=generated_at.date()),
        outbound_counts=Counter(OUTBOUND), nbas=g3_nbas())


def test_g3_daily_digest_content() -> None:
    assert daily_digest_params(NOW) == {"digest_date": "2026-02-17"}
    digest = daily(NOW)
    assert digest.summary["highlights"] == {"proposed_signals": 3, "overdue_issues": 2, "outbound_draft": 2,
                                            "outbound_approved": 1, "outbound_failed": 1}
    top = digest.summary["top_nba"]
    assert len(top) == 8
    assert [n["id"] for n in top[:2]] == ["n1", "n0"]  # the two priority-5 NBAs, most recently updated first
    assert [n["priority"] for n in top] == [5, 5, 4, 4, 4, 3, 3, 2]
    assert set(top[0]) == {"id", "action_type", "priority", "status", "summary"}
    assert len(digest.evidence_refs) == 8
    assert digest.evidence_refs[:2] == ["cwmsg:1", "cwmsg:0"]
    assert digest.summary["project_id"] == P and digest.summary["account_scope_id"] == S
    assert digest.summary["generated_at"] == "2026-02-17T10:00:00.000Z"
    assert digest.job_result("digest_date", TODAY)["digest_date"] == "2026-02-17"


def test_g3_regenerating_the_same_day_keeps_the_key_and_refreshes_generated_at() -> None:
    later = datetime(2026, 2, 17, 18, 0, tzinfo=UTC)
    assert daily_digest_params(later) == daily_digest_params(NOW)
    again = daily(later)
    assert again.summary["generated_at"] == "2026-02-17T18:00:00.000Z"
    assert again.summary["highlights"] == daily(NOW).summary["highlights"]


@pytest.mark.parametrize(("accepted_at", "week_start"), [
    (datetime(2026, 2, 17, 10, 0, tzinfo=UTC), "2026-02-16"),  # Tue
    (datetime(2026, 2, 22, 23, 59, tzinfo=UTC), "2026-02-16"),  # Sun: same row, replaced
    (datetime(2026, 2, 23, 0, 0, tzinfo=UTC), "2026-02-23"),  # Mon: new row
])
def test_g3_weekly_week_start(accepted_at: datetime, week_start: str) -> None:
    assert weekly_digest_params(accepted_at) == {"week_start": week_start}


def test_g3_weekly_digest_content() -> None:
    radar = [{"id": f"r{i}", "evidence_refs": [f"cw:{i}"]} for i in range(7)]
    risk_overview = {"health": {"score": 50.0, "factors": [], "generated_at": "x"}, "risks": radar,
                     "patterns": [{"id": f"p{i}"} for i in range(6)]}
    analytics_overview = {"revenue": [{"horizon_days": 30}], "delivery": None, "comms": None}
    stages = ["Proposal", "closed-won", None, "Lost", "Won 🎉", "In Progress"]
    digest = build_weekly_digest(project_id=P, account_scope_id=S, generated_at=NOW,
                                 open_pipeline=count_open_pipeline(stages), analytics_overview=analytics_overview,
                                 risk_overview=risk_overview, nbas=g3_nbas())
    summary = digest.summary
    assert len(summary["growth"]["top_nba"]) == 10  # all open NBAs (cap 12)
    assert len(summary["risk"]["top_risks"]) == 5 and len(summary["risk"]["patterns"]) == 5
    assert summary["risk"]["health"]["score"] == 50.0
    assert summary["portfolio"] == {"open_pipeline": 3, "revenue": [{"horizon_days": 30}], "delivery": None,
                                    "comms": None}
    # NBA refs first, then the refs of all radar items
    order = (1, 0, 4, 3, 2, 6, 5, 8, 7, 9)  # priority desc, then updated_at desc
    assert [n["id"] for n in summary["growth"]["top_nba"]] == [f"n{i}" for i in order]
    assert digest.evidence_refs == [f"cwmsg:{i}" for i in order] + [f"cw:{i}" for i in range(7)]


def test_weekly_refs_are_capped_at_80() -> None:
    nbas = [{"id": f"n{i}", "priority": 3, "status": "accepted", "evidence_refs": [f"a{i}-{j}" for j in range(10)],
             "updated_at": NOW} for i in range(12)]
    digest = build_weekly_digest(project_id=P, account_scope_id=S, generated_at=NOW, open_pipeline=0,
                                 analytics_overview={}, risk_overview={}, nbas=nbas)
    assert len(digest.evidence_refs) == 80


def test_empty_project_digest_is_zeros_and_nulls() -> None:
    digest = build_daily_digest(project_id=P, account_scope_id=S, generated_at=NOW, proposed_signals=0,
                                overdue_issues=0, outbound_counts={}, nbas=[])
    assert digest.summary["highlights"] == dict.fromkeys(
        ("proposed_signals", "overdue_issues", "outbound_draft", "outbound_approved", "outbound_failed"), 0)
    assert digest.summary["top_nba"] == [] and digest.evidence_refs == []
    weekly = build_weekly_digest(project_id=P, account_scope_id=S, generated_at=NOW, open_pipeline=0,
                                 analytics_overview={"revenue": [], "delivery": None, "comms": None},
                                 risk_overview={"health": None, "risks": [], "patterns": []}, nbas=[])
    assert weekly.summary["risk"] == {"health": None, "top_risks": [], "patterns": []}
