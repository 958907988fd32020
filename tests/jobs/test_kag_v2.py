"""KAG v2 stages end to end (kag.md §11–§15, §20 W1/W6): real PostgreSQL, real Redis, real burst workers.

The v1 stages' output (`kag_signals`, `kag_scores`) is seeded in its stored form from the spec's
events; the v2 chain (snapshot → forecast → recommendations v2) then runs as RQ jobs, each on its
own queue, chained through the wrapper's follow-ups, with the run's `now` frozen at the spec's
2026-02-17T12:00Z.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from types import MappingProxyType

import pytest
from rq.registry import FailedJobRegistry
from sqlalchemy import select

from jobs.kag import handlers_v2
from shared.db.models.kag import KagEventLog, KagSignal
from shared.db.models.kag_v2 import ProjectSnapshot, RecommendationV2
from shared.errors import JobValidationError
from tests.conftest import Api
from tests.jobs.kag_v2_support import (
    KAG_V2_QUEUES,
    NOW,
    P2,
    P4,
    runs,
    scope_of,
    seed_outcome,
    seed_signature,
    seed_state,
    start_chain,
    w1_events,
    w4b_events,
    w6_events,
)

CHAIN_REST = ["kag_v2_forecast_refresh", "kag_v2_recommendations_refresh"]


def _forecasts(api: Api, **query: str) -> dict[str, dict]:
    body = api.get("/kag/v2/forecast", query_string=query).get_json()
    return {f["risk_type"]: f for f in body["forecasts"]}


def _recs(api: Api, **query: str) -> list[dict]:
    return api.get("/kag/v2/recommendations", query_string={"mark_shown": "false", **query}).get_json()[
        "recommendations"]


def _process_events(rt, scope) -> list[tuple[str, str]]:
    with rt.session() as s:
        rows = s.execute(select(KagEventLog.source_ref, KagEventLog.event_type).filter_by(**scope.as_filter())
                         .where(KagEventLog.source == "system").order_by(KagEventLog.id)).all()
    return [tuple(r) for r in rows]


def test_w1_chain_snapshot_forecast_recommendations(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    start_chain(runtime, scope, "project_snapshot_daily", CHAIN_REST)
    run_jobs(*KAG_V2_QUEUES)

    done = runs(runtime, scope)
    assert {t: r.status for t, r in done.items()} == {"project_snapshot_daily": "ok", "kag_v2_forecast_refresh": "ok",
                                                     "kag_v2_recommendations_refresh": "ok"}
    snap_result = done["project_snapshot_daily"].meta["result"]
    assert snap_result["follow_up"]["job_type"] == "kag_v2_forecast_refresh"
    assert done["kag_v2_forecast_refresh"].meta["params"]["parent_job_run_id"] == done["project_snapshot_daily"].id

    [snap] = api.get("/kag/snapshots").get_json()["snapshots"]
    assert snap["snapshot_date"] == "2026-02-17" and snap["publishable"] is True
    assert snap["normalized_signals_json"]["waiting_on_client_days"] == 1.0
    [outcome] = api.get("/kag/outcomes").get_json()["outcomes"]
    assert (outcome["outcome_type"], outcome["severity"], outcome["occurred_at"]) == (
        "client_risk", 4, "2026-02-17T23:59:59.000Z")

    f = _forecasts(api)
    assert sorted(f) == ["client_risk", "delivery_risk", "finance_risk", "scope_risk"]
    client = f["client_risk"]
    assert (client["probability_7d"], client["probability_14d"], client["probability_30d"]) == pytest.approx(
        (0.4650, 0.5292, 0.6139), abs=P4)
    assert client["expected_time_to_risk_days"] == pytest.approx(17.44, abs=P2)
    assert client["confidence"] == pytest.approx(0.37, abs=P2)
    assert client["top_drivers"][0] == {"key": "waiting_on_client_days", "contribution": pytest.approx(0.6806, abs=P4)}
    assert client["model"] == "rules_v1" and client["publishable"] is True and client["evidence_refs"]
    assert f["delivery_risk"]["probability_7d"] == pytest.approx(0.0055, abs=P4)
    assert f["finance_risk"]["probability_7d"] == pytest.approx(0.0077, abs=P4)
    assert f["scope_risk"]["probability_7d"] == pytest.approx(0.0776, abs=P4)

    [rec] = _recs(api)
    assert (rec["category"], rec["priority"], rec["due_date"], rec["owner_role"], rec["status"]) == (
        "waiting_on_client", 4, "2026-02-18", "pm", "new")
    assert rec["links"] == ["chatwoot://message/msg-team-1", "https://docs.example.com/approval"]
    assert rec["why_now"] == "P(client_risk,7d)=0.47" and rec["forecast_snapshot"]["client_risk"]

    events = {(e["source_ref"], e["event_type"]): e for e in
              api.get("/kag/events", query_string={"source": "system"}).get_json()["events"]}  # visible to users
    for job_type in ("project_snapshot_daily", "kag_v2_forecast_refresh", "kag_v2_recommendations_refresh"):
        assert (job_type, "process_started") in events
        finished = events[(job_type, "process_finished")]["payload_json"]
        assert finished["job_type"] == job_type and finished["skipped"] is None and finished["duration_ms"] >= 0
    assert events[("kag_v2_forecast_refresh", "process_finished")]["payload_json"]["counters"] == {"touched": 4}
    # the forecast stage built the missing source signature (window 14) from the snapshot on the way
    sim = api.get("/kag/similar-cases").get_json()
    assert sim["signature_status"] == "ok" and sim["cases"] == [] and sim["all"] == []


def test_w6_similar_cases_drive_the_client_forecast_and_winback(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign", scope_key="w6"))
    sim1 = scope_of(api.create_project("Frozen deal one", scope_key="w6", select=False))
    sim2 = scope_of(api.create_project("Frozen deal two", scope_key="w6", select=False))
    seed_state(runtime, scope, w6_events())
    vector = [0.4, 0.6, 0.5, 0.3]  # identical vectors: time_series 1.0; n-grams and context set 0.82 / 0.77
    seed_signature(runtime, scope, vector, ["a>b", "b>c", "c>d"], "delivery/md/proposal")
    seed_signature(runtime, sim1, vector, ["a>b", "b>c", "x>y", "y>z"], "delivery/md/proposal")
    seed_signature(runtime, sim2, vector, ["a>b"], "delivery/md/negotiation")
    seed_outcome(runtime, sim1, "client_risk", 5, [{"attio_record_id": "deal-frozen-1"}])
    seed_outcome(runtime, sim2, "client_risk", 4, [{"attio_record_id": "deal-frozen-2"}])

    start_chain(runtime, scope, "kag_v2_forecast_refresh", ["kag_v2_recommendations_refresh"])
    run_jobs(*KAG_V2_QUEUES)

    client = _forecasts(api)["client_risk"]
    assert (client["probability_7d"], client["probability_14d"], client["probability_30d"]) == pytest.approx(
        (0.6383, 0.7405, 0.8388), abs=P4)
    assert client["expected_time_to_risk_days"] == pytest.approx(8.45, abs=P2)
    assert client["confidence"] == pytest.approx(0.53, abs=P2)
    assert [(c["case_project_id"], c["similarity_score"]) for c in client["similar_cases"]] == [
        (str(sim1.project_id), 0.82), (str(sim2.project_id), 0.77)]

    winback, waiting = _recs(api)
    assert (winback["category"], winback["priority"], winback["due_date"], winback["owner_role"]) == (
        "winback", 5, "2026-02-18", "account_manager")
    assert winback["links"] == ["attio://record/deal-frozen-1", "attio://record/deal-frozen-2"]
    assert len(winback["evidence_refs"]) == 2
    assert (waiting["category"], waiting["priority"]) == ("waiting_on_client", 4)
    result = runs(runtime, scope)["kag_v2_recommendations_refresh"].meta["result"]
    assert [c["case_project_id"] for c in result["similar_cases_top3"]] == [str(sim1.project_id),
                                                                           str(sim2.project_id)]

    cases = api.get("/kag/similar-cases").get_json()["all"]
    assert cases[0]["why_similar"] == "time_series=1.000, event_sequence=0.400, context=1.000"
    assert cases[1]["why_similar"] == "time_series=1.000, event_sequence=0.333, context=0.700"
    assert cases[0]["outcomes_seen"][0]["evidence_refs"] == [{"attio_record_id": "deal-frozen-1"}]
    assert [c["key_shared_patterns"] for c in cases] == [["a>b", "b>c"], ["a>b"]]


def test_w4b_without_evidence_nothing_is_recommended_and_artifacts_are_unpublishable(
        api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w4b_events())
    start_chain(runtime, scope, "project_snapshot_daily", CHAIN_REST)
    run_jobs(*KAG_V2_QUEUES)

    assert {r.status for r in runs(runtime, scope).values()} == {"ok"}
    assert api.get("/kag/snapshots").get_json()["snapshots"] == []  # hidden unless asked for
    [snap] = api.get("/kag/snapshots?include_unpublished=true").get_json()["snapshots"]
    assert snap["publishable"] is False
    assert _forecasts(api) == {}
    hidden = _forecasts(api, include_unpublished="1")
    assert all(f["publishable"] is False and f["evidence_refs"] == [] for f in hidden.values())
    assert hidden["finance_risk"]["probability_7d"] == pytest.approx(0.630, abs=P4)
    assert _recs(api) == []
    with runtime.session() as s:
        warnings = {(w.source_ref, w.payload_json["warning"]["code"]): w.payload_json["warning"] for w in s.scalars(
            select(KagEventLog).filter_by(event_type="process_warning", **scope.as_filter()))}
    assert ("project_snapshot_daily", "snapshot_unpublishable") in warnings
    assert ("kag_v2_forecast_refresh", "forecast_unpublishable") in warnings
    dropped = warnings[("kag_v2_recommendations_refresh", "no_evidence_dropped")]
    assert set(dropped["details"]["categories"]) == {"waiting_on_client", "finance_risk"}


def test_logit_v1_without_enough_history_falls_back_to_rules_and_caches_the_fit(
        api: Api, runtime, run_jobs, frozen, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    environ = {**runtime.settings.environ, "KAG_FORECAST_MODEL": "logit_v1"}
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, environ=MappingProxyType(environ)))
    start_chain(runtime, scope, "kag_v2_forecast_refresh", [])
    run_jobs("kag_forecast")

    f = _forecasts(api)
    assert {x["model"] for x in f.values()} == {"rules_v1"}  # < 40 samples: every type keeps rules_v1 (§13.5)
    assert f["client_risk"]["probability_7d"] == pytest.approx(0.4650, abs=P4)
    cached = runtime.redis.get(handlers_v2.LOGIT_CACHE_KEY.format(scope.account_scope_id))
    assert cached is not None and runtime.redis.ttl(handlers_v2.LOGIT_CACHE_KEY.format(scope.account_scope_id)) > 0


def test_failed_stage_keeps_earlier_results_lands_in_dlq_and_retry_resumes_chain(
        api: Api, runtime, run_jobs, frozen, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    real = handlers_v2.compute_forecasts

    def boom(*args: object, **kwargs: object) -> None:
        raise JobValidationError("forecast model exploded")

    monkeypatch.setattr(handlers_v2, "compute_forecasts", boom)
    start_chain(runtime, scope, "project_snapshot_daily", CHAIN_REST)
    run_jobs(*KAG_V2_QUEUES)

    done = runs(runtime, scope)
    assert done["project_snapshot_daily"].status == "ok"
    failed = done["kag_v2_forecast_refresh"]
    assert failed.status == "failed" and "forecast model exploded" in failed.error
    assert "kag_v2_recommendations_refresh" not in done  # a failure ends the chain
    assert len(api.get("/kag/snapshots").get_json()["snapshots"]) == 1  # the earlier stage is intact
    assert len(api.get("/kag/outcomes").get_json()["outcomes"]) == 1
    assert _forecasts(api, include_unpublished="true") == {}
    assert failed.rq_job_id in FailedJobRegistry("kag_forecast", connection=runtime.redis)
    dlq = api.get("/connectors/errors").get_json()["failed_jobs"]
    assert [(j["job_type"], j["rq_job_id"]) for j in dlq] == [("kag_v2_forecast_refresh", failed.rq_job_id)]
    assert ("kag_v2_forecast_refresh", "process_failed") in _process_events(runtime, scope)

    monkeypatch.setattr(handlers_v2, "compute_forecasts", real)
    resp = api.post("/connectors/errors/retry", {"rq_job_ids": [failed.rq_job_id]})
    assert resp.status_code == 202, resp.get_json()
    run_jobs(*KAG_V2_QUEUES)

    done = runs(runtime, scope)
    assert done["kag_v2_forecast_refresh"].id == failed.id and done["kag_v2_forecast_refresh"].status == "ok"
    assert done["kag_v2_forecast_refresh"].attempt == 2
    assert done["kag_v2_recommendations_refresh"].status == "ok"  # the chain resumed
    assert [r["category"] for r in _recs(api)] == ["waiting_on_client"]
    assert failed.rq_job_id not in FailedJobRegistry("kag_forecast", connection=runtime.redis)


def test_regeneration_never_resets_status_feedback_or_shown_counters(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    start_chain(runtime, scope, "project_snapshot_daily", CHAIN_REST)
    run_jobs(*KAG_V2_QUEUES)
    [rec] = api.get("/kag/v2/recommendations").get_json()["recommendations"]  # shown once
    assert rec["shown_count"] == 1
    assert api.post(f"/kag/v2/recommendations/{rec['id']}/status", {"status": "done"}).status_code == 200
    assert api.post(f"/kag/v2/recommendations/{rec['id']}/feedback",
                    {"helpful": "helpful", "note": " worked "}).status_code == 200
    with runtime.transaction() as s:  # content that regeneration must refresh
        s.get(RecommendationV2, uuid.UUID(rec["id"])).title = "stale"

    for _ in range(2):
        assert api.post("/kag/v2/recommendations/refresh").status_code == 202
        run_jobs("kag_recommendations")

    [again] = _recs(api)
    assert again["id"] == rec["id"]  # deduplicated on (project_id, dedupe_key)
    assert (again["status"], again["helpful_feedback"], again["feedback_note"]) == ("done", "helpful", "worked")
    assert again["shown_count"] == 1 and again["first_shown_at"] == rec["first_shown_at"]
    assert again["completed_at"] is not None and again["created_at"] == rec["created_at"]
    assert again["title"] != "stale"

    with runtime.transaction() as s:  # the signal moves: a new dedupe key gives a new row, the old one stays
        sig = s.scalar(select(KagSignal).filter_by(signal_key="waiting_on_client_days", **scope.as_filter()))
        sig.value = 5.5
    api.post("/kag/v2/recommendations/refresh")
    run_jobs("kag_recommendations")
    statuses = sorted(r["status"] for r in _recs(api))
    assert statuses == ["done", "new"]


def test_disabled_stages_answer_202_end_ok_with_skip_marker_and_are_left_out_of_the_chain(
        api: Api, runtime, run_jobs, frozen, monkeypatch: pytest.MonkeyPatch) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    flags = dict(runtime.settings.flags, KAG_FORECASTING_ENABLED=False)
    monkeypatch.setattr(runtime, "settings", replace(runtime.settings, flags=MappingProxyType(flags)))

    resp = api.post("/kag/v2/forecast/refresh", {"window_days": 7})
    assert resp.status_code == 202
    run_jobs(*KAG_V2_QUEUES)
    job = api.get(resp.headers["Location"]).get_json()["job"]
    assert (job["status"], job["meta"]["result"]) == ("ok", {"skipped": "kag_forecasting_disabled"})
    assert api.get("/kag/v2/forecast").get_json()["forecasts"] == []

    start_chain(runtime, scope, "project_snapshot_daily", CHAIN_REST)
    run_jobs(*KAG_V2_QUEUES)
    done = runs(runtime, scope)
    assert done["project_snapshot_daily"].meta["result"]["follow_up"]["job_type"] == "kag_v2_recommendations_refresh"
    assert done["kag_v2_recommendations_refresh"].status == "ok"
    assert done["kag_v2_forecast_refresh"].id == job["id"]  # no second forecast run


def test_similarity_rebuild_builds_every_window_and_warns_without_snapshots(
        api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign", scope_key="sim"))
    other = api.create_project("Growth retainer", scope_key="sim", select=False)
    seed_state(runtime, scope, w1_events())
    start_chain(runtime, scope, "project_snapshot_daily", [])
    run_jobs("kag_snapshots")

    resp = api.post("/kag/similarity/rebuild", {})
    run_jobs("kag_similarity")
    result = api.get(resp.headers["Location"]).get_json()["job"]["meta"]["result"]
    assert [(r["window_days"], "signature_hash" in r) for r in result["results"]] == [(7, True), (14, True),
                                                                                      (30, True)]
    resp = api.post("/kag/similarity/rebuild", {"project_id": other["id"], "window_days": "14"})
    run_jobs("kag_similarity")
    result = api.get(resp.headers["Location"]).get_json()["job"]["meta"]["result"]
    assert result["results"] == [{"project_id": other["id"], "window_days": 14, "skipped": "no_snapshots"}]
    with runtime.session() as s:
        warning = s.scalar(select(KagEventLog).filter_by(event_type="process_warning", **scope.as_filter()))
    assert warning.payload_json["warning"]["code"] == "similarity_no_snapshots"
    missing = api.get("/kag/similar-cases", query_string={"project_id": other["id"]}).get_json()
    assert (missing["signature_status"], missing["cases"], missing["signature_computed_at"]) == ("missing", [], None)


def test_rebuild_for_an_unknown_project_is_skipped(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    start_chain(runtime, scope, "case_signatures_refresh", [], project_id="00000000-0000-4000-8000-000000000000")
    run_jobs("kag_similarity")
    run = runs(runtime, scope)["case_signatures_refresh"]
    assert run.status == "skipped" and run.meta["result"]["skipped"] == "project_not_found"


def test_retention_prunes_once_per_utc_day(api: Api, runtime) -> None:
    from jobs.platform import housekeeping

    scope = scope_of(api.create_project("Studio Redesign"))
    today = NOW.date()
    with runtime.transaction() as s:
        for age in (0, 399, 401):
            s.add(ProjectSnapshot(snapshot_date=today - timedelta(days=age), **scope.as_filter()))
        for event_type, age in (("process_started", 31), ("process_finished", 29), ("message_sent", 90)):
            s.add(KagEventLog(event_type=event_type, occurred_at=NOW - timedelta(days=age), actor="system",
                              source="system" if event_type.startswith("process") else "chatwoot", source_ref="x",
                              dedupe_key=f"{event_type}-{age}", payload_json={}, **scope.as_filter()))
    first = handlers_v2.kag_retention(runtime, NOW)
    assert (first["snapshots_deleted"], first["process_events_deleted"]) == (1, 1)
    assert handlers_v2.kag_retention(runtime, NOW) == {"skipped": "already_ran_today"}
    with runtime.session() as s:
        assert sorted(d.isoformat() for d in s.scalars(select(ProjectSnapshot.snapshot_date))) == [
            (today - timedelta(days=399)).isoformat(), today.isoformat()]
        assert sorted(s.scalars(select(KagEventLog.event_type))) == ["message_sent", "process_finished"]
    assert "kag_retention" in housekeeping()  # step 4 of the global housekeeping job (real clock: a new day)
