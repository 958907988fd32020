"""HTTP conventions: request id, envelope, body rules, paging, CORS (platform §2, §16)."""

from __future__ import annotations

import io

import pytest
from werkzeug.test import EnvironBuilder

from tests.conftest import Api


def test_request_id_is_echoed_when_valid_and_replaced_when_not(client) -> None:
    resp = client.get("/health", headers={"x-request-id": "abc.DEF:1-2_3"})
    assert resp.headers["x-request-id"] == "abc.DEF:1-2_3" == resp.get_json()["request_id"]
    for bad in ("", "has space", "x" * 129, "naïve"):
        resp = client.get("/health", headers={"x-request-id": bad})
        assert resp.headers["x-request-id"] != bad
        assert resp.headers["x-request-id"] == resp.get_json()["request_id"]


@pytest.mark.parametrize("path", ["/projects", "/nope", "/v1/nope"])
def test_errors_carry_request_id_in_header_and_body(client, path) -> None:
    resp = client.get(path)
    body = resp.get_json()
    assert resp.status_code == 401 and body["ok"] is False
    assert resp.headers["x-request-id"] == body["request_id"]
    assert resp.headers["Content-Type"].startswith("application/json")


def test_unknown_path_with_session_is_404_and_wrong_method_405(api: Api) -> None:
    resp = api.get("/does-not-exist")
    assert resp.status_code == 404 and resp.get_json()["error"] == "not_found"
    resp = api.client.delete("/projects", headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 405 and resp.get_json()["error"] == "method_not_allowed"
    resp = api.client.put("/v1/projects", headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 405


def test_oversized_body_is_413_even_without_content_length(api: Api) -> None:
    big = '{"name": "' + "x" * 70_000 + '"}'
    resp = api.client.post("/projects", data=big, content_type="application/json",
                           headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 413 and resp.get_json()["error"] == "payload_too_large"

    # A chunked body: no Content-Length, the stream itself exceeds the limit.
    environ = EnvironBuilder(path="/projects", method="POST", input_stream=io.BytesIO(big.encode()),
                             content_type="application/json", headers={"x-csrf-token": api.csrf}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ["wsgi.input_terminated"] = True
    resp = api.client.open(environ)
    assert resp.status_code == 413 and resp.get_json()["error"] == "payload_too_large"


@pytest.mark.parametrize("data,ctype,status,code", [
    ('{"name": "ok name"}', "text/plain", 415, "unsupported_media_type"),
    ("{not json", "application/json", 400, "invalid_json"),
    ("[1, 2]", "application/json", 400, "invalid_body"),
    ('"string"', "application/json", 400, "invalid_body"),
    ("null", "application/json", 400, "invalid_body"),
    ("\xff\xfe", "application/json", 400, "invalid_json"),
])
def test_bad_bodies(api: Api, data, ctype, status, code) -> None:
    resp = api.client.post("/projects", data=data, content_type=ctype, headers={"x-csrf-token": api.csrf})
    assert resp.status_code == status and resp.get_json()["error"] == code


def test_json_with_charset_is_accepted(api: Api) -> None:
    resp = api.client.post("/projects", data='{"name": "Charset"}', content_type="application/json; charset=utf-8",
                           headers={"x-csrf-token": api.csrf})
    assert resp.status_code == 201


@pytest.mark.parametrize("value,status,expected", [
    ("abc", 400, "invalid_limit"), ("10abc", 400, "invalid_limit"), ("1.5", 400, "invalid_limit"),
    ("0", 200, 1), ("-3", 200, 1), ("100000", 200, 200), ("", 200, 50),
])
def test_limit_parsing_and_clamping(api: Api, value, status, expected) -> None:
    api.create_project("Paging")
    for i in range(3):
        api.post("/projects", {"name": f"extra {i}"})  # audit rows
    resp = api.get(f"/audit?limit={value}")
    assert resp.status_code == status
    if status == 400:
        assert resp.get_json()["error"] == expected
    else:
        assert len(resp.get_json()["events"]) == min(expected, 2)


def test_offset_parsing(api: Api) -> None:
    api.create_project("Offsets")
    assert api.get("/audit?offset=x").get_json()["error"] == "invalid_offset"
    assert api.get("/audit?offset=-5").status_code == 200
    assert len(api.get("/audit?offset=1").get_json()["events"]) == 1


def test_cors_for_the_configured_origin_only(client) -> None:
    resp = client.get("/health", headers={"Origin": "http://ui.test"})
    assert resp.headers["Access-Control-Allow-Origin"] == "http://ui.test"
    assert resp.headers["Access-Control-Allow-Credentials"] == "true"
    assert "x-request-id" in resp.headers["Access-Control-Expose-Headers"]
    assert "Access-Control-Allow-Origin" not in client.get("/health", headers={"Origin": "http://evil"}).headers


def test_preflight_is_answered_before_auth(client) -> None:
    resp = client.options("/projects", headers={"Origin": "http://ui.test", "Access-Control-Request-Method": "POST"})
    assert resp.status_code == 204
    assert "x-csrf-token" in resp.headers["Access-Control-Allow-Headers"]
    assert resp.headers["Access-Control-Max-Age"] == "600"
    other = client.options("/projects", headers={"Origin": "http://evil", "Access-Control-Request-Method": "POST"})
    assert other.status_code == 204 and "Access-Control-Allow-Origin" not in other.headers


def test_health_liveness_and_deep(client) -> None:
    assert client.get("/health").get_json()["service"] == "server"
    body = client.get("/v1/health?deep=1").get_json()
    assert body["checks"] == {"database": "ok", "redis": "ok", "migrations": "ok"}


def test_deep_health_reports_redis_down_as_503(runtime) -> None:
    from dataclasses import replace

    from shared.runtime import Runtime
    from web.app import create_app

    settings = replace(runtime.settings, redis_url="redis://127.0.0.1:1/0")
    app = create_app(runtime=Runtime(settings))
    resp = app.test_client().get("/health?deep=1")
    body = resp.get_json()
    assert resp.status_code == 503 and body["error"] == "unhealthy"
    assert body["details"]["checks"]["redis"] == "error" and body["details"]["checks"]["database"] == "ok"


def test_metrics_exposition(client) -> None:
    client.get("/health")
    resp = client.get("/metrics")
    assert resp.status_code == 200 and resp.headers["Content-Type"].startswith("text/plain")
    text = resp.get_data(as_text=True)
    for name in ("app_requests_total", "app_response_status_total", "flask_http_request_duration_seconds",
                 'app_dependency_up{dependency="redis"} 1.0', 'app_rq_queue_jobs{queue="chatwoot",state="queued"}'):
        assert name in text


def test_openapi_lists_every_declared_route(client) -> None:
    doc = client.get("/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert {"/projects", "/projects/{project_id}/select", "/auth/login", "/audit"} <= set(doc["paths"])
    assert "requestBody" in doc["paths"]["/projects"]["post"]
