"""``embeddings_run`` and ``vector_gc`` (connectors-rag §7.3–§7.5, §8) against PostgreSQL and a real Chroma."""

from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from jobs import embeddings as job
from shared.db.models.platform import JobRun
from shared.db.models.rag import RagChunk
from shared.db.service import rag as svc
from shared.embeddings import EmbeddingClientError, EmbeddingDimensionMismatch, EmbeddingTransientError
from shared.embeddings.hashing import HashingProvider
from shared.errors import JobSkipped
from shared.runtime import Runtime, install
from shared.scope import Scope
from shared.vectors import VectorStore, VectorStoreSettings, VectorStoreUnavailable
from tests.conftest import Api
from tests.db.test_rag_chunks import SMALL, make_scope, words

LOG = logging.getLogger("test")
HASHING_KEY = "hashing:char-ngram-hash:384"


@pytest.fixture()
def rt(clean: Runtime, vectors: VectorStore) -> Runtime:
    install(clean)
    return clean


@pytest.fixture()
def scope(rt: Runtime) -> Scope:
    return make_scope(rt)


def add_source(rt: Runtime, scope: Scope, pk: str, body: str | None) -> svc.ChunkSyncCounts:
    with rt.transaction() as s:
        return svc.sync_source_chunks(s, scope, source_type="chatwoot_message", source_table="cw_messages",
                                      source_pk=pk, text=body, settings=SMALL,
                                      source_fields={"conversation_global_id": "cw:1", "message_global_id": pk,
                                                     "source_ts": datetime(2026, 2, 1, tzinfo=UTC)})


def chunks(rt: Runtime, scope: Scope) -> list[RagChunk]:
    with rt.session() as s:
        return list(s.scalars(select(RagChunk).filter_by(**scope.as_filter())
                              .order_by(RagChunk.source_pk, RagChunk.chunk_index)))


def set_config(monkeypatch: pytest.MonkeyPatch, **values: Any) -> None:
    cfg = replace(job.EmbedJobSettings(), **values)
    monkeypatch.setattr(job.EmbedJobSettings, "from_env", classmethod(lambda cls, environ: cfg))


def use_provider(monkeypatch: pytest.MonkeyPatch, provider: Any) -> None:
    monkeypatch.setattr(job, "active_provider", lambda environ: provider)


def test_run_embeds_pending_chunks_then_is_idle(rt: Runtime, scope: Scope, vectors: VectorStore) -> None:
    add_source(rt, scope, "m1", words(50))  # 3 chunks
    add_source(rt, scope, "m2", words(10))  # 1 chunk
    result = job.embeddings_run(scope, {}, LOG)
    assert result == {"status": "ok", "processed": 4, "failed": 0, "remaining_pending": 0, "provider": "hashing",
                      "model": "char-ngram-hash", "dim": 384, "batches": 1, "recovered_stale": 0, "reset_failed": 0,
                      "term_stats_refreshed": True}
    rows = chunks(rt, scope)
    assert {(r.embedding_status, r.embedding_provider, r.embedding_model, r.embedding_dim) for r in rows} == {
        ("ready", "hashing", "char-ngram-hash", 384)}
    assert all(r.embedding_attempts == 1 and r.last_embedded_at is not None for r in rows)
    col = vectors.collection(scope.project_id, HASHING_KEY)
    assert sorted(col.list_ids()) == sorted(str(r.id) for r in rows)
    got = col.client_get = vectors.client.get_collection(col.name).get(ids=[str(rows[0].id)],
                                                                        include=["metadatas", "embeddings"])
    meta = got["metadatas"][0]
    assert meta["source_pk"] == "m1" and meta["chunk_index"] == 0 and meta["text_hash"] == rows[0].text_hash
    assert meta["project_id"] == str(scope.project_id) and meta["source_ts"] == 1769904000
    assert "contact_global_id" not in meta
    assert abs(float(np.linalg.norm(got["embeddings"][0])) - 1.0) < 1e-5
    again = job.embeddings_run(scope, {}, LOG)
    assert again["status"] == "idle" and again["processed"] == 0 and "follow_up" not in again
    assert col.count() == 4


def test_edited_message_reembeds_exactly_its_chunks(rt: Runtime, scope: Scope, vectors: VectorStore) -> None:
    add_source(rt, scope, "m1", words(50))
    add_source(rt, scope, "m2", words(10))
    job.embeddings_run(scope, {}, LOG)
    before = {(r.source_pk, r.chunk_index): r.last_embedded_at for r in chunks(rt, scope)}
    counts = add_source(rt, scope, "m1", words(45) + " edited by the client")  # tail chunk changes
    assert (counts.reembedded, counts.unchanged, counts.deleted) == (1, 2, 0)
    result = job.embeddings_run(scope, {}, LOG)
    assert result["processed"] == 1
    after = {(r.source_pk, r.chunk_index): r.last_embedded_at for r in chunks(rt, scope)}
    changed = {k for k in after if after[k] != before[k]}
    assert changed == {("m1", 2)}


