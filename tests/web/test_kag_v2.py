"""KAG v2 routes (kag.md §16, §19): shapes, lifecycle, feedback, shown tracking, scope, bad input."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from shared.db.models.kag_v2 import RecommendationV2
from shared.db.models.platform import AuditEvent
from tests.conftest import Api
from tests.jobs.kag_v2_support import scope_of, seed_outcome, seed_signature

REFS = [{"message_id": "m-1"}]
W6_A = {  # kag.md §20 W6 part A
    "A": ([0.42, 0.58, 0.48, 0.35], ["message_sent>scope_change_detected", "issue_blocked>issue_blocked"],
          "delivery/md/proposal"),
    "B": ([0.30, 0.65, 0.55, 0.40], ["message_sent>scope_change_detected"], "delivery/md/negotiation"),
    "C": ([0.10, 0.20, 0.20, 0.10], ["message_sent>message_sent"], "support/xs/discovery"),
    "D": ([0.44, 0.57, 0.51, 0.33], ["issue_blocked>issue_blocked", "issue_blocked>issue_unblocked"],
          "delivery/md/proposal"),
}


def seed_rec(rt, scope, category: str = "waiting_on_client", priority: int = 4, **extra) -> str:
    rec = RecommendationV2(
        id=uuid.uuid4(), category=category, priority=priority, title=f"{category} title", rationale="why",
        evidence_refs=REFS, links=["chatwoot://message/m-1"], suggested_template_key="t", suggested_template="body",
        dedupe_key=uuid.uuid4().hex, owner_role="pm", **scope.as_filter(), **extra)
    with rt.transaction() as s:
        s.add(rec)
    return str(rec.id)


def status(api: Api, rec_id: str, value: object):  # noqa: ANN201
    return api.post(f"/kag/v2/recommendations/{rec_id}/status", {"status": value})


def test_w6a_similar_cases_route_ranks_stored_signatures_and_explains_them(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Source", scope_key="w6a"))
    seed_signature(runtime, scope, [0.4, 0.6, 0.5, 0.3],
                   ["message_sent>scope_change_detected", "issue_blocked>issue_blocked"], "delivery/md/proposal")
    cases = {name: scope_of(api.create_project(f"Case {name}", scope_key="w6a", select=False)) for name in W6_A}
    for name, (vector, ngrams, ctx) in W6_A.items():
        seed_signature(runtime, cases[name], vector, ngrams, ctx)
    seed_outcome(runtime, cases["A"], "delivery_risk", 4, REFS)
    ids = {str(case.project_id): name for name, case in cases.items()}

    body = api.get("/kag/similar-cases", query_string={"top_k": "3"}).get_json()
    assert body["signature_status"] == "ok" and body["signature_computed_at"] == "2026-02-17T12:00:00.000Z"
    top = body["all"]
    assert [ids[c["case_project_id"]] for c in top] == ["A", "D", "B"]
    assert [c["similarity_score"] for c in top] == pytest.approx([0.9656, 0.7665, 0.7381], abs=0.0005)
    assert [c["why_similar"] for c in top] == [
        "time_series=0.943, event_sequence=1.000, context=1.000",
        "time_series=0.944, event_sequence=0.333, context=1.000",
        "time_series=0.863, event_sequence=0.500, context=0.700"]
    assert top[1]["key_shared_patterns"] == ["issue_blocked>issue_blocked"]
    assert top[0]["case_project_name"] == "Case A" and top[0]["outcomes_seen"][0]["outcome_type"] == "delivery_risk"
    assert top[0]["components"] == {"time_series": 0.9427, "event_sequence": 1.0, "context": 1.0}
    assert [f["feature"] for f in top[0]["closest_features"]] == ["waiting", "blockers_age", "stage_overdue"]
    assert body["cases"] == top  # first 3


def test_status_lifecycle_follows_the_matrix_and_is_audited(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Lifecycle"))
    rec_id = seed_rec(runtime, scope)

    ack = status(api, rec_id, " Acknowledged ").get_json()["recommendation"]
    assert ack["status"] == "acknowledged" and ack["completed_at"] is None
    again = status(api, rec_id, "acknowledged").get_json()["recommendation"]
    assert again["updated_at"] == ack["updated_at"]  # same status twice: untouched
    done = status(api, rec_id, "done").get_json()["recommendation"]
    assert done["status"] == "done" and done["completed_at"] is not None
    for target in ("acknowledged", "dismissed"):
        resp = status(api, rec_id, target)
        assert (resp.status_code, resp.get_json()["error"]) == (409, "invalid_transition")
    reopened = status(api, rec_id, "new").get_json()["recommendation"]
    assert reopened["status"] == "new" and reopened["completed_at"] is None
    assert status(api, rec_id, "dismissed").status_code == 200
    with runtime.session() as s:
        audits = s.scalars(select(AuditEvent.payload).filter_by(action="kag.v2.recommendation.status_update")
                           .order_by(AuditEvent.id)).all()
    assert [(a["from"], a["to"]) for a in audits] == [("new", "acknowledged"), ("acknowledged", "done"),
                                                      ("done", "new"), ("new", "dismissed")]


def test_feedback_is_independent_of_status_trimmed_and_audited(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Feedback"))
    rec_id = seed_rec(runtime, scope, status="done")
    path = f"/kag/v2/recommendations/{rec_id}/feedback"
    got = api.post(path, {"helpful": "Not_Helpful", "note": "  " + "x" * 2500}).get_json()["recommendation"]
    assert (got["helpful_feedback"], len(got["feedback_note"]), got["status"]) == ("not_helpful", 2000, "done")
    got = api.post(path, {"note": "   "}).get_json()["recommendation"]
    assert (got["helpful_feedback"], got["feedback_note"]) == ("unknown", None)
    assert api.post(path, {"helpful": True}).get_json()["recommendation"]["helpful_feedback"] == "helpful"
    with runtime.session() as s:
        assert len(s.scalars(select(AuditEvent).filter_by(action="kag.v2.recommendation.feedback")).all()) == 3


def test_list_marks_shown_and_all_projects_spans_the_account_scope(api: Api, runtime) -> None:
    a = scope_of(api.create_project("Alpha", scope_key="acme"))
    b = scope_of(api.create_project("Beta", scope_key="acme", select=False))
    other = scope_of(api.create_project("Elsewhere", scope_key="other", select=False))
    high, low = seed_rec(runtime, a, priority=5), seed_rec(runtime, b, category="finance_risk", priority=3)
    seed_rec(runtime, other)

    mine = api.get("/kag/v2/recommendations").get_json()["recommendations"]
    assert [r["id"] for r in mine] == [high] and mine[0]["shown_count"] == 1 and "project_name" not in mine[0]
    assert mine[0]["first_shown_at"] == mine[0]["last_shown_at"]
    both = api.get("/kag/v2/recommendations", query_string={"all_projects": "TRUE"}).get_json()["recommendations"]
    assert [r["id"] for r in both] == [high, low]
    assert [r["shown_count"] for r in both] == [2, 1]
    assert both[1]["project_name"] == "Beta" and both[1]["project_badge_color"].startswith("#")
    assert len(both[1]["project_badge_color"]) == 7
    peek = api.get("/kag/v2/recommendations", query_string={"all_projects": "1", "mark_shown": "0"}).get_json()
    assert [r["shown_count"] for r in peek["recommendations"]] == [2, 1]
    # handled from the all_projects list without switching project (account-scope lookup)
    assert status(api, low, "acknowledged").get_json()["recommendation"]["project_id"] == str(b.project_id)
    filtered = api.get("/kag/v2/recommendations", query_string={"status": "acknowledged", "all_projects": "true",
                                                                "mark_shown": "false"}).get_json()
    assert [r["id"] for r in filtered["recommendations"]] == [low]


def test_other_scope_rows_are_invisible_and_not_found(api: Api, runtime) -> None:
    theirs = scope_of(api.create_project("Theirs", scope_key="them"))
    their_rec = seed_rec(runtime, theirs)
    seed_outcome(runtime, theirs, "client_risk", 4, REFS)
    api.create_project("Mine", scope_key="us")
    assert api.get("/kag/v2/recommendations?all_projects=true").get_json()["recommendations"] == []
    assert api.get("/kag/outcomes").get_json()["outcomes"] == []
    for resp in (status(api, their_rec, "done"), api.post(f"/kag/v2/recommendations/{their_rec}/feedback", {})):
        assert (resp.status_code, resp.get_json()["error"]) == (404, "recommendation_not_found")
    for resp in (api.get("/kag/similar-cases", query_string={"project_id": str(theirs.project_id)}),
                 api.post("/kag/similarity/rebuild", {"project_id": str(theirs.project_id)})):
        assert (resp.status_code, resp.get_json()["error"]) == (404, "project_not_found")


def test_refresh_routes_answer_202_and_deduplicate_in_flight_runs(api: Api, runtime) -> None:
    api.create_project("Triggers")
    for path, body, job_type, params in (
            ("/kag/snapshots/refresh", {"snapshot_date": "2026-02-17T23:30:00-02:00"}, "project_snapshot_daily",
             {"snapshot_date": "2026-02-18"}),
            ("/kag/similarity/rebuild", {"window_days": 7}, "case_signatures_refresh", {"window_days": 7}),
            ("/kag/v2/forecast/refresh", {"top_k": "500"}, "kag_v2_forecast_refresh",
             {"window_days": 14, "top_k": 50}),
            ("/kag/v2/recommendations/refresh", None, "kag_v2_recommendations_refresh", {})):
        first = api.post(path, body)
        assert first.status_code == 202, first.get_json()
        job = first.get_json()["job"]
        assert (job["job_type"], job["deduplicated"]) == (job_type, False)
        assert params.items() <= job["meta"]["params"].items()
        assert first.headers["Location"] == f"/jobs/runs/{job['id']}"
        second = api.post("/v1" + path, body)
        assert second.get_json()["job"]["id"] == job["id"] and second.get_json()["job"]["deduplicated"] is True
    with runtime.session() as s:
        actions = s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("job.%"))).all()
    assert sorted(actions) == sorted(["job.project_snapshot_daily", "job.case_signatures_refresh",
                                      "job.kag_v2_forecast_refresh", "job.kag_v2_recommendations_refresh"])
    assert runtime.redis.llen("rq:queue:kag_forecast") == 1


def test_reads_have_their_shape_when_nothing_is_stored(api: Api) -> None:
    api.create_project("Empty")
    assert api.get("/kag/snapshots").get_json()["snapshots"] == []
    assert api.get("/kag/outcomes?outcome_type=").get_json()["outcomes"] == []
    assert {k: v for k, v in api.get("/kag/v2/forecast").get_json().items() if k not in ("ok", "request_id")} == {
        "forecasts": [], "similar_cases_top3": []}
    assert api.get("/kag/similar-cases").get_json()["signature_status"] == "missing"
    assert api.get("/kag/v2/recommendations").get_json()["recommendations"] == []


FUTURE = f"{datetime.now(UTC).year + 1}-01-01"
BAD_INPUT = [
    ("GET", "/kag/snapshots?limit=abc", None, 400, "invalid_limit"),
    ("GET", "/kag/snapshots?include_unpublished=maybe", None, 400, "invalid_boolean"),
    ("GET", "/kag/outcomes?limit=1.5", None, 400, "invalid_limit"),
    ("GET", "/kag/similar-cases?window_days=10", None, 400, "invalid_window_days"),
    ("GET", "/kag/similar-cases?top_k=x", None, 400, "invalid_top_k"),
    ("GET", "/kag/similar-cases?project_id=nope", None, 400, "invalid_project_id"),
    ("GET", f"/kag/similar-cases?project_id={uuid.uuid4()}", None, 404, "project_not_found"),
    ("GET", "/kag/v2/forecast?top_k=0.5", None, 400, "invalid_top_k"),
    ("GET", "/kag/v2/forecast?window_days=abc", None, 400, "invalid_window_days"),
    ("GET", "/kag/v2/recommendations?status=open", None, 400, "invalid_status"),
    ("GET", "/kag/v2/recommendations?all_projects=yes", None, 400, "invalid_boolean"),
    ("GET", "/kag/v2/recommendations?limit=-", None, 400, "invalid_limit"),
    ("POST", "/kag/snapshots/refresh", {"snapshot_date": "17/02/2026"}, 400, "invalid_snapshot_date"),
    ("POST", "/kag/snapshots/refresh", {"snapshot_date": FUTURE}, 400, "invalid_snapshot_date"),
    ("POST", "/kag/snapshots/refresh", {"snapshot_date": 20260217}, 400, "invalid_snapshot_date"),
    ("POST", "/kag/similarity/rebuild", {"window_days": 5}, 400, "invalid_window_days"),
    ("POST", "/kag/similarity/rebuild", {"window_days": True}, 400, "invalid_window_days"),
    ("POST", "/kag/similarity/rebuild", {"project_id": 12}, 400, "invalid_project_id"),
    ("POST", "/kag/similarity/rebuild", {"project_id": str(uuid.uuid4())}, 404, "project_not_found"),
    ("POST", "/kag/v2/forecast/refresh", {"top_k": "many"}, 400, "invalid_top_k"),
    ("POST", "/kag/v2/forecast/refresh", {"window_days": "31"}, 400, "invalid_window_days"),
    ("POST", "/kag/v2/forecast/refresh", {"project_id": str(uuid.uuid4())}, 400, "project_mismatch"),
    ("POST", "/kag/v2/recommendations/not-a-uuid/status", {"status": "done"}, 400, "invalid_recommendation_id"),
    ("POST", f"/kag/v2/recommendations/{uuid.uuid4()}/status", {"status": "done"}, 404, "recommendation_not_found"),
    ("POST", "/kag/v2/recommendations/REC/status", {}, 400, "invalid_status"),
    ("POST", "/kag/v2/recommendations/REC/status", {"status": ""}, 400, "invalid_status"),
    ("POST", "/kag/v2/recommendations/REC/status", {"status": "closed"}, 400, "invalid_status"),
    ("POST", "/kag/v2/recommendations/REC/status", {"status": ["done"]}, 400, "invalid_status"),
    ("POST", "/kag/v2/recommendations/REC/feedback", {"helpful": "meh"}, 400, "invalid_feedback"),
    ("POST", "/kag/v2/recommendations/REC/feedback", {"note": 5}, 400, "invalid_feedback"),
    ("POST", "/kag/v2/recommendations/REC/feedback", [1], 400, "invalid_body"),
]


def test_bad_input_gets_the_spec_error_and_writes_nothing(api: Api, runtime) -> None:
    scope = scope_of(api.create_project("Validation"))
    rec_id = seed_rec(runtime, scope)
    wrong = []
    for method, path, body, code, error in BAD_INPUT:  # one app and session for all cases (setup dominates)
        path = path.replace("REC", rec_id)
        resp = api.get(path) if method == "GET" else api.post(path, body)
        got = (resp.status_code, (resp.get_json() or {}).get("error"))
        if got != (code, error):
            wrong.append((method, path, body, got))
    assert wrong == []
    with runtime.session() as s:
        rec = s.get(RecommendationV2, uuid.UUID(rec_id))
        assert (rec.status, rec.helpful_feedback, rec.shown_count, rec.feedback_note) == ("new", "unknown", 0, None)
    assert not any(runtime.redis.llen(f"rq:queue:{q}") for q in ("kag_snapshots", "kag_similarity", "kag_forecast"))


def test_malformed_bodies_follow_the_platform_rules(api: Api, runtime) -> None:
    api.create_project("Bodies")
    resp = api.client.post("/kag/v2/recommendations/refresh", data="{", content_type="application/json",
                           headers={"x-csrf-token": api.csrf})
    assert (resp.status_code, resp.get_json()["error"]) == (400, "invalid_json")
    resp = api.client.post("/kag/snapshots/refresh", data="x", content_type="text/plain",
                           headers={"x-csrf-token": api.csrf})
    assert (resp.status_code, resp.get_json()["error"]) == (415, "unsupported_media_type")
    assert api.post("/kag/similarity/rebuild", {"unknown": 1}).status_code == 202  # unknown keys are ignored


ROUTES = [("GET", "/kag/snapshots"), ("GET", "/kag/outcomes"), ("GET", "/kag/similar-cases"),
          ("GET", "/kag/v2/forecast"), ("GET", "/kag/v2/recommendations"), ("POST", "/kag/snapshots/refresh"),
          ("POST", "/kag/similarity/rebuild"), ("POST", "/kag/v2/forecast/refresh"),
          ("POST", "/kag/v2/recommendations/refresh"), ("POST", "/kag/v2/recommendations/bad/status"),
          ("POST", f"/kag/v2/recommendations/{uuid.uuid4()}/feedback")]


def test_every_route_needs_an_active_project_first(api: Api) -> None:
    got = {}
    for method, path in ROUTES:
        resp = api.get(path + "?limit=abc") if method == "GET" else api.post(path, {"status": "zzz", "window_days": 3})
        got[path] = (resp.status_code, resp.get_json()["error"])
    assert set(got.values()) == {(409, "active_project_required")}, got
