"""``sync_source_chunks`` (connectors-rag §6.3) and the embedding-claim service functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from shared.chunking import ChunkingSettings
from shared.db.models.rag import RagChunk
from shared.db.service import rag as svc
from shared.db.service.projects import create_project, resolve_account_scope, scope_of
from shared.runtime import Runtime
from shared.scope import Scope

SMALL = ChunkingSettings(chunk_size=200, chunk_overlap=0, min_embed_chars=30, max_chunks_per_source=3)
FIELDS = {"conversation_global_id": "cw:p:1:10", "message_global_id": "cwmsg:p:1:100",
          "contact_global_id": "cwc:p:1:7", "source_ts": datetime(2026, 2, 10, 9, 12, tzinfo=UTC)}


def make_scope(rt: Runtime, name: str = "Chunks", scope_key: str | None = None) -> Scope:
    with rt.transaction() as s:
        account = resolve_account_scope(session=s, scope_key=scope_key, scope_name=None)
        return scope_of(create_project(session=s, name=name, account_scope=account))


@pytest.fixture()
def scope(clean: Runtime) -> Scope:
    return make_scope(clean)


def sync(rt: Runtime, scope: Scope, body: str | None, pk: str = "cwmsg:p:1:100",
         **fields: object) -> svc.ChunkSyncCounts:
    with rt.transaction() as s:
        return svc.sync_source_chunks(s, scope, source_type="chatwoot_message", source_table="cw_messages",
                                      source_pk=pk, text=body, source_fields={**FIELDS, **fields}, settings=SMALL)


def rows(rt: Runtime, scope: Scope) -> list[RagChunk]:
    with rt.session() as s:
        return list(s.scalars(select(RagChunk).filter_by(**scope.as_filter()).order_by(RagChunk.source_pk,
                                                                                     RagChunk.chunk_index)))


def words(n: int) -> str:
    return " ".join(f"word{i:04d}" for i in range(n))  # 9 characters per word with its space


def test_first_sync_inserts_pending_chunks_and_second_changes_nothing(clean: Runtime, scope: Scope) -> None:
    first = sync(clean, scope, words(50))  # 449 characters -> 200 + 200 + 49
    assert (first.inserted, first.reembedded, first.deleted, first.unchanged) == (3, 0, 0, 0)
    assert first.needs_embedding
    stored = rows(clean, scope)
    assert [r.chunk_index for r in stored] == [0, 1, 2]
    assert all(r.embedding_status == "pending" and r.embedding_attempts == 0 for r in stored)
    assert stored[0].text_hash == __import__("hashlib").sha256(stored[0].text.encode()).hexdigest()
    assert stored[0].content_tokens == 50 and stored[0].search_text.startswith("word0000 word0001")
    assert stored[0].conversation_global_id == "cw:p:1:10" and stored[0].source_type == "chatwoot_message"
    updated = {r.id: r.updated_at for r in stored}
    again = sync(clean, scope, words(50))
    assert (again.inserted, again.reembedded, again.deleted, again.unchanged) == (0, 0, 0, 3)
    assert not again.needs_embedding
    assert {r.id: r.updated_at for r in rows(clean, scope)} == updated


def test_edit_reembeds_exactly_the_changed_chunks(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(50))
    with clean.transaction() as s:
        s.execute(update(RagChunk).values(embedding_status="ready", embedding_provider="hashing",
                                          embedding_model="m", embedding_dim=384, embedding_attempts=1))
    before = {r.chunk_index: r.id for r in rows(clean, scope)}
    edited = words(45) + " CHANGED word0046 word0047 word0048 word0049"  # only the tail chunk differs
    counts = sync(clean, scope, edited)
    assert (counts.inserted, counts.reembedded, counts.deleted, counts.unchanged) == (0, 1, 0, 2)
    after = rows(clean, scope)
    assert {r.chunk_index: r.id for r in after} == before  # chunk ids are stable
    assert [r.embedding_status for r in after] == ["ready", "ready", "pending"]
    tail = after[2]
    assert tail.embedding_model is None and tail.embedding_dim is None and tail.embedding_attempts == 0
    assert "chang" in tail.search_text.split()


def test_shorter_text_deletes_surplus_chunks_and_none_deletes_all(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(50))
    ids = [str(r.id) for r in rows(clean, scope)]
    shorter = sync(clean, scope, words(20))  # 179 characters: one chunk
    assert (shorter.reembedded, shorter.deleted) == (1, 2)
    assert set(shorter.deleted_ids) == set(ids[1:])
    assert [r.chunk_index for r in rows(clean, scope)] == [0]
    gone = sync(clean, scope, None)
    assert gone.deleted == 1 and rows(clean, scope) == []
    assert sync(clean, scope, "too short").deleted == 0


def test_changed_source_fields_are_refreshed_without_reembedding(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(10))
    counts = sync(clean, scope, words(10), contact_global_id="cwc:p:1:8")
    assert (counts.refreshed, counts.unchanged, counts.reembedded) == (1, 1, 0)
    assert rows(clean, scope)[0].contact_global_id == "cwc:p:1:8"


def test_chunk_cap_counts_dropped(clean: Runtime, scope: Scope) -> None:
    counts = sync(clean, scope, words(100))  # 5 chunks of 200, cap 3
    assert counts.inserted == 3 and counts.dropped == 2
    assert counts.as_meta() == {"inserted_chunks": 3, "reembedded_chunks": 0, "deleted_chunks": 0,
                                "chunks_dropped": 2}


def test_disabled_source_type_leaves_rows_alone(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(10))
    only_linear = ChunkingSettings(rag_sources=("linear_issue",))
    with clean.transaction() as s:
        counts = svc.sync_source_chunks(s, scope, source_type="chatwoot_message", source_table="cw_messages",
                                        source_pk="cwmsg:p:1:100", text=None, settings=only_linear)
    assert counts == svc.ChunkSyncCounts() and len(rows(clean, scope)) == 1
    with pytest.raises(ValueError), clean.transaction() as s:
        svc.sync_source_chunks(s, scope, source_type="email", source_table="x", source_pk="1", text="y" * 40)


def test_sources_are_scoped_per_project(clean: Runtime, scope: Scope) -> None:
    other = make_scope(clean, "Other", scope_key="other-scope")
    sync(clean, scope, words(10))
    counts = sync(clean, other, None)  # same source key in another project: nothing of ours is touched
    assert counts.deleted == 0 and len(rows(clean, scope)) == 1
    assert sync(clean, other, words(10)).inserted == 1
    assert {r.id for r in rows(clean, scope)}.isdisjoint({r.id for r in rows(clean, other)})


def test_counts_add_up(clean: Runtime, scope: Scope) -> None:
    total = sync(clean, scope, words(10), pk="a") + sync(clean, scope, words(30), pk="b")
    assert total.inserted == 3 and total.needs_embedding


def test_claim_ready_and_release_cycle(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(50), pk="a")
    sync(clean, scope, words(10), pk="b")
    model = ("hashing", "char-ngram-hash", 384)
    with clean.transaction() as s:
        claimed = svc.claim_batch(s, scope, limit=3, model=model)
    assert len(claimed) == 3 and all(c.attempts == 1 for c in claimed)
    assert claimed[0].metadata["source_pk"] == "a" and claimed[0].metadata["chunk_index"] == 0
    with clean.transaction() as s:
        assert svc.mark_ready(s, scope, chunks=[(claimed[0].id, claimed[0].text_hash),
                                                (claimed[1].id, "0" * 64)], model=model) == 1
        assert svc.mark_failed(s, scope, errors={claimed[2].id: "embedding_dimension_mismatch"}) == 1
        assert svc.count_pending(s, scope, model=model) == 1  # "b"
        assert svc.release_claim(s, scope, ids=[claimed[1].id], error="boom", max_attempts=5) == (1, 0)
        assert svc.status_counts(s, scope) == {"pending": 2, "processing": 0, "ready": 1, "failed": 1}
        assert svc.count_pending(s, scope, model=("local", "use-multilingual-v3", 512)) == 3
        assert svc.reset_failed(s, scope) == 1


def test_stale_processing_rows_are_recovered(clean: Runtime, scope: Scope) -> None:
    sync(clean, scope, words(10))
    with clean.transaction() as s:
        svc.claim_batch(s, scope, limit=10)
        s.execute(update(RagChunk).values(updated_at=datetime.now(UTC) - timedelta(hours=1)))
    with clean.transaction() as s:
        assert svc.recover_stale(s, scope, older_than=timedelta(minutes=30)) == 1
    row = rows(clean, scope)[0]
    assert row.embedding_status == "pending" and row.embedding_error == svc.STALE_RECOVERED


def test_lexical_search_ranks_ready_chunks_of_the_scope(clean: Runtime, scope: Scope) -> None:
    other = make_scope(clean, "Other", scope_key="other-scope")
    texts = {"a": "The invoice for March is overdue, please pay the invoice soon",
             "b": "Deployment failed again on staging after the release",
             "c": "Счёт за март просрочен, оплатите пожалуйста счета"}
    for pk, body in texts.items():
        sync(clean, scope, body, pk=pk)
        sync(clean, other, body, pk=pk)
    with clean.transaction() as s:
        s.execute(update(RagChunk).where(RagChunk.source_pk != "b").values(embedding_status="ready"))
    from shared.lexical import query_terms

    def search(q: str, sc: Scope = scope) -> list[str]:
        with clean.session() as s:
            hits = svc.lexical_search(s, sc, terms=query_terms(q), filters=svc.SearchFilters(), limit=10)
            ids = [h.id for h in hits]
            return [r.chunk.source_pk for r in svc.hydrate(s, scope, ids=ids).values()]

    assert search("overdue invoices") == ["a"]
    assert search("счёт просрочен") == ["c"]
    assert search("deployment") == []  # not ready
    assert search("?!") == []
    assert search("invoice", other) == []  # other project's hits are not hydrated in ours
    with clean.session() as s:
        assert s.execute(text("select 1")).scalar() == 1


def test_lexical_ranking_matches_the_reference_and_gates_on_coverage(clean: Runtime, scope: Scope) -> None:
    from shared.lexical import idf_overlap_rank, normalize_for_index, query_terms

    texts = {"a": "invoice overdue since March, the invoice amount is wrong",
             "b": "the invoice was paid", "c": "overdue reply from support", "d": "deployment failed twice",
             "e": "March release notes and invoice"}
    for pk, body in texts.items():
        sync(clean, scope, body + " " + "filler words to pass the minimum", pk=pk)
    with clean.transaction() as s:
        s.execute(update(RagChunk).values(embedding_status="ready"))
        by_pk = {r.source_pk: str(r.id) for r in s.scalars(select(RagChunk))}
    terms = query_terms("overdue invoice for March")
    docs = {by_pk[pk]: normalize_for_index(t + " filler words to pass the minimum").split() for pk, t in texts.items()}
    expected = idf_overlap_rank(terms, {k: v for k, v in docs.items() if set(v) & set(terms)}, n_docs=len(docs))
    with clean.session() as s:
        got = svc.lexical_search(s, scope, terms=terms, filters=svc.SearchFilters(), limit=10)
        gated = svc.lexical_search(s, scope, terms=terms, filters=svc.SearchFilters(), limit=10, min_coverage=0.6)
        top2 = svc.lexical_search(s, scope, terms=terms, filters=svc.SearchFilters(), limit=2)
    assert [h.id for h in got] == [h.id for h in expected]
    assert [round(h.score, 9) for h in got] == [round(h.score, 9) for h in expected]
    assert got[0].id == by_pk["a"] and got[0].coverage == pytest.approx(1.0)
    assert [h.id for h in gated] == [h.id for h in got if h.coverage >= 0.6] and len(gated) < len(got)
    assert [h.id for h in top2] == [h.id for h in got[:2]]
    with clean.transaction() as s:  # with term statistics (PostgreSQL): the same ranking, pruned candidates
        assert svc.refresh_term_stats(s, scope) in (0, len(texts))
        assert not svc.maybe_refresh_term_stats(s, scope)
    with clean.session() as s:
        assert [h.id for h in svc.lexical_search(s, scope, terms=terms, filters=svc.SearchFilters(), limit=10)] == [
            h.id for h in expected]
        again = svc.lexical_search(s, scope, terms=terms, filters=svc.SearchFilters(), limit=10, min_coverage=0.6)
    assert [h.id for h in again] == [h.id for h in gated]


@pytest.mark.parametrize(("weights", "coverage", "groups"), [
    ([1.0, 2.0, 3.0], 0.0, [(0,), (1,), (2,)]),
    ([1.0, 2.0, 3.0], 0.5, [(2,), (0, 1)]),  # 3 alone reaches 3.0; 1 + 2 together do
    ([1.0, 1.0, 1.0, 1.0], 0.5, [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]),
    ([5.0, 0.1, 0.1], 0.3, [(0,)]),
])
def test_candidate_groups_are_the_minimal_term_sets_reaching_the_bar(weights, coverage, groups) -> None:
    assert sorted(svc.candidate_groups(weights, coverage)) == sorted(groups)


def test_candidate_groups_for_long_queries_drop_only_the_weakest_terms() -> None:
    weights = [0.1, 0.1, 5.0] + [1.0] * 12
    assert svc.candidate_groups(weights, 0.02) == [(i,) for i in range(2, 15)]
