"""KAG v1 on the embedded default (SQLite): the same pipeline, routes and upserts as on PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest

from jobs.kag.handlers import sync_connector_event_log
from tests.conftest import Api
from tests.jobs.kag_v1_support import (
    NOW,
    P4,
    add_events,
    add_issue,
    add_message,
    recommendations,
    refresh,
    scope_of,
    signals,
    w1_specs,
)


def test_refresh_ingest_and_legacy_signals_on_sqlite(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_events(runtime, scope, *w1_specs())
    for n, hour in enumerate((9, 10, 11, 12), start=1):
        add_issue(runtime, scope, external_id=f"LIN-{n}", updated_at=f"2026-02-10T{hour:02d}:00Z", blocked=True,
                  due_date=date(2026, 2, 1))
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-12T09:00Z", content="We are blocked, urgent")
    job = refresh(api, run_jobs)
    assert job["meta"]["result"]["ingest"]["events_inserted"] == 6  # 4 task_blocked, message_sent, risk

    sig = signals(api)
    assert sig["waiting_on_client_days"]["value"] == pytest.approx(4.0833, abs=P4)
    assert sig["blockers_age"]["details"] == {"open_blockers": 4}
    assert {r["category"] for r in recommendations(api)} >= {"waiting_on_client"}
    before = recommendations(api)
    refresh(api, run_jobs)
    assert recommendations(api) == before  # idempotent

    resp = api.post("/signals/extract")
    run_jobs("intelligence")
    assert api.get(resp.headers["Location"]).get_json()["job"]["status"] == "ok"
    listed = api.get("/signals").get_json()["signals"]
    assert {s["signal_type"] for s in listed} == {"delivery_risk", "urgency_increase", "delivery_overdue"}
    nba = api.get("/nba").get_json()["items"][0]
    assert api.post(f"/nba/{nba['id']}/status", {"status": "accepted"}).get_json()["item"]["status"] == "accepted"
    resp = api.post("/signals/extract")
    run_jobs("intelligence")
    assert {n["id"]: n["status"] for n in api.get("/nba").get_json()["items"]}[nba["id"]] == "accepted"

    window = {"since": "2026-02-01T00:00Z", "until": "2026-02-17T00:00Z", "now": NOW}
    for connector, expected in (("linear", 8), ("chatwoot", 1)):  # issue_created + issue_blocked each
        assert sync_connector_event_log(runtime, scope, connector, **window)["inserted"] == expected
        assert sync_connector_event_log(runtime, scope, connector, **window)["inserted"] == 0
