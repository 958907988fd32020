"""Walk every route in the URL map and check its auth and CSRF policy (platform §3.5, §5).

A route added without a declaration, or protected differently from the spec, fails here.
"""

from __future__ import annotations

import re
import uuid

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
    public = {r.rule for r, _ in api_rules(app)
              if spec_for_endpoint(r.endpoint).public and not r.rule.startswith("/v1")}
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


# --- scope isolation (platform §4.3, §16): another project's ids are "not found", its data never shows ---------
MAX_COMBOS_PER_ROUTE = 24


def scoped_rules(app, with_ids: bool):  # noqa: ANN001, ANN201
    """Scoped (project or account) routes from the URL map, without the /v1 twins (tested identical above)."""
    for rule, method in api_rules(app):
        spec = spec_for_endpoint(rule.endpoint)
        if spec.public or not (spec.project or spec.account) or rule.rule.startswith("/v1/"):
            continue
        ids = {name: p for name, p in spec.path.items() if p.kind in ("uuid", "int") or name.endswith("id")}
        if bool(ids) == with_ids:
            yield rule, method, spec, ids


def body_candidates(spec) -> list[dict]:  # noqa: ANN001
    """``{}``, a schema-shaped body (first enum value, a short string, 1, false, []) and the route's entry in
    ``ID_ROUTE_BODIES``: bodies that get past validation, so the request reaches the scoped lookup."""
    from tests.scoped_data import ID_ROUTE_BODIES

    known = ID_ROUTE_BODIES.get(f"{spec.method} {spec.rule}", [])
    if spec.body is None:
        return [{}, *known]
    shaped: dict = {}
    for name, prop in spec.body.model_json_schema().get("properties", {}).items():
        if "enum" in prop:
            shaped[name] = next((v for v in prop["enum"] if v not in ("", None)), prop["enum"][0])
        elif prop.get("format") == "uuid":
            continue
        elif prop.get("type") == "string":
            shaped[name] = f"scope check {name}"
        elif prop.get("type") in ("number", "integer"):
            shaped[name] = 1
        elif prop.get("type") == "boolean":
            shaped[name] = False
        elif prop.get("type") == "array":
            shaped[name] = []
    return [{}, *([shaped] if shaped else []), *known]


def id_combos(params, pool) -> list[dict[str, str]]:  # noqa: ANN001
    import itertools

    choices = []
    for name, param in params.items():
        values = pool[param.kind] if param.kind in ("uuid", "int") else pool["str"] + pool["uuid"] + pool["int"]
        choices.append([(name, v) for v in values])
    return [dict(c) for c in itertools.islice(itertools.product(*choices), MAX_COMBOS_PER_ROUTE)]


def absent_id(param) -> str:  # noqa: ANN001
    return "987654321" if param.kind == "int" else str(uuid.uuid4())


def fill(rule: str, values: dict[str, str]) -> str:
    return re.sub(r"<(?:[a-z]+:)?([a-zA-Z_]+)>", lambda m: values.get(m.group(1), "x"), rule)


def answer(resp) -> tuple[int, str | None]:  # noqa: ANN001
    body = resp.get_json(silent=True) or {}
    return resp.status_code, body.get("error") if isinstance(body, dict) else None


@pytest.fixture()
def two_projects(api, app, clean):  # noqa: ANN001, ANN201
    """Project A (account scope ``alpha``) seeded with data through the API; project B (``bravo``) selected."""
    from tests.scoped_data import fingerprint, id_pool, ids_by_table, seed_project

    a = api.create_project("Alpha", scope_key="alpha")

    def post(path: str, body: dict) -> tuple[int, object]:
        resp = api.post(path, body)
        return resp.status_code, resp.get_json(silent=True)

    triggers = [r.rule for r, m, spec, _ in scoped_rules(app, with_ids=False)
                if m == "POST" and (spec.body is None or spec.body.__name__ == "EmptyBody")]
    seed_project(post, extra_posts=triggers)
    by_table = ids_by_table(clean.engine, a["id"])
    pool = id_pool(by_table)
    assert pool["uuid"] and pool["int"], f"project A needs uuid and integer ids to attack with: {by_table}"
    b = api.create_project("Bravo", scope_key="bravo")
    return {"a": a, "b": b, "by_table": by_table, "pool": pool, "before": fingerprint(clean.engine, a["id"])}


def test_list_routes_of_another_project_never_show_its_data(api, app, two_projects) -> None:  # noqa: ANN001
    from tests.scoped_data import leaked_markers

    checked = []
    for rule, method, _spec, _ids in scoped_rules(app, with_ids=False):
        if method != "GET":
            continue
        resp = api.get(rule.rule)
        assert resp.status_code < 500, f"GET {rule.rule}: {resp.status_code}"
        leaks = leaked_markers(resp.get_data(as_text=True), two_projects["a"]["id"], two_projects["by_table"])
        assert leaks == [], f"GET {rule.rule} with project B selected shows project A's data: {leaks}"
        checked.append(rule.rule)
    assert "/jobs/status" in checked and len(checked) >= 5


def test_other_projects_ids_are_not_found_on_every_scoped_route(api, app, clean, two_projects) -> None:  # noqa: ANN001
    """Every scoped route taking an id, hit with project A's real ids while B is selected: never a success,
    never A's data, and the same answer as for an id that exists nowhere (existence does not leak)."""
    from tests.scoped_data import MARKER, fingerprint

    a_id = two_projects["a"]["id"]
    routes = list(scoped_rules(app, with_ids=True))
    assert routes, "no scoped route with an id in the URL map"
    replay: list[tuple[str, str, dict]] = []
    not_found: dict[str, int] = {}
    for rule, method, spec, params in routes:
        label = f"{method} {rule.rule}"
        not_found[label] = 0
        combos = id_combos(params, two_projects["pool"])
        assert combos, f"{label}: no id of project A fits its parameters"
        for body in body_candidates(spec):
            control_path = fill(rule.rule, {n: absent_id(p) for n, p in params.items()})
            control = answer(api.client.open(control_path, method=method, json=body,
                                             headers={"x-csrf-token": api.csrf}))
            for values in combos:
                path = fill(rule.rule, values)
                resp = api.client.open(path, method=method, json=body, headers={"x-csrf-token": api.csrf})
                text = resp.get_data(as_text=True)
                assert resp.status_code >= 400, f"{label} {path} served project A's row to B: {text[:300]}"
                assert MARKER not in text and a_id not in text, f"{label} {path} leaks A's data: {text[:300]}"
                assert answer(resp) == control, (
                    f"{label} {path}: {answer(resp)} for A's id but {control} for an id that exists nowhere")
                not_found[label] += resp.status_code == 404
                replay.append((method, path, body))
    unreached = [label for label, n in not_found.items() if n == 0]
    assert unreached == [], f"never reached the scope lookup (validation answered first): {unreached}"
    assert fingerprint(clean.engine, a_id) == two_projects["before"], "B's requests changed project A's rows"

    api.select(a_id)  # positive control: the same requests on the owning project do find the rows
    headers = {"x-csrf-token": api.csrf}
    found = sum(1 for method, path, body in replay
                if api.client.open(path, method=method, json=body, headers=headers).status_code < 300)
    assert found > 0, "none of project A's ids was found by A itself: the walk attacked nothing real"
