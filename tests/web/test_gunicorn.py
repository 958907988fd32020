"""The web process as deployed: gunicorn with several workers, multiprocess metrics."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support import Gunicorn

pytestmark = pytest.mark.slow


def metric(text: str, name: str) -> float:
    match = re.search(rf"^{re.escape(name)} ([0-9.e+]+)$", text, re.M)
    assert match, f"{name} not in metrics"
    return float(match.group(1))


def test_metrics_count_every_worker_under_gunicorn(env, clean) -> None:  # noqa: ANN001
    with Gunicorn(env, workers=2) as server, httpx.Client(base_url=server.url) as http:
        before = metric(http.get("/metrics").text, "app_requests_total")
        for _ in range(40):  # spread over both workers by the kernel's accept balancing
            assert http.get("/health", headers={"Connection": "close"}).status_code == 200
        assert http.get("/projects").status_code == 401
        text = http.get("/v1/metrics").text
    # 40 health + 1 projects + 1 metrics scrape, whichever worker served them
    assert metric(text, "app_requests_total") - before == 42
    assert metric(text, 'app_response_status_total{status="401"}') >= 1
    assert 'flask_http_request_duration_seconds_bucket{le="0.005",method="GET",path="/health",status="200"}' in text
    assert "app_dependency_up" in text


def test_login_and_status_over_real_http(env, clean) -> None:  # noqa: ANN001
    from tests.conftest import OPERATOR

    with Gunicorn(env, workers=2) as server, httpx.Client(base_url=server.url) as http:
        assert http.post("/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]}).status_code == 200
        csrf = {"x-csrf-token": http.cookies["csrf_token"]}
        project = http.post("/projects", json={"name": "Over HTTP"}, headers=csrf).json()["project"]
        assert http.post(f"/projects/{project['id']}/select", headers=csrf).status_code == 200
        status = http.get("/jobs/status")
        assert status.status_code == 200 and status.json()["poll_after_ms"] == 30000
        assert status.headers["x-request-id"] == status.json()["request_id"]
