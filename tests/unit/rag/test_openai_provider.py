"""The OpenAI-compatible provider against a small local server (connectors-rag §7.2, §1.3–§1.4)."""

import hashlib
import json
import threading
import time

import numpy as np
import pytest
from tenacity import wait_none
from werkzeug.wrappers import Request, Response

from shared.embeddings import (
    EmbeddingClientError,
    EmbeddingDimensionMismatch,
    EmbeddingSettings,
    EmbeddingTimeout,
    EmbeddingTransientError,
    get_provider,
)
from shared.embeddings.base import MISSING, REJECTED
from shared.embeddings.openai import OpenAIProvider, parse_retry_after

KEY, DIM, MARKER = "sk-test", 16, "REJECT-ME"


def fake_vector(text: str, dim: int = DIM) -> list[float]:
    raw = np.frombuffer(hashlib.sha256(text.encode()).digest() * 4, dtype=np.uint8)[:dim].astype(float) - 127.5
    return (raw / np.linalg.norm(raw)).tolist()


class FakeOpenAI:
    """WSGI app: ``POST /v1/embeddings`` with scripted one-shot faults and a request log."""

    def __init__(self) -> None:
        self.faults: list[dict] = []
        self.requests: list[dict] = []
        self.dim = DIM
        self._lock = threading.Lock()

    def __call__(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        body = request.get_json(silent=True) or {}
        with self._lock:
            self.requests.append({"auth": request.headers.get("Authorization"), "body": body})
            fault = self.faults.pop(0) if self.faults else None
        if request.path != "/v1/embeddings" or request.method != "POST":
            return Response("not found", status=404)
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return Response(json.dumps({"error": {"message": "bad key"}}), status=401)
        inputs = body.get("input", [])
        if fault:
            if "delay" in fault:
                time.sleep(fault["delay"])  # a slow vendor, not test synchronisation
            if "status" in fault:
                return Response(fault.get("body", "{}"), status=fault["status"], headers=fault.get("headers", {}))
            if "raw" in fault:
                return Response(fault["raw"], status=200, content_type="application/json")
        if any(MARKER in t for t in inputs):
            return Response(json.dumps({"error": {"message": "input rejected"}}), status=400)
        data = [{"object": "embedding", "index": i, "embedding": fake_vector(t, self.dim)}
                for i, t in enumerate(inputs)]
        if fault and fault.get("shape") == "drop_one":
            data = data[1:]
        elif fault and fault.get("shape") == "dup_index":
            data[-1]["index"] = 0
        elif fault and fault.get("shape") == "nan_first":
            data[0]["embedding"] = [float("nan")] * self.dim
        data.reverse()  # the provider must order by index
        return Response(json.dumps({"object": "list", "data": data, "model": "served-model"}),
                        content_type="application/json; charset=utf-8")


class FastRetryProvider(OpenAIProvider):
    backoff = wait_none()


@pytest.fixture
def fake(http_app_server):
    app = FakeOpenAI()
    app.base_url = http_app_server(app) + "/v1"
    return app


def make(fake, **kw) -> OpenAIProvider:
    args = {"model": "text-embedding-3-small", "dim": DIM, "base_url": fake.base_url, "api_key": KEY,
            "max_attempts": 3, **kw}
    return FastRetryProvider(**args)


def test_embeds_in_input_order_with_auth_and_model(fake):
    p = make(fake)
    texts = ["alpha", "  beta \n gamma ", "дельта"]
    batch = p.embed_batch(texts)
    assert batch.errors == {} and batch.response_model == "served-model"
    expected = np.array([fake_vector("alpha"), fake_vector("beta gamma"), fake_vector("дельта")], dtype=np.float32)
    assert np.allclose(batch.vectors, expected, atol=1e-6)
    assert fake.requests[0]["auth"] == f"Bearer {KEY}"
    assert fake.requests[0]["body"] == {"model": "text-embedding-3-small", "input": ["alpha", "beta gamma", "дельта"]}
    assert p.model_key == f"openai:text-embedding-3-small:{DIM}"


def test_batches_are_split_by_max_inputs(fake):
    make(fake, max_inputs=3).embed([f"t{i}" for i in range(7)])
    assert [len(r["body"]["input"]) for r in fake.requests] == [3, 3, 1]


@pytest.mark.parametrize("status", [429, 500, 503, 408])
def test_transient_status_is_retried_then_succeeds(fake, status):
    fake.faults = [{"status": status, "headers": {"Retry-After": "0"}}]
    v = make(fake).embed(["one", "two"])
    assert v.shape == (2, DIM) and len(fake.requests) == 2


def test_retries_stop_after_max_attempts_with_one_warning_per_retry(fake, caplog):
    fake.faults = [{"status": 500}] * 5
    with caplog.at_level("WARNING", logger="shared.embeddings.openai"), pytest.raises(EmbeddingTransientError) as info:
        make(fake).embed(["one"])
    assert info.value.status == 500 and len(fake.requests) == 3
    retries = [r for r in caplog.records if r.name == "shared.embeddings.openai"]
    assert len(retries) == 2 and all(KEY not in r.getMessage() for r in retries)


def test_retry_after_above_cap_is_not_waited_in_job(fake):
    fake.faults = [{"status": 429, "headers": {"Retry-After": "3600"}}]
    with pytest.raises(EmbeddingTransientError) as info:
        make(fake, retry_after_max_s=60).embed(["one"])
    assert info.value.retry_after == 3600 and len(fake.requests) == 1


def test_400_batch_is_bisected_down_to_the_offending_input(fake):
    texts = [f"text {i}" for i in range(8)]
    texts[5] = f"text with {MARKER}"
    batch = make(fake).embed_batch(texts)
    assert batch.errors == {5: REJECTED}
    assert batch.ok_indexes == [0, 1, 2, 3, 4, 6, 7]
    assert np.allclose(batch.vectors[6], fake_vector("text 6"), atol=1e-6)
    assert not batch.vectors[5].any()
    sizes = [len(r["body"]["input"]) for r in fake.requests]
    assert sizes == [8, 4, 4, 2, 1, 1, 2]  # halves in order: [0:4] ok, [4:8] → [4:6] → [4], [5]; [6:8] ok


def test_single_rejected_input_fails_only_that_chunk(fake):
    batch = make(fake).embed_batch([MARKER])
    assert batch.errors == {0: REJECTED}


def test_every_input_rejected_is_a_request_error_not_chunk_failures(fake):
    with pytest.raises(EmbeddingClientError) as info:
        make(fake).embed_batch([f"{MARKER} 1", f"{MARKER} 2"])
    assert info.value.status == 400


@pytest.mark.parametrize(("status", "kind"), [(401, "auth_failed"), (403, "auth_failed"), (404, "not_found"),
                                              (422, "http_422")])
def test_permanent_errors_are_not_retried(fake, status, kind):
    fake.faults = [{"status": status}]
    with pytest.raises(EmbeddingClientError) as info:
        make(fake).embed(["one", "two"])
    assert info.value.error_kind == kind and len(fake.requests) == 1


def test_wrong_key_is_auth_failed(fake):
    with pytest.raises(EmbeddingClientError) as info:
        make(fake, api_key="sk-wrong").embed(["one"])
    assert info.value.error_kind == "auth_failed"


@pytest.mark.parametrize("fault", [
    {"shape": "drop_one"},
    {"shape": "dup_index"},
    {"raw": json.dumps({"data": "nope"})},
])
def test_invalid_response_is_transient_and_retried(fake, fault):
    fake.faults = [fault] * 3
    with pytest.raises(EmbeddingTransientError) as info:
        make(fake).embed(["one", "two", "three"])
    assert info.value.error_kind == "invalid_response" and len(fake.requests) == 3


@pytest.mark.parametrize("raw", ["<html>oops</html>", "", "[1, 2]"])
def test_non_json_body_is_invalid_json_and_retried(fake, raw):
    fake.faults = [{"raw": raw}]
    assert make(fake).embed(["one"]).shape == (1, DIM)
    assert len(fake.requests) == 2


def test_non_finite_vector_fails_only_its_chunk(fake):
    fake.faults = [{"shape": "nan_first"}]
    batch = make(fake).embed_batch(["one", "two"])
    assert batch.errors == {0: MISSING} and batch.ok_indexes == [1]


def test_dimension_mismatch_for_the_whole_batch_is_a_configuration_error(fake):
    fake.dim = DIM * 2
    with pytest.raises(EmbeddingDimensionMismatch):
        make(fake).embed_batch(["one", "two"])


def test_query_embedding_makes_one_call_without_retries(fake):
    p = make(fake)
    assert np.allclose(p.embed_query(" hello  "), fake_vector("hello"), atol=1e-6)
    fake.faults = [{"status": 500}]
    with pytest.raises(EmbeddingTransientError):
        p.embed_query("hello")
    assert len(fake.requests) == 2


def test_query_timeout_raises_embedding_timeout(fake):
    fake.faults = [{"delay": 1.0}]
    with pytest.raises(EmbeddingTimeout):
        make(fake, search_timeout_s=0.2).embed_query("hello")


def test_connection_refused_is_transient(fake):
    p = make(fake, base_url="http://127.0.0.1:9/v1", max_attempts=2)
    with pytest.raises(EmbeddingTransientError) as info:
        p.embed(["one"])
    assert info.value.error_kind == "connection_error"


def test_no_authorization_header_when_key_is_empty_on_a_custom_url(fake):
    with pytest.raises(EmbeddingClientError):
        make(fake, api_key="").embed(["one"])
    assert fake.requests[0]["auth"] is None


def test_factory_builds_openai_from_settings(fake):
    s = EmbeddingSettings.for_provider("openai", openai_base_url=fake.base_url, openai_api_key=KEY, dim=DIM)
    p = get_provider(s)
    assert isinstance(p, OpenAIProvider) and p.embed(["x"]).shape == (1, DIM)


def test_parse_retry_after_seconds_and_http_date():
    from datetime import UTC, datetime

    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now=now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
