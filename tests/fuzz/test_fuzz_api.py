"""Schemathesis over every operation of ``/openapi.json`` (short form; ``bench/fuzz.py`` is the full run).

Logged in, with the CSRF token and an active project that holds data (so id routes are fuzzed past their
404): no 5xx, no status code / content type / body outside the document, authentication enforced.
"""

from __future__ import annotations

import pytest

from tests.fuzz.harness import Fuzzer, wsgi_schema
from tests.scoped_data import id_pool, ids_by_table, seed_project

SEED = 20_251_126  # fixed in CI so a failure reproduces; bench/fuzz.py draws a fresh one per run
EXAMPLES = 3


@pytest.fixture()
def fuzz_project(api, clean):  # noqa: ANN001, ANN201
    project = api.create_project("Fuzzed")

    def post(path: str, body: dict) -> tuple[int, object]:
        resp = api.post(path, body)
        return resp.status_code, resp.get_json(silent=True)

    seed_project(post, extra_posts=["/jobs/chatwoot/sync", "/jobs/embeddings/run"])
    return project


def test_every_operation_survives_generated_requests(app, api, clean, vectors, fuzz_project) -> None:  # noqa: ANN001
    session_id = api.client.get_cookie(clean.settings.session_cookie_name).value
    schema = wsgi_schema(app, session_id, api.csrf)
    pool = id_pool(ids_by_table(clean.engine, fuzz_project["id"]))
    report = Fuzzer(schema, send=lambda case: case.call(), examples=EXAMPLES, id_examples=1, id_pool=pool,
                    seed=SEED).run()
    print(report.summary())
    declared = {(path, method) for path, ops in app.test_client().get("/openapi.json").get_json()["paths"].items()
                for method in ops}
    assert report.operations == len(declared)
    assert report.requests >= 200
    assert report.server_errors == 0 and report.failures == [], report.summary()
