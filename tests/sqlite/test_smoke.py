"""Smoke flows on the embedded SQLite default: login → project → select → jobs → status."""

from __future__ import annotations

from sqlalchemy import select

from shared.db.models.platform import JobRun
from tests.conftest import Api


def test_the_newcomer_flow_on_sqlite(api: Api, runtime, run_jobs) -> None:
    assert runtime.settings.is_sqlite
    project = api.create_project("Embedded")
    assert api.get("/projects").get_json()["active_project_id"] == project["id"]
    job = api.post("/jobs/chatwoot/sync").get_json()["job"]
    assert api.post("/jobs/chatwoot/sync").get_json()["job"]["deduplicated"] is True
    run_jobs("chatwoot")
    status = api.get("/jobs/status").get_json()
    assert status["jobs"][0]["id"] == job["id"] and status["jobs"][0]["status"] == "skipped"
    assert status["storage"]["database_bytes"] == 0 and status["active_jobs"] == []
    assert [e["action"] for e in api.get("/audit").get_json()["events"]][:2] == ["job.chatwoot_sync"] * 2


def test_scope_isolation_on_sqlite(api: Api, runtime) -> None:
    api.create_project("First", scope_key="one")
    run_id = api.post("/jobs/linear/sync").get_json()["job"]["id"]
    api.create_project("Second", scope_key="two")
    assert api.get(f"/jobs/runs/{run_id}").status_code == 404
    with runtime.sessions() as s:
        assert s.scalar(select(JobRun.id)) == run_id


def test_manual_tick_on_sqlite(api: Api, run_jobs) -> None:
    api.create_project("Ticks")
    tick = api.post("/jobs/scheduler/tick").get_json()["job"]
    run_jobs("platform")
    result = api.get(f"/jobs/runs/{tick['id']}").get_json()["job"]["meta"]["result"]
    assert result["processed"] == 10 and result["enqueued"] >= 3
