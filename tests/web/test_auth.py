"""Auth, sessions, CSRF and the login rate limiter (platform §3, §6.2, §15, §16)."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from shared.db.models.platform import UserSession
from shared.timeutil import seconds_from_now
from tests.conftest import OPERATOR, Api


def test_login_sets_http_only_session_and_readable_csrf_cookie(client) -> None:
    resp = client.post("/auth/login", json={"username": " Operator ", "password": OPERATOR[1]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["username"] == "operator" and body["active_project_id"] is None
    assert body["csrf_cookie_name"] == "csrf_token"
    cookies = {c.split("=", 1)[0]: c for c in resp.headers.getlist("Set-Cookie")}
    assert "HttpOnly" in cookies["sid"] and "Max-Age=1209600" in cookies["sid"] and "SameSite=Lax" in cookies["sid"]
    assert "HttpOnly" not in cookies["csrf_token"] and "Max-Age=1209600" in cookies["csrf_token"]


def test_wrong_user_and_wrong_password_give_identical_bodies(client) -> None:
    a = client.post("/auth/login", json={"username": "nobody", "password": OPERATOR[1]}).get_json()
    b = client.post("/auth/login", json={"username": OPERATOR[0], "password": "wrong"}).get_json()
    for body in (a, b):
        body.pop("request_id")
    assert a == b == {"ok": False, "error": "invalid_credentials", "message": "Invalid credentials"}


@pytest.mark.parametrize("body", [{}, {"username": "x"}, {"password": "y"}, {"username": "", "password": "y"},
                                  {"username": 5, "password": "y"}, {"username": "x", "password": ["y"]}])
def test_login_missing_credentials(client, body) -> None:
    resp = client.post("/auth/login", json=body)
    assert resp.status_code == 400 and resp.get_json()["error"] == "missing_credentials"


def test_login_oversized_credentials(client) -> None:
    resp = client.post("/auth/login", json={"username": "u" * 201, "password": "p"})
    assert resp.get_json()["error"] == "invalid_credentials_format"
    resp = client.post("/auth/login", json={"username": "u", "password": "p" * 1025})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_credentials_format"


def test_eleventh_failure_is_rate_limited_even_with_the_right_password(client) -> None:
    for _ in range(10):
        assert client.post("/auth/login", json={"username": "operator", "password": "bad"}).status_code == 401
    resp = client.post("/auth/login", json={"username": "operator", "password": OPERATOR[1]})
    assert resp.status_code == 429 and resp.get_json()["error"] == "login_rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 15 * 60


def test_success_clears_the_failure_counter(client, runtime) -> None:
    for _ in range(5):
        client.post("/auth/login", json={"username": "operator", "password": "bad"})
    assert client.post("/auth/login", json={"username": "operator", "password": OPERATOR[1]}).status_code == 200
    assert not list(runtime.redis.scan_iter("auth:login_fail:*"))


def test_login_rotates_the_previous_session(api: Api, runtime) -> None:
    first = api.client.get_cookie("sid").value
    assert api.login().status_code == 200
    second = api.client.get_cookie("sid").value
    assert first != second
    with runtime.sessions() as s:
        ids = set(s.scalars(select(UserSession.session_id)))
    assert first not in ids and second in ids


def test_protected_get_without_cookie_is_401(client) -> None:
    resp = client.get("/projects")
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"


def test_unknown_session_cookie_is_401_and_cookies_cleared(client) -> None:
    client.set_cookie("sid", "f" * 64)
    resp = client.get("/projects")
    assert resp.status_code == 401
    assert any(c.startswith("sid=;") and "Max-Age=0" in c for c in resp.headers.getlist("Set-Cookie"))


def test_expired_session_is_401(api: Api, runtime) -> None:
    with runtime.transaction() as s:
        s.execute(update(UserSession).values(expires_at=seconds_from_now(-1)))
    assert api.get("/projects").status_code == 401


@pytest.mark.parametrize("token", ["", "garbage", "raw"])
def test_mutation_without_valid_csrf_is_403(api: Api, runtime, token) -> None:
    if token == "raw":
        with runtime.sessions() as s:
            token = s.scalar(select(UserSession.csrf_token))
    resp = api.client.post("/projects", json={"name": "X project"}, headers={"x-csrf-token": token})
    assert resp.status_code == 403 and resp.get_json()["error"] == "csrf_invalid"


def test_csrf_token_of_another_session_is_rejected(app) -> None:
    a, b = Api(app.test_client()), Api(app.test_client())
    a.login()
    b.login()
    resp = a.client.post("/projects", json={"name": "X project"}, headers={"x-csrf-token": b.csrf})
    assert resp.status_code == 403


def test_logout_with_bad_csrf_keeps_the_session(api: Api) -> None:
    resp = api.client.post("/auth/logout", headers={"x-csrf-token": "bad"})
    assert resp.status_code == 403
    assert api.get("/projects").status_code == 200
    assert api.post("/auth/logout").status_code == 200
    assert api.get("/projects").status_code == 401


def test_logout_without_session_is_ok(client) -> None:
    assert client.post("/auth/logout").status_code == 200


def test_me_reports_session_and_resets_missing_csrf_cookie(api: Api) -> None:
    api.client.delete_cookie("csrf_token")
    resp = api.get("/auth/me")
    body = resp.get_json()
    assert body["authenticated"] is True and body["username"] == "operator" and body["account_scope_id"] is None
    assert any(c.startswith("csrf_token=") for c in resp.headers.getlist("Set-Cookie"))


def test_me_without_session(client) -> None:
    assert client.get("/auth/me").get_json()["authenticated"] is False


@pytest.mark.parametrize("path,code", [("/auth/signup/start", "signup_disabled"),
                                       ("/auth/signup/confirm", "signup_disabled"),
                                       ("/auth/telegram/webhook", "telegram_disabled")])
def test_disabled_flows_answer_410(client, path, code) -> None:
    resp = client.post(path, data="not json", content_type="text/plain")
    assert resp.status_code == 410
    resp = client.post(path, json={"any": 1})
    assert resp.status_code == 410 and resp.get_json()["error"] == code
    assert client.get(path).status_code == 405


def test_signup_status(client) -> None:
    body = client.get("/v1/auth/signup/status").get_json()
    assert body["enabled"] is False and body["reason"] == "signup_disabled"


def test_changed_operator_username_ends_sessions(api: Api, runtime) -> None:
    from dataclasses import replace

    from web.app import create_app

    settings = replace(runtime.settings, operator=replace(runtime.settings.operator, username="someone-else"))
    other = create_app(settings)
    client = other.test_client()
    client.set_cookie("sid", api.client.get_cookie("sid").value)
    assert client.get("/projects").status_code == 401
