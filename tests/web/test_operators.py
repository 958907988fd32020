"""Operators' views and concurrency at the HTTP edge: rq-dashboard, /metrics, a burst of identical triggers."""

from __future__ import annotations

import threading

import httpx
from sqlalchemy import func, select
from werkzeug.serving import make_server

from shared.db.models.platform import JobRun
from tests.conftest import OPERATOR, Api
from tests.jobs.jobsys import use_routine, with_credentials
from tests.support import free_port


def test_rq_dashboard_needs_the_operator_login(client, api: Api) -> None:
    anonymous = client.application.test_client()
    for path in ("/rq", "/rq/", "/rq/0/data/queues.json"):
        resp = anonymous.get(path)
        assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized", path
    page = api.get("/rq/", follow_redirects=True)
    assert page.status_code == 200 and b"RQ" in page.data
    api.create_project("Dash")
    api.post("/jobs/linear/sync")
    queues = api.get("/rq/0/data/queues.json").get_json()
    assert {"name": "linear", "count": 1} in [{"name": q["name"], "count": q["count"]} for q in queues["queues"]]


def test_metrics_show_queue_gauges_and_job_duration_histograms(api: Api, runtime, run_jobs, monkeypatch) -> None:
    with_credentials(monkeypatch, runtime)
    use_routine(monkeypatch, "linear", "flaky")
    api.create_project("Metered")
    api.post("/connectors/bindings", {"connector": "linear", "external_id": "org-m"})
    api.post("/connectors/linear/sync")
    api.post("/jobs/attio/sync")
    text = api.get("/metrics").data.decode()
    assert 'app_rq_queue_jobs{queue="linear",state="queued"} 1.0' in text
    assert 'app_rq_queue_jobs{queue="platform",state="failed"} 0.0' in text
    run_jobs("linear", "attio")
    text = api.get("/metrics").data.decode()
    assert 'app_rq_queue_jobs{queue="linear",state="queued"} 0.0' in text
    assert 'app_job_duration_seconds_count{job_type="linear_sync",outcome="ok"} 1.0' in text
    assert 'app_job_duration_seconds_count{job_type="attio_sync",outcome="skipped"} 1.0' in text
    assert 'app_job_duration_seconds_bucket{job_type="linear_sync",le="+Inf",outcome="ok"} 1.0' in text
    assert "# TYPE app_job_duration_seconds histogram" in text


def test_a_burst_of_identical_triggers_over_http_gives_one_run(app, runtime) -> None:
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base) as http:
            http.post("/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]})
            csrf = {"x-csrf-token": http.cookies["csrf_token"]}
            project = http.post("/projects", json={"name": "Burst"}, headers=csrf).json()["project"]
            http.post(f"/projects/{project['id']}/select", headers=csrf)
            cookies = dict(http.cookies)
        barrier = threading.Barrier(20)
        answers: list[httpx.Response] = []
        lock = threading.Lock()

        def fire() -> None:
            with httpx.Client(base_url=base, cookies=cookies, timeout=30) as own:
                barrier.wait()
                resp = own.post("/jobs/linear/sync", headers=csrf)
            with lock:
                answers.append(resp)

        threads = [threading.Thread(target=fire) for _ in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    finally:
        server.shutdown()
    assert len(answers) == 20 and {r.status_code for r in answers} == {202}
    jobs = [r.json()["job"] for r in answers]
    assert len({j["id"] for j in jobs}) == 1
    assert sorted(j["deduplicated"] for j in jobs) == [False] + [True] * 19
    assert runtime.redis.llen("rq:queue:linear") == 1
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(JobRun)) == 1
