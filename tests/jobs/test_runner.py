"""The job wrapper and enqueue procedure (platform §7.4, §7.5) with a real RQ worker."""

from __future__ import annotations

from sqlalchemy import select

from shared.db.models.platform import AuditEvent, ConnectorSyncState, JobRun
from tests.conftest import Api


def test_sync_trigger_is_202_with_location_and_one_rq_job(api: Api, runtime) -> None:
    api.create_project("Runner")
    resp = api.post("/jobs/chatwoot/sync")
    assert resp.status_code == 202
    body = resp.get_json()
    job = body["job"]
    assert job["status"] == "queued" and job["queue"] == "chatwoot" and job["deduplicated"] is False
    assert resp.headers["Location"] == f"/jobs/runs/{job['id']}"
    assert body["effective_mode"] == "skip" and body["skip_reason"] == "missing_credentials"
    assert runtime.redis.llen("rq:queue:chatwoot") == 1
    again = api.post("/v1/jobs/chatwoot/sync")
    assert again.status_code == 202 and again.get_json()["job"]["id"] == job["id"]
    assert again.get_json()["job"]["deduplicated"] is True
    assert again.headers["Location"] == f"/v1/jobs/runs/{job['id']}"
    assert runtime.redis.llen("rq:queue:chatwoot") == 1


def test_skipped_sync_ends_skipped_without_error_rows(api: Api, runtime, run_jobs) -> None:
    api.create_project("Skipper")
    run_id = api.post("/jobs/attio/sync").get_json()["job"]["id"]
    run_jobs("attio")
    job = api.get(f"/jobs/runs/{run_id}").get_json()["job"]
    assert job["status"] == "skipped" and job["attempt"] == 1
    assert job["meta"]["result"]["skipped"] == "missing_credentials"
    with runtime.sessions() as s:
        state = s.scalar(select(ConnectorSyncState))
        actions = [(a.action, a.status) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert state.status == "skipped" and state.meta["skip_reason"] == "missing_credentials"
    assert ("job.attio_sync", "queued") in actions and ("job.attio_sync", "skipped") in actions


def test_redis_down_gives_503_and_marks_the_row_failed(api: Api, runtime) -> None:
    from dataclasses import replace

    from shared.runtime import Runtime
    from web.app import create_app

    api.create_project("No redis")
    down = Runtime(replace(runtime.settings, redis_url="redis://127.0.0.1:1/0"))
    app = create_app(runtime=down)
    client = app.test_client()
    for name in ("sid", "csrf_token"):
        client.set_cookie(name, api.client.get_cookie(name).value)
    resp = client.post("/jobs/linear/sync", headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 503 and resp.get_json()["error"] == "queue_unavailable"
    assert client.get("/jobs/status").status_code == 200
    with runtime.sessions() as s:
        run = s.scalar(select(JobRun).filter_by(job_type="linear_sync"))
    assert run.status == "failed" and run.error == "enqueue_failed" and run.finished_at is not None


def test_status_payload_shape(api: Api) -> None:
    api.create_project("Status")
    api.post("/jobs/linear/sync")
    body = api.get("/jobs/status").get_json()
    assert [j["job_type"] for j in body["jobs"]] == ["linear_sync"]
    assert [j["job_type"] for j in body["active_jobs"]] == ["linear_sync"]
    assert body["rag_counts"] == {"pending": 0, "processing": 0, "ready": 0, "failed": 0}
    assert set(body["entities"]) == {"contacts", "conversations", "messages", "rag_chunks"}
    assert body["queues"]["linear"]["queued"] == 1 and body["poll_after_ms"] == 3000
    assert body["storage"]["budget_bytes"] == 20 * 1024**3 and body["storage"]["database_bytes"] > 0


def test_run_of_another_project_is_not_found(api: Api) -> None:
    api.create_project("Mine", scope_key="a-scope")
    run_id = api.post("/jobs/linear/sync").get_json()["job"]["id"]
    api.create_project("Theirs", scope_key="b-scope")
    resp = api.get(f"/jobs/runs/{run_id}")
    assert resp.status_code == 404 and resp.get_json()["error"] == "job_not_found"
    assert api.get("/jobs/runs/abc").get_json()["error"] == "invalid_job_id"
    assert api.get("/jobs/runs/0").get_json()["error"] == "invalid_job_id"


def test_manual_tick_enqueues_due_rows_once(api: Api, runtime, run_jobs) -> None:
    api.create_project("Ticker")
    tick_id = api.post("/jobs/scheduler/tick?limit=500").get_json()["job"]["id"]
    run_jobs("platform")
    tick = api.get(f"/jobs/runs/{tick_id}").get_json()["job"]
    assert tick["status"] == "ok"
    result = tick["meta"]["result"]
    enqueued = {d["job_type"] for d in result["details"] if d["status"] == "enqueued"}
    assert {"chatwoot_sync", "attio_sync", "linear_sync"} <= enqueued
    assert result["processed"] == 18
    rows = api.get("/jobs/scheduler").get_json()["jobs"]
    assert all(r["in_flight_job_id"] for r in rows if r["job_type"] in enqueued)
    assert api.post("/jobs/scheduler/tick?limit=x").get_json()["error"] == "invalid_limit"
