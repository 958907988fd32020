"""NUL characters (``\\x00``) in any query value or body string never reach PostgreSQL as an error.

PostgreSQL text cannot hold NUL; the fuzzer found list filters answering 500 for ``?q=a%00b``. Every
declared query parameter and every string body field of every route, walked from the document, gets a
value with a NUL in it: the answer is never a 5xx.
"""

from __future__ import annotations

from typing import Any

VALUE = "nul\x00value"


def declared(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    out = []
    for path, operations in document["paths"].items():
        for method, op in operations.items():
            out.append((path, method.upper(), op))
    return out


def body_fields(document: dict[str, Any], op: dict[str, Any]) -> list[str]:
    ref = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    if not ref:
        return []
    schema = document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def test_nul_in_queries_and_bodies_is_never_a_server_error(api, clean, vectors) -> None:  # noqa: ANN001
    api.create_project("Nul")
    document = api.get("/openapi.json").get_json()
    failures = []
    checked = 0
    for path, method, op in declared(document):
        if "{" in path or path == "/auth/logout":
            continue
        for param in (p for p in op.get("parameters", []) if p["in"] == "query"):
            resp = api.client.open(path, method=method, query_string={param["name"]: VALUE}, json={},
                                   headers={"x-csrf-token": api.csrf})
            checked += 1
            if resp.status_code >= 500:
                text = resp.get_data(as_text=True)[:200]
                failures.append(f"{method} {path}?{param['name']}=…: {resp.status_code} {text}")
        for name in body_fields(document, op):
            resp = api.client.open(path, method=method, json={name: VALUE}, headers={"x-csrf-token": api.csrf})
            checked += 1
            if resp.status_code >= 500:
                failures.append(f"{method} {path} body {name}: {resp.status_code} {resp.get_data(as_text=True)[:200]}")
    assert checked > 50
    assert failures == []
