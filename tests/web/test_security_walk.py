"""Walk every route in the URL map and check its auth and CSRF policy (platform §3.5, §5).

A route added without a declaration, or protected differently from the spec, fails here.
"""

from __future__ import annotations

import re

import pytest

from web.api import MUTATING, spec_for_endpoint
from web.pipeline import is_public

SAMPLE = {"int": "1", "uuid": "00000000-0000-4000-8000-000000000001", "str": "chatwoot"}


def concrete(rule: str, spec) -> str:  # noqa: ANN001
    def fill(match: re.Match) -> str:
        name = match.group(1)
        param = spec.path.get(name) if spec else None
        return SAMPLE[param.kind] if param else "x"

    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", fill, rule)


def api_rules(app):  # noqa: ANN001, ANN201
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static" or rule.rule.startswith("/rq"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_is_declared(app) -> None:
    missing = [f"{m} {r.rule}" for r, m in api_rules(app) if spec_for_endpoint(r.endpoint) is None]
    assert missing == []


def test_every_route_also_answers_under_v1(app) -> None:
    rules = {(r.rule, m) for r, m in api_rules(app)}
    plain = {(rule, m) for rule, m in rules if not rule.startswith("/v1/")}
    assert all((f"/v1{rule}", m) in rules for rule, m in plain)


def test_public_routes_are_exactly_the_specs(app) -> None:
    public = {r.rule for r, m in api_rules(app) if spec_for_endpoint(r.endpoint).public and not r.rule.startswith("/v1")}
    assert public == {"/health", "/metrics", "/openapi.json", "/auth/login", "/auth/logout", "/auth/me",
                      "/auth/signup/status", "/auth/signup/start", "/auth/signup/confirm", "/auth/telegram/webhook"}
    for rule in public:
        assert is_public(rule) and is_public("/v1" + rule)


def test_protected_routes_answer_401_without_a_session(client, app) -> None:
    checked = 0
    for rule, method in api_rules(app):
        spec = spec_for_endpoint(rule.endpoint)
        if spec.public:
            continue
        resp = client.open(concrete(rule.rule, spec), method=method, json={})
        assert resp.status_code == 401, f"{method} {rule.rule}: {resp.status_code}"
        assert resp.get_json()["error"] == "unauthorized"
        checked += 1
    assert checked > 0


@pytest.mark.parametrize("token", [None, "forged-token"])
def test_mutating_routes_answer_403_without_a_valid_csrf_token(api, app, token) -> None:  # noqa: ANN001
    api.create_project("Walker")
    checked = 0
    for rule, method in api_rules(app):
        spec = spec_for_endpoint(rule.endpoint)
        if method not in MUTATING or spec.public:
            continue
        headers = {"x-csrf-token": token} if token else {}
        resp = api.client.open(concrete(rule.rule, spec), method=method, json={}, headers=headers)
        assert resp.status_code == 403, f"{method} {rule.rule}: {resp.status_code}"
        assert resp.get_json()["error"] == "csrf_invalid"
        checked += 1
    assert checked > 0


def test_project_routes_need_an_active_project(api, app) -> None:  # noqa: ANN001
    for rule, method in api_rules(app):
        spec = spec_for_endpoint(rule.endpoint)
        if spec.public or not spec.project:
            continue
        resp = api.client.open(concrete(rule.rule, spec), method=method, json={},
                               headers={"x-csrf-token": api.csrf})
        assert resp.status_code == 409, f"{method} {rule.rule}: {resp.status_code}"
        assert resp.get_json()["error"] == "active_project_required"


def test_dashboard_needs_the_operator_login(client, api) -> None:  # noqa: ANN001
    anonymous = client.application.test_client()
    assert anonymous.get("/rq/").status_code == 401
    assert api.get("/rq/").status_code == 200
