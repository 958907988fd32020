"""Connector routes (platform §6.6, §16): state, bindings, sync triggers, bad input, scope, Redis down."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from shared.db.models.platform import AuditEvent, ConnectorSyncState, JobRun
from shared.db.service.connectors import register_error
from shared.scope import Scope
from shared.timeutil import utcnow
from tests.conftest import Api
from tests.jobs.jobsys import with_credentials

NEW_ROUTES = [
    ("get", "/connectors/state"), ("get", "/connectors/errors"), ("get", "/connectors/bindings"),
    ("post", "/connectors/bindings"), ("post", "/connectors/{name}/sync"), ("post", "/connectors/sync"),
    ("post", "/connectors/errors/retry"),
]


def scope_of(api: Api) -> Scope:
    me = api.get("/auth/me").get_json()
    return Scope.of(me["active_project_id"], me["account_scope_id"])


def test_every_new_route_is_in_the_openapi_document(client) -> None:
    doc = client.get("/openapi.json").get_json()
    for method, path in NEW_ROUTES:
        op = doc["paths"][path][method]
        assert "401" in op["responses"] and "409" in op["responses"], (method, path)
        if method == "post":
            assert op["security"] == [{"session": [], "csrf": []}] and "403" in op["responses"]
    assert "202" in doc["paths"]["/connectors/{name}/sync"]["post"]["responses"]
    assert "503" in doc["paths"]["/connectors/sync"]["post"]["responses"]
    errors_params = {p["name"] for p in doc["paths"]["/connectors/errors"]["get"]["parameters"]}
    assert errors_params == {"status", "connector", "limit"}
    assert doc["components"]["schemas"]["RetryIn"]["properties"].keys() >= {"error_ids", "rq_job_ids", "connector"}


def test_routes_need_a_session_and_an_active_project(client) -> None:
    routes = [(m, p.replace("{name}", "linear")) for m, p in NEW_ROUTES]
    for method, path in routes:
        assert getattr(client, method)(path).status_code == 401, path
    api = Api(client)
    api.login()
    for method, path in routes:
        resp = api.get(path) if method == "get" else api.post(path)
        assert resp.status_code == 409 and resp.get_json()["error"] == "active_project_required", path
        if method == "post":
            bad = client.post(path, json={}, headers={"x-csrf-token": "nope"})
            assert bad.status_code == 403 and bad.get_json()["error"] == "csrf_invalid", path


BAD_INPUT = [
    ("post", "/connectors/foo/sync", None, 400, "unsupported_connector"),
    ("get", "/connectors/errors?connector=foo", None, 400, "unsupported_connector"),
    ("get", "/connectors/errors?status=done", None, 400, "invalid_status"),
    ("get", "/connectors/errors?limit=abc", None, 400, "invalid_limit"),
    ("post", "/connectors/bindings", {"connector": "foo", "external_id": "1"}, 400, "unsupported_connector"),
    ("post", "/connectors/bindings", {"external_id": "1"}, 400, "unsupported_connector"),
    ("post", "/connectors/bindings", {"connector": "linear"}, 400, "invalid_external_id"),
    ("post", "/connectors/bindings", {"connector": "linear", "external_id": "  "}, 400, "invalid_external_id"),
    ("post", "/connectors/bindings", {"connector": "linear", "external_id": 12}, 400, "invalid_external_id"),
    ("post", "/connectors/bindings", {"connector": "linear", "external_id": "x" * 201}, 400, "invalid_external_id"),
    ("post", "/connectors/errors/retry", {"error_ids": "1"}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": []}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": list(range(1, 102))}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": [0]}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": [1.5]}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": [True]}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"error_ids": ["1"]}, 400, "invalid_error_ids"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": "abc"}, 400, "invalid_job_ids"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": []}, 400, "invalid_job_ids"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": ["a b"]}, 400, "invalid_job_ids"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": ["x" * 65]}, 400, "invalid_job_ids"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": [7]}, 400, "invalid_job_ids"),
    ("post", "/connectors/errors/retry", {"connector": "foo"}, 400, "unsupported_connector"),
    ("post", "/connectors/errors/retry", {"include_dead_letter": "yes"}, 400, "invalid_body"),
    ("post", "/connectors/errors/retry", {"reset_attempts": 1}, 400, "invalid_body"),
    ("post", "/connectors/errors/retry", {"error_ids": [424242]}, 404, "connector_error_not_found"),
    ("post", "/connectors/errors/retry", {"rq_job_ids": ["missing-job"]}, 404, "failed_job_not_found"),
    ("post", "/connectors/errors/retry", [1], 400, "invalid_body"),
]


def test_bad_input_gets_a_clear_4xx(api: Api) -> None:
    api.create_project("Bad input")
    for method, path, payload, status, code in BAD_INPUT:
        resp = api.get(path) if method == "get" else api.post(path, payload)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), (path, payload, resp.get_json())


def test_malformed_and_non_json_bodies(api: Api) -> None:
    api.create_project("Bodies")
    headers = {"x-csrf-token": api.csrf, "Content-Type": "application/json"}
    resp = api.client.post("/connectors/errors/retry", data="{nope", headers=headers)
    assert resp.get_json()["error"] == "invalid_json"
    resp = api.client.post("/connectors/bindings", data="a=b",
                           headers={"x-csrf-token": api.csrf, "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status_code == 415
    assert api.post("/connectors/errors/retry", {"limit": 5}).status_code == 200  # unknown keys are ignored


def test_state_synthesizes_idle_connectors_and_computes_lag_and_counts(api: Api, runtime) -> None:
    api.create_project("State")
    body = api.get("/connectors/state").get_json()["connectors"]
    assert [c["connector"] for c in body] == ["chatwoot", "linear", "attio"]
    assert body[0] == {**body[0], "status": "idle", "mode": "http", "cursor_ts": None, "retry_count": 0,
                       "lag_seconds": None, "open_errors": 0, "dead_letter_errors": 0, "in_flight_job_id": None}
    scope = scope_of(api)
    with runtime.transaction() as s:
        s.add(ConnectorSyncState(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                                 connector="linear", status="ok", cursor_ts=utcnow() - timedelta(seconds=90), meta={}))
        for kind, permanent in (("a", False), ("b", False), ("c", True)):
            register_error(session=s, scope=scope, connector="linear", mode="http", message="boom",
                           permanent=permanent, retries_left=True, error_kind=kind)
    run_id = api.post("/connectors/linear/sync").get_json()["job"]["id"]
    linear = api.get("/v1/connectors/state").get_json()["connectors"][1]
    assert linear["status"] == "ok" and 90 <= linear["lag_seconds"] < 120
    assert (linear["open_errors"], linear["dead_letter_errors"], linear["in_flight_job_id"]) == (2, 1, run_id)


def test_bindings_are_listed_created_idempotently_and_conflicts_are_409(api: Api, runtime, monkeypatch) -> None:
    with_credentials(monkeypatch, runtime, LINEAR_WORKSPACE_ID="org-env")
    mine = api.create_project("Binder", scope_key="acme")
    listed = api.get("/connectors/bindings").get_json()["bindings"]
    assert [b["connector"] for b in listed] == ["chatwoot", "linear", "attio"]
    assert listed[1] == {"connector": "linear", "source_kind": "linear_workspace", "external_id": None, "meta": None,
                         "created_at": None, "suggested_external_id": "org-env"}
    created = api.post("/connectors/bindings", {"connector": " Linear ", "external_id": " org-1 "})
    assert created.status_code == 201
    binding = created.get_json()["binding"]
    assert (binding["external_id"], binding["meta"], binding["source_kind"]) == ("org-1", {"source": "manual"},
                                                                                 "linear_workspace")
    again = api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-1"})
    assert again.status_code == 200 and again.get_json()["binding"] == binding
    other = api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-2"})
    assert other.status_code == 409 and other.get_json()["error"] == "linear_source_binding_error"
    assert other.get_json()["details"] == {"reason": "linear_workspace_already_bound"}
    api.create_project("Other", scope_key="globex")
    taken = api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-1"})
    assert taken.status_code == 409 and taken.get_json()["details"] == {
        "reason": "linear_workspace_source_bound_to_another_project"}
    with runtime.sessions() as s:
        audits = list(s.scalars(select(AuditEvent).filter_by(action="connectors.binding_create")))
    assert len(audits) == 1 and str(audits[0].project_id) == mine["id"] and audits[0].entity_id == "linear"


def test_sync_all_enqueues_three_jobs_and_lists_the_skipped(api: Api, runtime, monkeypatch) -> None:
    with_credentials(monkeypatch, runtime, ATTIO_API_TOKEN="")
    api.create_project("All")
    api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-1"})
    resp = api.post("/connectors/sync")
    assert resp.status_code == 202
    body = resp.get_json()
    assert [j["job_type"] for j in body["jobs"]] == ["chatwoot_sync", "linear_sync", "attio_sync"]
    assert body["total"] == 3 and resp.headers["Location"] == f"/jobs/runs/{body['jobs'][0]['id']}"
    assert body["skipped"] == [
        {"connector": "chatwoot", "effective_mode": "skip", "reason": "source_not_bound"},
        {"connector": "attio", "effective_mode": "skip", "reason": "missing_credentials"},
    ]
    for name in ("chatwoot", "linear", "attio"):
        assert runtime.redis.llen(f"rq:queue:{name}") == 1
    again = api.post("/v1/connectors/sync").get_json()
    assert [j["deduplicated"] for j in again["jobs"]] == [True, True, True]
    assert [j["id"] for j in again["jobs"]] == [j["id"] for j in body["jobs"]]
    with runtime.sessions() as s:
        audits = [(a.action, a.status) for a in s.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert audits.count(("connectors.sync_all", "partial")) == 2
    assert not [a for a in audits if a[0].startswith("job.")]


def test_sync_one_is_never_refused_and_audits_sync_one(api: Api, runtime) -> None:
    api.create_project("One")
    resp = api.post("/connectors/ATTIO/sync")
    assert resp.status_code == 202 and resp.get_json()["job"]["job_type"] == "attio_sync"
    assert resp.get_json()["skip_reason"] == "missing_credentials"
    with runtime.sessions() as s:
        audit = s.scalar(select(AuditEvent).filter_by(action="connectors.sync_one"))
    assert (audit.entity_type, audit.entity_id, audit.status) == ("connector", "attio", "queued")


def test_another_projects_errors_failed_jobs_and_runs_are_not_found(api: Api, runtime, run_jobs, monkeypatch) -> None:
    from tests.jobs.jobsys import use_routine

    with_credentials(monkeypatch, runtime)
    use_routine(monkeypatch, "linear", "unauthorized")
    api.create_project("Theirs", scope_key="theirs")
    api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-t"})
    job = api.post("/connectors/linear/sync").get_json()["job"]
    run_jobs("linear")
    [err] = api.get("/connectors/errors").get_json()["errors"]
    assert api.get("/connectors/errors").get_json()["failed_jobs"][0]["rq_job_id"] == job["rq_job_id"]

    api.create_project("Mine", scope_key="mine")
    body = api.get("/connectors/errors").get_json()
    assert body["errors"] == [] and body["failed_jobs"] == []
    assert api.get(f"/jobs/runs/{job['id']}").get_json()["error"] == "job_not_found"
    resp = api.post("/connectors/errors/retry", {"error_ids": [err["id"]]})
    assert (resp.status_code, resp.get_json()["error"]) == (404, "connector_error_not_found")
    resp = api.post("/connectors/errors/retry", {"rq_job_ids": [job["rq_job_id"]]})
    assert (resp.status_code, resp.get_json()["error"]) == (404, "failed_job_not_found")
    assert "details" not in resp.get_json()
    nothing = api.post("/connectors/errors/retry", {"include_dead_letter": True})
    assert nothing.status_code == 200 and nothing.get_json()["selected_errors"] == 0
    with runtime.sessions() as s:
        assert s.scalar(select(JobRun.status).filter_by(id=job["id"])) == "failed"  # untouched


def test_redis_unreachable_gives_503_on_triggers_while_reads_answer(api: Api, runtime) -> None:
    from shared.runtime import Runtime
    from web.app import create_app

    api.create_project("No redis")
    down = Runtime(replace(runtime.settings, redis_url="redis://127.0.0.1:1/0"))
    client = create_app(runtime=down).test_client()
    for name in ("sid", "csrf_token"):
        client.set_cookie(name, api.client.get_cookie(name).value)
    headers = {"x-csrf-token": api.csrf}
    for path, body in (("/connectors/linear/sync", None), ("/connectors/sync", None),
                       ("/connectors/errors/retry", {"rq_job_ids": ["abc"]})):
        resp = client.post(path, json=body, headers=headers)
        assert (resp.status_code, resp.get_json()["error"]) == (503, "queue_unavailable"), path
    for path in ("/connectors/state", "/connectors/bindings", "/connectors/errors", "/jobs/status"):
        assert client.get(path).status_code == 200, path
    assert client.get("/connectors/errors").get_json()["failed_jobs"] == []
    with runtime.sessions() as s:
        rows = list(s.scalars(select(JobRun)))
    assert rows and all((r.status, r.error) == ("failed", "enqueue_failed") for r in rows)
    down.close()
