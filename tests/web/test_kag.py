"""The KAG v1 and legacy signal/NBA routes (kag.md §16, §19): scope, validation codes (4xx, never 500),
scope isolation, the 202 contract and feature flags that never change a shape."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

import pytest
from sqlalchemy import select

from shared.db.models.kag import KagEventLog, KagRecommendation, KagScore, KagSignal, LegacySignal, NextBestAction
from shared.db.models.platform import AuditEvent, JobRun
from tests.conftest import Api
from tests.jobs.kag_v1_support import NOW, add_events, scope_of, w1_specs

LISTS = {"/kag/signals": "signals", "/kag/scores": "scores", "/kag/recommendations": "recommendations",
         "/kag/events": "events", "/signals": "signals", "/nba": "items"}
ID = "11111111-1111-4111-8111-111111111111"
ROUTES = [("GET", p) for p in LISTS] + [("POST", "/kag/refresh"), ("POST", "/signals/extract"),
                                        ("POST", f"/signals/{ID}/status"), ("POST", f"/nba/{ID}/status"),
                                        ("POST", "/signals/not-a-uuid/status")]


def seed_rows(rt: Any, scope: Any) -> dict[str, str]:
    """One stored row of every kind, as the stages would have written them."""
    now = datetime(2026, 2, 17, 12, tzinfo=UTC)
    ref = [{"message_id": "m1"}]
    with rt.transaction() as s:
        signal = LegacySignal(signal_type="delivery_risk", severity=4, confidence=0.82, summary="late", dedupe_key="a",
                              evidence_refs=["cw:7:m1"], **scope.as_filter())
        s.add(signal)
        s.flush()
        nba = NextBestAction(signal_id=signal.id, action_type="review_delivery_blockers", priority=5, summary="x",
                             evidence_refs=["cw:7:m1"], dedupe_key="b", **scope.as_filter())
        s.add_all([nba,
                   KagSignal(signal_key="blockers_age", value=1, status="ok", threshold_warn=3, threshold_critical=5,
                             details={}, evidence_refs=ref, computed_at=now, **scope.as_filter()),
                   KagScore(score_type="risk", score=12.5, level="low", computed_at=now, **scope.as_filter()),
                   KagRecommendation(category="delivery_risk", priority=4, title="t", rationale="r",
                                     suggested_template_key="delivery_risk_escalation", suggested_template="b",
                                     evidence_refs=ref, dedupe_key="c", **scope.as_filter()),
                   KagEventLog(event_type="message_sent", occurred_at=now, actor="client", source="chatwoot",
                               source_ref="m1", dedupe_key="d", **scope.as_filter())])
        s.flush()
        return {"signal": str(signal.id), "nba": str(nba.id)}


def set_flags(monkeypatch: pytest.MonkeyPatch, runtime: Any, **flags: bool) -> None:
    merged = dict(runtime.settings.flags, **flags)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, flags=MappingProxyType(merged)))


# --- scope, auth, prefix ----------------------------------------------------------------------------------
# (one behaviour per test, looping over the routes: each test pays for a truncated database and a login)
def test_every_route_needs_a_session_then_an_active_project(api: Api, app) -> None:
    anonymous = app.test_client()
    api.create_project("Unselected", select=False)
    for method, path in ROUTES:
        resp = anonymous.get(path) if method == "GET" else anonymous.post(path, json={})
        assert (resp.status_code, resp.get_json()["error"]) == (401, "unauthorized"), path
        resp = api.get(path) if method == "GET" else api.post(path, {"status": "bogus"})
        assert (resp.status_code, resp.get_json()["error"]) == (409, "active_project_required"), path


def test_lists_answer_the_usual_shape_when_nothing_is_stored(api: Api) -> None:
    api.create_project()
    for prefix in ("", "/v1"):
        for path, key in LISTS.items():
            body = api.get(prefix + path).get_json()
            assert body["ok"] is True and body[key] == [] and body["request_id"], prefix + path


def test_other_projects_rows_are_invisible_and_their_ids_not_found(api: Api, runtime) -> None:
    other = scope_of(api.create_project("Other", scope_key="other-scope", select=False))
    ids = seed_rows(runtime, other)
    mine = scope_of(api.create_project("Mine"))
    for path, key in LISTS.items():
        assert api.get(path).get_json()[key] == [], path
    for route, name in ((f"/signals/{ids['signal']}/status", "signal"), (f"/nba/{ids['nba']}/status", "nba")):
        resp = api.post(route, {"status": "accepted"})
        assert (resp.status_code, resp.get_json()["error"]) == (404, f"{name}_not_found")
        assert name not in resp.get_json() and "item" not in resp.get_json()
    with runtime.session() as s:
        assert s.scalar(select(LegacySignal.status).where(LegacySignal.id == uuid.UUID(ids["signal"]))) == "proposed"
    seed_rows(runtime, mine)
    assert all(len(api.get(path).get_json()[key]) == 1 for path, key in LISTS.items())


# --- validation: 4xx with the spec's codes, never 500 ---------------------------------------------------------
BAD_FILTERS = [
    ("/kag/recommendations", {"status": "new"}, "invalid_status"),
    ("/kag/events", {"type": "issue_exploded"}, "invalid_type"),
    ("/kag/events", {"source": "slack"}, "invalid_source"),
    ("/signals", {"status": "cancelled"}, "invalid_status"),
    ("/signals", {"severity_min": "high"}, "invalid_severity_min"),
    ("/signals", {"severity_min": "2.5"}, "invalid_severity_min"),
    ("/nba", {"status": "open"}, "invalid_status"),
]
GOOD_FILTERS = [
    ("/kag/recommendations", {"status": " Proposed "}), ("/kag/events", {"type": "PROCESS_WARNING", "source": ""}),
    ("/kag/events", {"source": "System"}), ("/signals", {"severity_min": "9", "status": ""}),
    ("/signals", {"severity_min": "-1"}), ("/nba", {"status": "cancelled"}),
]


def test_query_parameters_follow_the_platform_rules(api: Api) -> None:
    api.create_project()
    for path in LISTS:
        for limit in ("abc", "1.5", "1e3"):
            resp = api.get(path, query_string={"limit": limit})
            assert (resp.status_code, resp.get_json()["error"]) == (400, "invalid_limit"), (path, limit)
        for limit in ("", "0", "-3", "999999"):
            assert api.get(path, query_string={"limit": limit}).status_code == 200, (path, limit)
    for path, query, code in BAD_FILTERS:
        resp = api.get(path, query_string=query)
        assert (resp.status_code, resp.get_json()["error"]) == (400, code), (path, query)
    for path, query in GOOD_FILTERS:
        assert api.get(path, query_string=query).status_code == 200, (path, query)


BAD_STATUS_BODIES = [{}, {"status": ""}, {"status": "   "}, {"status": "archived"}, {"status": 3}, {"status": None},
                     {"status": ["done"]}, {"state": "done"}]


def test_status_changes_reject_bad_statuses_and_ids(api: Api, runtime) -> None:
    ids = seed_rows(runtime, scope_of(api.create_project()))
    for kind, base in (("signal", "signals"), ("nba", "nba")):
        for body in BAD_STATUS_BODIES:
            resp = api.post(f"/{base}/{ids[kind]}/status", body)
            assert (resp.status_code, resp.get_json()["error"]) == (400, "invalid_status"), (kind, body)
        for bad in ("123", "zz-not-uuid", ID[:-1]):
            resp = api.post(f"/{base}/{bad}/status", {"status": "done"})
            assert (resp.status_code, resp.get_json()["error"]) == (400, f"invalid_{kind}_id"), (kind, bad)
        resp = api.post(f"/{base}/{ID}/status", {"status": "done"})
        assert (resp.status_code, resp.get_json()["error"]) == (404, f"{kind}_not_found")
    assert api.post(f"/signals/{ids['signal']}/status", {"status": "cancelled"}).get_json()["error"] == (
        "invalid_status")  # cancelled is an NBA status only
    assert api.post(f"/nba/{ids['nba']}/status", {"status": "CANCELLED"}).get_json()["item"]["status"] == "cancelled"


def test_platform_body_rules(api: Api) -> None:
    api.create_project()
    headers = {"x-csrf-token": api.csrf or ""}
    for path in ("/kag/refresh", "/signals/extract", f"/nba/{ID}/status"):
        malformed = api.client.post(path, data="{nope", content_type="application/json", headers=headers)
        assert (malformed.status_code, malformed.get_json()["error"]) == (400, "invalid_json")
        array = api.client.post(path, data="[1]", content_type="application/json", headers=headers)
        assert (array.status_code, array.get_json()["error"]) == (400, "invalid_body")
        form = api.client.post(path, data="status=done", content_type="text/plain", headers=headers)
        assert (form.status_code, form.get_json()["error"]) == (415, "unsupported_media_type")
        csrf = api.client.post(path, json={})
        assert (csrf.status_code, csrf.get_json()["error"]) == (403, "csrf_invalid")


# --- the 202 contract, audit and flags -----------------------------------------------------------------------------
def test_refresh_answers_202_and_a_second_trigger_returns_the_run_in_flight(api: Api, runtime) -> None:
    scope = scope_of(api.create_project())
    first = api.post("/v1/kag/refresh")
    assert first.status_code == 202
    job = first.get_json()["job"]
    assert (job["job_type"], job["queue"], job["status"], job["deduplicated"]) == (
        "kag_recommendations_refresh", "kag_signals", "queued", False)
    assert first.headers["Location"] == f"/v1/jobs/runs/{job['id']}"
    second = api.post("/kag/refresh").get_json()["job"]
    assert (second["id"], second["deduplicated"]) == (job["id"], True)
    extract = api.post("/signals/extract").get_json()["job"]
    assert (extract["job_type"], extract["queue"]) == ("signals_extraction", "intelligence")
    with runtime.session() as s:
        actions = set(s.scalars(select(AuditEvent.action).filter_by(status="queued", **scope.as_filter())))
    assert actions == {"job.kag_recommendations_refresh", "job.signals_extraction"}


def test_kag_disabled_still_202_and_the_run_ends_ok_with_the_fixed_payload(api: Api, runtime, run_jobs,
                                                                           monkeypatch) -> None:
    scope = scope_of(api.create_project())
    add_events(runtime, scope, *w1_specs())
    set_flags(monkeypatch, runtime, KAG_ENABLED=False)
    resp = api.post("/kag/refresh")
    assert resp.status_code == 202
    run_jobs("kag_signals")
    job = api.get(resp.headers["Location"]).get_json()["job"]
    assert job["status"] == "ok" and job["meta"]["result"] == {
        "enabled": False, "recommendations_enabled": False, "skipped": "kag_disabled", "touched_signals": 0,
        "touched_scores": 0, "touched_recommendations": 0, "processed_events": 0}
    for path, key in LISTS.items():
        body = api.get(path).get_json()
        assert body["ok"] is True and body[key] == [], path


def test_recommendations_disabled_keeps_the_result_shape_and_drops_v2_from_the_chain(
        api: Api, runtime, run_jobs, monkeypatch) -> None:
    monkeypatch.setattr("jobs.kag.handlers_common.clock", lambda: NOW)
    scope = scope_of(api.create_project())
    add_events(runtime, scope, *w1_specs())
    set_flags(monkeypatch, runtime, RECOMMENDATIONS_ENABLED=False, KAG_SNAPSHOTS_ENABLED=False)
    resp = api.post("/kag/refresh")
    run_jobs("kag_signals")
    result = api.get(resp.headers["Location"]).get_json()["job"]["meta"]["result"]
    assert (result["enabled"], result["recommendations_enabled"], result["touched_recommendations"],
            result["generated_recommendations"], result["touched_signals"], result["touched_scores"]) == (
        True, False, 0, 0, 10, 4)
    assert result["follow_up"]["job_type"] == "kag_v2_forecast_refresh"
    with runtime.session() as s:
        chained = s.scalar(select(JobRun).filter_by(id=result["follow_up"]["job_run_id"]))
    assert chained.meta["params"]["chain"] == [] and chained.meta["params"]["parent_job_run_id"] == int(
        resp.get_json()["job"]["id"])
    assert api.get("/kag/recommendations").get_json()["recommendations"] == []
    assert len(api.get("/kag/signals").get_json()["signals"]) == 10
