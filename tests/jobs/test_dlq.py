"""Retries and the dead-letter queue end to end (platform §7.5, §9.4, §9.5, §15): real Redis, PostgreSQL, RQ."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rq.job import JobStatus
from sqlalchemy import select

from shared.db.models.platform import AuditEvent, ConnectorSyncState
from shared.queues import failed_registry
from tests.conftest import Api
from tests.jobs.jobsys import counter, error_rows, promote_scheduled, rq_job, run_row, use_routine, with_credentials
from tests.workerproc import PREFIX


@pytest.fixture()
def linear_project(api: Api, runtime, monkeypatch):  # noqa: ANN201
    with_credentials(monkeypatch, runtime)
    project = api.create_project("Delivery")
    assert api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-1"}).status_code == 201
    return project


def test_transient_failures_then_success_end_ok_with_the_attempt_count(api, runtime, run_jobs, monkeypatch,
                                                                        linear_project) -> None:
    use_routine(monkeypatch, "linear", "flaky")
    runtime.redis.set(PREFIX + "fail_times", 2)
    resp = api.post("/connectors/linear/sync")
    assert resp.status_code == 202 and resp.get_json()["effective_mode"] == "http"
    run_id = resp.get_json()["job"]["id"]
    run_jobs("linear")
    assert run_row(runtime, run_id).status == "retry_scheduled"
    [err] = error_rows(runtime)
    assert (err.status, err.attempt) == ("pending", 1)
    for expected_attempt in (2, 3):
        assert promote_scheduled(runtime, "linear") == 1
        run_jobs("linear")
        assert run_row(runtime, run_id).attempt == expected_attempt
    row = run_row(runtime, run_id)
    assert (row.status, row.attempt, row.error) == ("ok", 3, None)
    assert row.processed_count == 3 and counter(runtime, "calls") == 3
    [err] = error_rows(runtime)
    assert err.status == "resolved" and err.resolved_at is not None and err.attempt == 2
    with runtime.sessions() as s:
        state = s.scalar(select(ConnectorSyncState))
    assert (state.status, state.retry_count, state.last_error) == ("ok", 0, None)
    assert len(failed_registry("linear", runtime.redis)) == 0


def test_always_failing_job_lands_in_the_dlq_and_the_retry_route_brings_it_back(
        api, runtime, run_jobs, monkeypatch, linear_project) -> None:
    use_routine(monkeypatch, "linear", "failing")
    job = api.post("/connectors/linear/sync").get_json()["job"]
    run_jobs("linear")
    history = []
    for _ in range(3):
        [err] = error_rows(runtime)
        history.append((err.attempt, err.status, round((err.next_retry_at - err.updated_at).total_seconds())))
        if promote_scheduled(runtime, "linear"):
            run_jobs("linear")
    assert history == [(1, "pending", 30), (2, "retrying", 120), (3, "dead_letter", 0)]
    row = run_row(runtime, job["id"])
    assert (row.status, row.attempt) == ("failed", 3) and row.error.startswith("TransientError")
    assert rq_job(runtime, job["rq_job_id"]).get_status() == JobStatus.FAILED
    assert job["rq_job_id"] in failed_registry("linear", runtime.redis)

    body = api.get("/connectors/errors").get_json()
    [err] = body["errors"]
    assert (err["status"], err["attempt"], err["max_attempts"]) == ("dead_letter", 3, 3)
    assert err["rq_job_id"] == job["rq_job_id"] and err["job_run_id"] == job["id"]
    [failed] = body["failed_jobs"]
    assert failed["rq_job_id"] == job["rq_job_id"] and failed["job_type"] == "linear_sync"
    assert failed["connector"] == "linear" and failed["job_run_id"] == job["id"] and failed["retries_left"] == 0
    assert failed["error_summary"] == "shared.errors.TransientError: upstream answered 503" \
        or failed["error_summary"].endswith("TransientError: upstream answered 503")
    assert "Traceback" not in failed["error_summary"] and failed["queue"] == "linear"
    assert api.get("/connectors/errors?status=dead_letter&connector=linear").get_json()["errors"][0]["id"] == err["id"]
    assert api.get("/connectors/errors?status=resolved").get_json()["errors"] == []
    assert api.get("/connectors/errors?connector=chatwoot").get_json()["failed_jobs"] == []

    use_routine(monkeypatch, "linear", "flaky")  # the vendor is back
    resp = api.post("/connectors/errors/retry", {"rq_job_ids": [job["rq_job_id"], "not-a-failed-job"]})
    assert resp.status_code == 202, resp.get_json()
    out = resp.get_json()
    assert out["requeued"] == [job["rq_job_id"]] and out["selected_errors"] == 0
    assert out["skipped"] == [{"rq_job_id": "not-a-failed-job", "reason": "not_in_failed_registry"}]
    [again] = out["jobs"]
    assert again["id"] == job["id"] and again["status"] == "queued" and again["rq_job_id"] == job["rq_job_id"]
    assert resp.headers["Location"] == f"/jobs/runs/{job['id']}"
    run_jobs("linear")
    row = run_row(runtime, job["id"])
    assert (row.status, row.attempt) == ("ok", 4)
    [err] = error_rows(runtime)
    assert err.status == "resolved"
    assert job["rq_job_id"] not in failed_registry("linear", runtime.redis)
    with runtime.sessions() as s:
        audit = s.scalar(select(AuditEvent).filter_by(action="connectors.errors_retry"))
    assert audit.payload["rq_job_ids"] == [job["rq_job_id"]] and audit.payload["job_run_ids"] == [job["id"]]


def test_retry_by_error_id_enqueues_a_fresh_retry_job_and_success_resolves(
        api, runtime, run_jobs, monkeypatch, linear_project) -> None:
    use_routine(monkeypatch, "linear", "unauthorized")
    first = api.post("/connectors/linear/sync").get_json()["job"]
    run_jobs("linear")
    [err] = error_rows(runtime)
    assert err.status == "dead_letter"
    use_routine(monkeypatch, "linear", "flaky")
    resp = api.post("/connectors/errors/retry", {"error_ids": [err.id, err.id, 999999], "reset_attempts": True})
    assert resp.status_code == 202
    out = resp.get_json()
    assert out["selected_errors"] == 1 and out["skipped"] == [{"id": 999999, "reason": "not_found"}]
    [job] = out["jobs"]
    assert job["id"] != first["id"] and job["trigger"] == "retry" and job["deduplicated"] is False
    [err] = error_rows(runtime)
    assert (err.status, err.attempt, err.job_run_id, err.rq_job_id) == ("pending", 0, job["id"], job["rq_job_id"])
    again = api.post("/connectors/errors/retry", {"error_ids": [err.id]}).get_json()  # still in flight
    assert again["jobs"][0]["id"] == job["id"] and again["jobs"][0]["deduplicated"] is True
    run_jobs("linear")
    assert run_row(runtime, job["id"]).status == "ok"
    [err] = error_rows(runtime)
    assert err.status == "resolved"
    assert len(failed_registry("linear", runtime.redis)) == 0  # the success cleared the first run's entry
    assert run_row(runtime, first["id"]).status == "failed"  # history stays
    resolved = api.post("/connectors/errors/retry", {"error_ids": [err.id]})
    assert resolved.status_code == 200
    assert resolved.get_json() == {**resolved.get_json(), "jobs": [], "requeued": [], "selected_errors": 0,
                                   "skipped": [{"id": err.id, "reason": "already_resolved"}]}


def test_permanent_error_runs_once_and_goes_straight_to_the_dlq(api, runtime, run_jobs, monkeypatch,
                                                                linear_project) -> None:
    use_routine(monkeypatch, "linear", "unauthorized")
    job = api.post("/connectors/linear/sync").get_json()["job"]
    run_jobs("linear")
    assert promote_scheduled(runtime, "linear") == 0
    run_jobs("linear")
    assert counter(runtime, "calls") == 1
    row = run_row(runtime, job["id"])
    assert (row.status, row.attempt) == ("failed", 1) and "401" in row.error
    [err] = error_rows(runtime)
    assert (err.status, err.attempt, err.error_kind) == ("dead_letter", 1, "auth_failed")
    assert err.next_retry_at - err.updated_at < timedelta(seconds=1)
    assert job["rq_job_id"] in failed_registry("linear", runtime.redis)
    assert rq_job(runtime, job["rq_job_id"]).retries_left == 0


@pytest.mark.parametrize(("overrides", "bind", "mode", "reason"), [
    ({}, False, "skip", "source_not_bound"),
    ({"LINEAR_API_TOKEN": ""}, True, "skip", "missing_credentials"),
    ({"CONNECTOR_LINEAR_ENABLED": "false"}, True, "disabled", "disabled"),
])
def test_skipped_runs_leave_no_error_row_and_no_registry_entry(api, runtime, run_jobs, monkeypatch, overrides, bind,
                                                               mode, reason) -> None:
    from dataclasses import replace

    from shared.config import Settings

    with_credentials(monkeypatch, runtime, **overrides)
    if "CONNECTOR_LINEAR_ENABLED" in overrides:
        fresh = Settings.from_env(dict(runtime.settings.environ))
        monkeypatch.setattr(runtime, "settings", replace(runtime.settings, connector_enabled=fresh.connector_enabled))
    use_routine(monkeypatch, "linear", "failing")
    api.create_project("Skipper")
    if bind:
        api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-9"})
    resp = api.post("/connectors/linear/sync")
    assert resp.status_code == 202
    assert (resp.get_json()["effective_mode"], resp.get_json()["skip_reason"]) == (mode, reason)
    run_jobs("linear")
    job = api.get(f"/jobs/runs/{resp.get_json()['job']['id']}").get_json()["job"]
    assert job["status"] == "skipped" and job["meta"]["result"]["skipped"] == reason
    assert counter(runtime, "calls") == 0 and error_rows(runtime) == []
    assert len(failed_registry("linear", runtime.redis)) == 0
    assert promote_scheduled(runtime, "linear") == 0
    state = api.get("/connectors/state").get_json()["connectors"]
    assert [s["status"] for s in state if s["connector"] == "linear"] == ["skipped"]
