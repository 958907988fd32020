"""Daily and weekly digests (§A3, worked example G3): content, key fixed at acceptance, idempotency."""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from jobs.business.handlers import weekly_digest
from shared.business.digests import weekly_digest_params
from shared.db.models.business import DailyDigest, WeeklyDigest
from shared.db.models.platform import AuditEvent
from tests import business_seed as seed


def _count(rt, model) -> int:  # noqa: ANN001
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(model)) or 0


def _g3_project(api, clean) -> tuple[dict, list[dict]]:  # noqa: ANN001
    project = api.create_project("Proj P")
    seed.insert(clean, "signals", project, [seed.signal(status=s) for s in
                                            ("proposed", "proposed", "proposed", "accepted", "dismissed", "dismissed")])
    today = seed.today()
    seed.insert(clean, "linear_issues_raw", project, [seed.issue(due=today - timedelta(days=2)),
                                                      seed.issue(due=today - timedelta(days=1)),
                                                      seed.issue(due=today + timedelta(days=1))])
    seed.insert(clean, "outbound_messages", project, [seed.outbound(s) for s in
                                                      ["draft"] * 2 + ["approved", "failed"] + ["sent"] * 4])
    nbas = [seed.nba(priority=p, updated_at=seed.ago(minutes=i)) for i, p in enumerate((5, 5, 4, 4, 4, 3, 3, 2, 2, 1))]
    seed.insert(clean, "next_best_actions", project, nbas + [seed.nba(priority=5, status="done")])
    seed.insert(clean, "attio_opportunities_raw", project, [seed.attio_opportunity(s, 100) for s in
                                                            ("Proposal", None, "Won 🎉", "Lost", "negotiation")])
    return project, nbas


def test_g3_daily_digest_content_and_idempotency(api, clean, run_jobs) -> None:  # noqa: ANN001
    project, nbas = _g3_project(api, clean)
    first = api.post("/digests/daily/generate")
    assert first.status_code == 202
    job = first.get_json()["job"]
    assert job["meta"]["params"] == {"digest_date": seed.today().isoformat()} and job["job_type"] == "daily_digest"
    again = api.post("/v1/digests/daily/generate").get_json()["job"]
    assert (again["id"], again["deduplicated"]) == (job["id"], True)
    run_jobs("intelligence")

    [digest] = api.get("/digests/daily").get_json()["digests"]
    summary = digest["summary"]
    assert digest["digest_date"] == seed.today().isoformat()
    assert summary["project_id"] == project["id"] and summary["account_scope_id"] == project["account_scope_id"]
    assert summary["highlights"] == {"proposed_signals": 3, "overdue_issues": 2, "outbound_draft": 2,
                                     "outbound_approved": 1, "outbound_failed": 1}
    assert [n["id"] for n in summary["top_nba"]] == [str(n["id"]) for n in nbas[:8]]
    assert [n["priority"] for n in summary["top_nba"]] == [5, 5, 4, 4, 4, 3, 3, 2]
    assert digest["evidence_refs"] == [n["evidence_refs"][0] for n in nbas[:8]]
    result = api.get(f"/jobs/runs/{job['id']}").get_json()["job"]["meta"]["result"]
    assert result["digest_date"] == digest["digest_date"] and result["summary"] == summary
    with clean.session() as s:
        audit = s.scalar(select(AuditEvent).filter_by(action="digest.daily.generate"))
    assert (audit.entity_type, audit.entity_id, audit.payload) == (
        "daily_digest", digest["digest_date"], {"digest_date": digest["digest_date"]})
    assert len(audit.evidence_refs) == 8

    api.post("/digests/daily/generate")
    run_jobs("intelligence")
    [regenerated] = api.get("/digests/daily").get_json()["digests"]
    assert _count(clean, DailyDigest) == 1 and regenerated["id"] == digest["id"]
    assert regenerated["summary"]["generated_at"] > summary["generated_at"]
    assert regenerated["created_at"] > digest["created_at"]


def test_g3_weekly_digest(api, clean, run_jobs) -> None:  # noqa: ANN001
    project, _ = _g3_project(api, clean)
    api.post("/risk/refresh")
    run_jobs("intelligence")
    job = api.post("/digests/weekly/generate").get_json()["job"]
    monday = seed.today() - timedelta(days=seed.today().weekday())
    assert job["meta"]["params"] == {"week_start": monday.isoformat()}
    run_jobs("intelligence")
    [digest] = api.get("/digests/weekly").get_json()["digests"]
    summary = digest["summary"]
    assert digest["week_start"] == monday.isoformat()
    assert len(summary["growth"]["top_nba"]) == 10 and summary["growth"]["top_nba"][0]["priority"] == 5
    assert summary["portfolio"]["open_pipeline"] == 3
    assert summary["portfolio"]["revenue"] == [] and summary["portfolio"]["delivery"] is None
    assert summary["risk"]["health"]["score"] == api.get("/risk/overview").get_json()["health"]["score"]
    assert len(summary["risk"]["top_risks"]) == 1 and len(summary["risk"]["patterns"]) == 1
    radar_refs = summary["risk"]["top_risks"][0]["evidence_refs"]
    assert digest["evidence_refs"][:10] == [r for n in summary["growth"]["top_nba"] for r in [_nba_ref(clean, n)]]
    assert digest["evidence_refs"][10:] == radar_refs[:70]


def _nba_ref(rt, item: dict) -> str:  # noqa: ANN001
    from shared.db.service.business_inputs import table

    t = table("next_best_actions")
    with rt.session() as s:
        return s.scalar(select(t.c.evidence_refs).where(t.c.id == uuid.UUID(item["id"])))[0]


def test_week_start_by_acceptance_date_and_replacement(api, clean) -> None:  # noqa: ANN001
    project = api.create_project("Proj P")
    scope = seed.scope_of(project)
    cases = [(datetime(2026, 2, 17, 10, tzinfo=UTC), "2026-02-16"), (datetime(2026, 2, 22, 23, 59, tzinfo=UTC),
                                                                      "2026-02-16"),
             (datetime(2026, 2, 23, 0, 0, tzinfo=UTC), "2026-02-23")]
    for accepted_at, expected in cases:
        params = weekly_digest_params(accepted_at)
        assert params == {"week_start": expected}
        assert weekly_digest(scope, params, logging.getLogger("test"))["week_start"] == expected
    with clean.session() as s:
        weeks = sorted(str(w) for w in s.scalars(select(WeeklyDigest.week_start)))
    assert weeks == ["2026-02-16", "2026-02-23"]


def test_empty_project_digests_are_zeros(api, run_jobs) -> None:  # noqa: ANN001
    api.create_project("Proj E")
    api.post("/digests/daily/generate")
    api.post("/digests/weekly/generate")
    run_jobs("intelligence")
    daily = api.get("/digests/daily").get_json()["digests"][0]
    assert set(daily["summary"]["highlights"].values()) == {0} and daily["evidence_refs"] == []
    weekly = api.get("/digests/weekly?limit=500").get_json()["digests"][0]
    assert weekly["summary"]["risk"] == {"health": None, "top_risks": [], "patterns": []}
    assert weekly["summary"]["portfolio"]["open_pipeline"] == 0


def test_other_projects_digests_are_invisible(api, run_jobs) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    api.post("/digests/daily/generate")
    run_jobs("intelligence")
    api.create_project("Proj Q")
    assert api.get("/digests/daily").get_json()["digests"] == []
