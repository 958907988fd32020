"""KAG v2 on the embedded default (SQLite): migration 0007's tables, the chained stages, similar cases
(SQLite reads the candidates' n-grams instead of intersecting them in SQL), lifecycle and shown counts."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.jobs.kag_v2_support import (
    KAG_V2_QUEUES,
    P4,
    scope_of,
    seed_outcome,
    seed_signature,
    seed_state,
    start_chain,
    w1_events,
    w6_events,
)


def test_w1_chain_and_lifecycle_on_sqlite(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed_state(runtime, scope, w1_events())
    start_chain(runtime, scope, "project_snapshot_daily", ["kag_v2_forecast_refresh", "kag_v2_recommendations_refresh"])
    run_jobs(*KAG_V2_QUEUES)

    [snap] = api.get("/kag/snapshots").get_json()["snapshots"]
    assert snap["normalized_signals_json"]["waiting_on_client_days"] == 1.0
    client = {f["risk_type"]: f for f in api.get("/kag/v2/forecast").get_json()["forecasts"]}["client_risk"]
    assert client["probability_7d"] == pytest.approx(0.4650, abs=P4)
    [rec] = api.get("/kag/v2/recommendations").get_json()["recommendations"]
    assert (rec["category"], rec["due_date"], rec["shown_count"]) == ("waiting_on_client", "2026-02-18", 1)
    assert api.post(f"/kag/v2/recommendations/{rec['id']}/status", {"status": "done"}).status_code == 200
    api.post("/kag/v2/recommendations/refresh")
    run_jobs("kag_recommendations")
    [again] = api.get("/kag/v2/recommendations?mark_shown=false").get_json()["recommendations"]
    assert (again["id"], again["status"], again["shown_count"]) == (rec["id"], "done", 1)


def test_w6_similar_cases_and_winback_on_sqlite(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign", scope_key="w6"))
    sim1 = scope_of(api.create_project("Frozen deal one", scope_key="w6", select=False))
    sim2 = scope_of(api.create_project("Frozen deal two", scope_key="w6", select=False))
    seed_state(runtime, scope, w6_events())
    vector = [0.4, 0.6, 0.5, 0.3]
    seed_signature(runtime, scope, vector, ["a>b", "b>c", "c>d"], "delivery/md/proposal")
    seed_signature(runtime, sim1, vector, ["a>b", "b>c", "x>y", "y>z"], "delivery/md/proposal")
    seed_signature(runtime, sim2, vector, ["a>b"], "delivery/md/negotiation")
    seed_outcome(runtime, sim1, "client_risk", 5, [{"attio_record_id": "deal-frozen-1"}])
    seed_outcome(runtime, sim2, "client_risk", 4, [{"attio_record_id": "deal-frozen-2"}])
    start_chain(runtime, scope, "kag_v2_forecast_refresh", ["kag_v2_recommendations_refresh"])
    run_jobs(*KAG_V2_QUEUES)

    cases = api.get("/kag/similar-cases").get_json()["all"]
    assert [(c["case_project_name"], c["similarity_score"]) for c in cases] == [("Frozen deal one", 0.82),
                                                                                ("Frozen deal two", 0.77)]
    assert cases[0]["key_shared_patterns"] == ["a>b", "b>c"]
    client = {f["risk_type"]: f for f in api.get("/kag/v2/forecast").get_json()["forecasts"]}["client_risk"]
    assert client["probability_7d"] == pytest.approx(0.6383, abs=P4)
    recs = api.get("/kag/v2/recommendations?mark_shown=false").get_json()["recommendations"]
    assert [(r["category"], r["priority"]) for r in recs] == [("winback", 5), ("waiting_on_client", 4)]