def test_follow_up_runs_until_nothing_is_pending(api: Api, rt: Runtime, run_jobs: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import jobs.runner as runner

    set_config(monkeypatch, batch_size=2, max_batches=1)
    lock_held_at_enqueue: list[int] = []
    enqueue_follow_up = runner._enqueue_follow_up

    def spy(rt_: Runtime, parent_id: int, scope_: Scope, follow_up: dict) -> dict:
        lock_held_at_enqueue.append(rt_.redis.exists(f"lock:job:{scope_.project_id}:embeddings_run"))
        return enqueue_follow_up(rt_, parent_id, scope_, follow_up)

    monkeypatch.setattr(runner, "_enqueue_follow_up", spy)
    progress: list[tuple[int, int]] = []
    report = job.report_progress

    def progress_spy(done: int, total: int | None = None, **info: Any) -> None:
        progress.append((done, total))
        report(done, total, **info)

    monkeypatch.setattr(job, "report_progress", progress_spy)
    project = api.create_project("Follow-ups")
    project_scope = Scope.of(project["id"], project["account_scope_id"])
    for i in range(5):
        add_source(rt, project_scope, f"m{i}", words(10))
    first = api.post("/jobs/embeddings/run")
    assert first.status_code == 202 and first.get_json()["effective_mode"] == "available"
    run_jobs("embeddings")
    with rt.session() as s:
        runs = list(s.scalars(select(JobRun).filter_by(job_type="embeddings_run").order_by(JobRun.id)))
    assert [r.status for r in runs] == ["ok", "ok", "ok"]
    assert [r.meta["result"]["processed"] for r in runs] == [2, 2, 1]
    assert [r.meta["result"]["remaining_pending"] for r in runs] == [3, 1, 0]
    assert runs[0].meta["result"]["follow_up"]["job_run_id"] == runs[1].id
    assert "follow_up" not in runs[2].meta["result"]
    assert progress == [(2, 5), (2, 3), (1, 1)] and runs[0].processed_count == 2  # (done, pending at start)
    assert runs[1].meta["params"]["parent_job_run_id"] == runs[0].id
    assert {r.embedding_status for r in chunks(rt, project_scope)} == {"ready"}
    assert lock_held_at_enqueue == [0, 0]  # a second worker could take the follow-up at once


def test_model_change_reembeds_ready_rows(rt: Runtime, scope: Scope, vectors: VectorStore) -> None:
    add_source(rt, scope, "m1", words(30))
    job.embeddings_run(scope, {}, LOG)
    with rt.transaction() as s:
        s.execute(update(RagChunk).values(embedding_model="older-model"))
    result = job.embeddings_run(scope, {}, LOG)
    assert result["processed"] == 2 and result["remaining_pending"] == 0
    assert {r.embedding_model for r in chunks(rt, scope)} == {"char-ngram-hash"}


def test_retry_failed_resets_failed_rows(rt: Runtime, scope: Scope) -> None:
    add_source(rt, scope, "m1", words(10))
    with rt.transaction() as s:
        s.execute(update(RagChunk).values(embedding_status="failed", embedding_attempts=5, embedding_error="x"))
    assert job.embeddings_run(scope, {}, LOG)["status"] == "idle"
    result = job.embeddings_run(scope, {"retry_failed": True}, LOG)
    assert result["reset_failed"] == 1 and result["processed"] == 1
    row = chunks(rt, scope)[0]
    assert row.embedding_status == "ready" and row.embedding_attempts == 1 and row.embedding_error is None


def test_stale_processing_rows_are_recovered_and_embedded(rt: Runtime, scope: Scope) -> None:
    add_source(rt, scope, "m1", words(10))
    with rt.transaction() as s:
        s.execute(update(RagChunk).values(embedding_status="processing",
                                          updated_at=datetime.now(UTC) - timedelta(hours=2)))
    result = job.embeddings_run(scope, {}, LOG)
    assert result["recovered_stale"] == 1 and result["processed"] == 1


class FlakyProvider(HashingProvider):
    """Hashing vectors, except: ``fail`` raises for the whole call; ``bad`` texts get a wrong dimension."""

    def __init__(self, fail: Exception | None = None, bad: str = "\x00never") -> None:
        super().__init__()
        self.fail, self.bad = fail, bad

    def _embed_raw(self, texts: list[str]) -> Any:
        if self.fail is not None:
            raise self.fail
        vectors, errors, model = super()._embed_raw(texts)
        out = [v if self.bad not in t else np.ones(7) for v, t in zip(vectors, texts, strict=True)]
        return out, errors, model


def test_wrong_dimension_for_one_chunk_fails_that_chunk(rt: Runtime, scope: Scope,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    use_provider(monkeypatch, FlakyProvider(bad="poison"))
    add_source(rt, scope, "m1", words(10))
    add_source(rt, scope, "m2", "this message carries poison and nothing else")
    result = job.embeddings_run(scope, {}, LOG)
    assert result["processed"] == 1 and result["failed"] == 1
    failed = [r for r in chunks(rt, scope) if r.embedding_status == "failed"]
    assert [(r.source_pk, r.embedding_error) for r in failed] == [("m2", "embedding_dimension_mismatch")]


def test_every_vector_of_wrong_length_fails_the_job_and_keeps_chunks_pending(
        rt: Runtime, scope: Scope, monkeypatch: pytest.MonkeyPatch) -> None:
    use_provider(monkeypatch, FlakyProvider(bad=""))
    add_source(rt, scope, "m1", words(10))
    with pytest.raises(EmbeddingDimensionMismatch):
        job.embeddings_run(scope, {}, LOG)
    row = chunks(rt, scope)[0]
    assert row.embedding_status == "pending" and row.embedding_attempts == 0
    assert row.embedding_error.startswith("EmbeddingDimensionMismatch")


def test_transient_batch_failure_counts_attempts_up_to_failed(rt: Runtime, scope: Scope,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(monkeypatch, max_attempts=2)
    use_provider(monkeypatch, FlakyProvider(fail=EmbeddingTransientError("HTTP 503", status=503)))
    add_source(rt, scope, "m1", words(10))
    with pytest.raises(EmbeddingTransientError):
        job.embeddings_run(scope, {}, LOG)
    row = chunks(rt, scope)[0]
    assert (row.embedding_status, row.embedding_attempts) == ("pending", 1)
    assert row.embedding_error == "EmbeddingTransientError: HTTP 503"
    with pytest.raises(EmbeddingTransientError):
        job.embeddings_run(scope, {}, LOG)
    assert chunks(rt, scope)[0].embedding_status == "failed"


def test_permanent_provider_error_never_marks_chunks_failed(rt: Runtime, scope: Scope,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(monkeypatch, max_attempts=1)
    use_provider(monkeypatch, FlakyProvider(fail=EmbeddingClientError("401", status=401, error_kind="auth_failed")))
    add_source(rt, scope, "m1", words(10))
    for _ in range(2):
        with pytest.raises(EmbeddingClientError):
            job.embeddings_run(scope, {}, LOG)
    row = chunks(rt, scope)[0]
    assert (row.embedding_status, row.embedding_attempts) == ("pending", 0)


def test_chroma_down_releases_the_claim(rt: Runtime, scope: Scope) -> None:
    rt.__dict__["vectors"] = VectorStore(VectorStoreSettings(host="127.0.0.1", port=1))
    add_source(rt, scope, "m1", words(10))
    with pytest.raises(VectorStoreUnavailable):
        job.embeddings_run(scope, {}, LOG)
    row = chunks(rt, scope)[0]
    assert (row.embedding_status, row.embedding_attempts) == ("pending", 0)


@pytest.mark.parametrize(("environ", "reason"), [
    ({"EMBEDDINGS_PROVIDER": "local", "EMBEDDING_LOCAL_MODEL_PATH": "/nonexistent/model"}, "provider_unavailable"),
    ({"EMBEDDINGS_PROVIDER": "openai"}, "missing_credentials"),
])
def test_unavailable_provider_skips(rt: Runtime, scope: Scope, environ: dict[str, str], reason: str) -> None:
    broken = Runtime(replace(rt.settings, environ=MappingProxyType({**rt.settings.environ, **environ})))
    install(broken)
    try:
        with pytest.raises(JobSkipped) as info:
            job.embeddings_run(scope, {}, LOG)
    finally:
        install(rt)
        broken.close()
    assert info.value.reason == reason


def test_trigger_reports_skip_when_the_provider_is_unavailable(api: Api, rt: Runtime, run_jobs: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.embeddings import MissingCredentials
    from web.app import create_app

    api.create_project("No model")
    env = {**rt.settings.environ, "EMBEDDINGS_PROVIDER": "openai"}
    broken = Runtime(replace(rt.settings, environ=MappingProxyType(env)))
    client = create_app(runtime=broken).test_client()
    for name in ("sid", "csrf_token"):
        client.set_cookie(name, api.client.get_cookie(name).value)
    resp = client.post("/jobs/embeddings/run", json={}, headers={"x-csrf-token": api.csrf})
    body = resp.get_json()
    assert resp.status_code == 202 and body["effective_mode"] == "skip"
    assert body["skip_reason"] == "missing_credentials"
    broken.close()

    def unavailable(environ: Any) -> Any:
        raise MissingCredentials("OPENAI_API_KEY is empty")

    monkeypatch.setattr(job, "active_provider", unavailable)
    run_jobs("embeddings")
    with rt.session() as s:
        run = s.scalar(select(JobRun).filter_by(job_type="embeddings_run"))
    assert run.status == "skipped" and run.meta["result"]["skipped"] == "missing_credentials"


def test_retry_failed_must_be_boolean(api: Api, rt: Runtime) -> None:
    api.create_project("Bad body")
    resp = api.post("/jobs/embeddings/run", {"retry_failed": "yes"})
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_body"


def test_vector_gc_deletes_vectors_without_a_ready_chunk(rt: Runtime, scope: Scope, vectors: VectorStore) -> None:
    add_source(rt, scope, "m1", words(50))
    add_source(rt, scope, "m2", words(10))
    job.embeddings_run(scope, {}, LOG)
    col = vectors.collection(scope.project_id, HASHING_KEY)
    assert col.count() == 4
    add_source(rt, scope, "m1", words(10))  # 3 chunks -> 1: two rows deleted, their vectors left behind
    old = vectors.collection(scope.project_id, "hashing:old:384")
    old.upsert([str(chunks(rt, scope)[0].id)], np.ones((1, 384)), [{"source_pk": "m1"}])
    other = make_scope(rt, "Other", scope_key="other-scope")
    add_source(rt, other, "m1", words(10))
    job.embeddings_run(other, {}, LOG)
    result = job.vector_gc(scope, {}, LOG)
    # two surplus chunks, m1's edited chunk 0 (pending: its old vector is stale) and the old model's vector
    assert result == {"deleted": 4, "scanned": 5, "collections": 2, "term_stats_refreshed": True}
    assert col.list_ids() and sorted(col.list_ids()) == sorted(
        str(r.id) for r in chunks(rt, scope) if r.embedding_status == "ready")
    assert old.count() == 0
    assert vectors.collection(other.project_id, HASHING_KEY).count() == 1  # another project is untouched
    assert job.vector_gc(scope, {}, LOG)["deleted"] == 0


def test_a_failed_write_in_the_pipeline_releases_every_claim_after_it(rt: Runtime, scope: Scope,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(monkeypatch, batch_size=1, max_batches=5)
    monkeypatch.setattr(job, "WRITE_GROUP", 1)  # one write per claimed batch
    for i in range(4):
        add_source(rt, scope, f"m{i}", words(10) + f" message {i}")
    calls: list[int] = []
    store = job.store_batch

    def flaky_store(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            raise VectorStoreUnavailable("chroma went away")
        return store(*args)

    monkeypatch.setattr(job, "store_batch", flaky_store)
    with pytest.raises(VectorStoreUnavailable):
        job.embeddings_run(scope, {}, LOG)
    states = sorted((r.embedding_status, r.embedding_attempts) for r in chunks(rt, scope))
    assert states[-1] == ("ready", 1) and ("processing", 1) not in states  # nothing left claimed
    assert all(s == ("pending", 0) for s in states[:-1])  # released without counting an attempt
    assert job.embeddings_run(scope, {}, LOG)["processed"] == 3


def test_batches_are_written_in_groups(rt: Runtime, scope: Scope, monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(monkeypatch, batch_size=2, max_batches=10)
    for i in range(11):
        add_source(rt, scope, f"m{i}", words(10) + f" message {i}")
    sizes: list[int] = []
    store = job.store_batch

    def counting_store(collection: Any, claimed: Any, batch: Any, project_id: Any) -> Any:
        sizes.append(len(claimed))
        return store(collection, claimed, batch, project_id)

    monkeypatch.setattr(job, "store_batch", counting_store)
    result = job.embeddings_run(scope, {}, LOG)
    assert result["processed"] == 11 and result["batches"] == 6
    # How many batches a write takes depends on when the writer is free, within the limits; only the last
    # write may be smaller than the minimum group.
    assert sum(sizes) == 11 and all(size <= 2 * job.WRITE_GROUP for size in sizes)
    assert all(size >= 2 * job.MIN_WRITE_GROUP for size in sizes[:-1])


def test_a_batch_claimed_ahead_is_released_when_encoding_fails(rt: Runtime, scope: Scope,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    set_config(monkeypatch, batch_size=1, max_batches=10)
    use_provider(monkeypatch, FlakyProvider(fail=EmbeddingTransientError("HTTP 503", status=503)))
    for i in range(3):
        add_source(rt, scope, f"m{i}", words(10) + f" message {i}")
    with pytest.raises(EmbeddingTransientError):
        job.embeddings_run(scope, {}, LOG)
    states = [(r.embedding_status, r.embedding_attempts) for r in chunks(rt, scope)]
    assert all(status == "pending" for status, _ in states)  # nothing left claimed
    assert sorted(attempts for _, attempts in states) == [0, 0, 1]  # only the batch that failed counts
