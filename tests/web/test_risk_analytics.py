"""Risk refresh (§A4, G2) and analytics refresh (§A5, G5) end to end: 202 route → worker → tables → reads."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from shared.db.models.business import (
    AnalyticsCommsSnapshot,
    AnalyticsDeliverySnapshot,
    AnalyticsRevenueSnapshot,
    HealthScore,
    RiskPatternEvent,
    RiskRadarItem,
)
from shared.db.models.platform import AuditEvent
from tests import business_seed as seed


def _count(rt, model, **filters) -> int:  # noqa: ANN001
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**filters)) or 0


def _refresh(api, run_jobs, path: str, body: dict | None = None) -> dict:  # noqa: ANN001
    resp = api.post(path, body or {})
    assert resp.status_code == 202, resp.get_json()
    job = resp.get_json()["job"]
    assert resp.headers["Location"].endswith(f"/jobs/runs/{job['id']}") and job["queue"] == "intelligence"
    run_jobs("intelligence")
    done = api.get(f"/jobs/runs/{job['id']}").get_json()["job"]
    assert done["status"] == "ok", done
    return done


def test_g2_risk_formulas_and_upserts(api, clean, run_jobs) -> None:  # noqa: ANN001
    project = api.create_project("Proj P")
    seed.insert(clean, "signals", project, [seed.signal(5, 0.9) for _ in range(60)]
                + [seed.signal(5, 1, status="dismissed")])
    seed.insert(clean, "linear_issues_raw", project,
                [seed.issue(due=seed.today() - timedelta(days=3)) for _ in range(7)]
                + [seed.issue(due=seed.today()), seed.issue(completed=True, due=seed.today() - timedelta(days=9))])
    seed.insert(clean, "job_runs", project, [seed.failed_run(seed.ago(days=d)) for d in (1, 2, 6)]
                + [seed.failed_run(seed.ago(days=d)) for d in (8, 30)])
    assert api.get("/risk/overview").get_json() | {"request_id": None} == {
        "ok": True, "health": None, "risks": [], "patterns": [], "request_id": None}

    job = _refresh(api, run_jobs, "/risk/refresh")
    expected_factors = [{"key": "signal_pressure", "value": 27.0}, {"key": "overdue_pressure", "value": 14.0},
                        {"key": "failed_job_pressure", "value": 9.0}]
    assert job["meta"]["result"] == {"health_score": 50.0, "factors": expected_factors, "total_pressure": 50.0}
    body = api.get("/risk/overview").get_json()
    assert body["health"]["score"] == 50.0 and body["health"]["factors"] == expected_factors
    [radar] = body["risks"]
    assert (radar["severity"], radar["probability"], radar["status"]) == (3, 0.5, "open")
    assert radar["title"] == "Project delivery/commercial risk composite" and len(radar["evidence_refs"]) == 25
    [pattern] = body["patterns"]
    assert (pattern["pattern_key"], pattern["weight"], pattern["status"]) == ("delivery_risk_cluster", 0.5, "open")
    assert len(pattern["mitigation_playbook"]["playbook"]) == 4
    with clean.session() as s:
        audit = s.scalar(select(AuditEvent).filter_by(action="risk.refresh"))
    assert (audit.entity_type, audit.entity_id, audit.actor_username) == ("risk_pattern", project["id"], "operator")
    assert audit.payload["health_score"] == 50.0

    with clean.transaction() as s:  # the operator mitigates: the status is kept by the next refresh
        s.execute(update(RiskRadarItem).values(status="mitigating"))
    _refresh(api, run_jobs, "/v1/risk/refresh")
    assert _count(clean, HealthScore) == 2 and _count(clean, RiskPatternEvent) == 1
    assert _count(clean, RiskRadarItem, radar_key="project_composite") == 1
    body = api.get("/risk/overview").get_json()
    assert body["health"]["score"] == 50.0 and body["risks"][0]["status"] == "mitigating"

    with clean.transaction() as s:  # closed by an operator: the next refresh opens a new item
        s.execute(update(RiskRadarItem).values(status="closed"))
        s.execute(update(RiskPatternEvent).values(status="ignored", weight=0.1))
    _refresh(api, run_jobs, "/risk/refresh")
    assert _count(clean, RiskRadarItem, radar_key="project_composite") == 2
    assert _count(clean, RiskRadarItem, status="open") == 1
    assert api.get("/risk/overview").get_json()["patterns"][0]["weight"] == 0.1  # ignored: left unchanged


def test_g2_saturation(api, clean, run_jobs) -> None:  # noqa: ANN001
    project = api.create_project("Proj S")
    seed.insert(clean, "signals", project, [seed.signal(5, 1) for _ in range(200)])
    seed.insert(clean, "linear_issues_raw", project, [seed.issue(due=seed.today() - timedelta(days=1))
                                                      for _ in range(50)])
    seed.insert(clean, "job_runs", project, [seed.failed_run(seed.ago(hours=h)) for h in range(1, 11)])
    assert _refresh(api, run_jobs, "/risk/refresh")["meta"]["result"]["health_score"] == 10.0
    body = api.get("/risk/overview").get_json()
    assert body["health"]["score"] == 10.0 and body["health"]["factors"][0]["value"] == 40.0
    assert (body["risks"][0]["severity"], body["risks"][0]["probability"]) == (5, 0.9)
    assert body["patterns"][0]["weight"] == 0.9


def test_empty_project_refresh_never_fails(api, run_jobs) -> None:  # noqa: ANN001
    api.create_project("Proj E")
    assert _refresh(api, run_jobs, "/risk/refresh")["meta"]["result"]["health_score"] == 100.0
    assert api.get("/risk/overview").get_json()["risks"][0]["severity"] == 1
    result = _refresh(api, run_jobs, "/analytics/refresh")["meta"]["result"]
    assert result["pipeline_amount"] == 0 and result["inbound_messages"] == 0


def test_g5_analytics_refresh_numbers(api, clean, run_jobs) -> None:  # noqa: ANN001
    project = api.create_project("Proj P")
    today = seed.today()
    period_start = today - timedelta(days=30)
    seed.insert(clean, "attio_opportunities_raw", project, [
        seed.attio_opportunity("Proposal", 10000, 0.5), seed.attio_opportunity("closed-won", 5000, 1.0),
        seed.attio_opportunity(None, 2000, 0.1), seed.attio_opportunity("Lost", 7000, 0.3)])
    seed.insert(clean, "linear_issues_raw", project, [
        seed.issue(completed=True), seed.issue(completed=True), seed.issue(due=today - timedelta(days=1)),
        seed.issue(due=today + timedelta(days=1)), seed.issue()])
    recent = seed.ago(days=1)
    seed.insert(clean, "cw_messages", project, [
        seed.message(created_at=recent, contact=c) for c in ("cwc:A", "cwc:A", "cwc:B", "cwc:C", None)]
        + [seed.message(created_at=seed.ago(days=32), contact="cwc:D") for _ in range(2)])

    job = _refresh(api, run_jobs, "/analytics/refresh", {"period_days": 30})
    assert job["meta"]["params"] == {"period_days": 30}
    assert job["meta"]["result"] == {
        "period_start": period_start.isoformat(), "period_end": today.isoformat(), "pipeline_amount": 12000.0,
        "expected_revenue": 5200.0, "open_issues": 3, "overdue_issues": 1, "inbound_messages": 5}
    body = api.get("/analytics/overview").get_json()
    assert body["comms"]["unique_contacts"] == 3 and body["comms"]["inbound_messages"] == 5
    assert (body["delivery"]["completed_issues"], body["delivery"]["throughput"]) == (2, 2)
    assert body["delivery"]["period_start"] == period_start.isoformat()
    assert sorted(r["horizon_days"] for r in body["revenue"]) == [30, 60, 90]
    for row in body["revenue"]:
        assert (row["pipeline_amount"], row["commit_amount"], row["expected_revenue"], row["gross_margin"],
                row["won_amount"]) == (12000, 5200, 5200, 5200, 0)
    with clean.session() as s:
        assert {str(p) for p in s.scalars(select(AnalyticsRevenueSnapshot.period_start))} == {
            today.replace(day=1).isoformat()}
        audit = s.scalar(select(AuditEvent).filter_by(action="analytics.refresh"))
    assert audit.entity_type == "analytics_snapshot" and audit.payload["expected_revenue"] == 5200.0

    _refresh(api, run_jobs, "/analytics/refresh", {"period_days": "30"})
    assert (_count(clean, AnalyticsDeliverySnapshot), _count(clean, AnalyticsCommsSnapshot),
            _count(clean, AnalyticsRevenueSnapshot)) == (1, 1, 3)


def test_period_days_is_clamped_at_acceptance(api, run_jobs) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    for raw, clamped in ((0, 1), (500, 120), ("abc", 30), ("12abc", 12), (None, 30)):
        job = api.post("/analytics/refresh", {"period_days": raw}).get_json()["job"]
        assert job["meta"]["params"] == {"period_days": clamped}, raw
        run_jobs("intelligence")
    first = api.post("/analytics/refresh").get_json()["job"]
    second = api.post("/analytics/refresh", {"period_days": 5}).get_json()["job"]
    assert (second["id"], second["deduplicated"], first["deduplicated"]) == (first["id"], True, False)
    resp = api.post("/analytics/refresh", {"period_days": 5}, headers={"content-type": "text/plain"})
    assert resp.status_code in (400, 415)


def test_drilldown_filters_on_source_type_or_table(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    api.post("/crm/accounts", {"name": "Acme", "evidence_refs": [
        "cwmsg:1", {"ref": "doc-7", "source": "Notion", "snippet": "agreement"}]})
    assert {e["source_pk"] for e in api.get("/analytics/drilldown").get_json()["evidence"]} == {"cwmsg:1", "doc-7"}
    assert [e["source_pk"] for e in api.get("/analytics/drilldown?source= CW_MESSAGES ").get_json()["evidence"]] == [
        "cwmsg:1"]
    only = api.get("/analytics/drilldown?source=notion&limit=1").get_json()["evidence"]
    assert [(e["source_pk"], e["source_table"], e["snippet"]) for e in only] == [("doc-7", "external", "agreement")]
    assert api.get("/analytics/drilldown?source=nothing").get_json()["evidence"] == []
    assert api.get("/analytics/drilldown?limit=x").get_json()["error"] == "invalid_limit"
