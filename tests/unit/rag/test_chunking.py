import itertools
from datetime import UTC, datetime

import pytest

from shared.chunking import (
    EMBEDDING_RESET,
    ChunkAction,
    ChunkingSettings,
    content_tokens,
    normalize_text,
    plan_chunk_sync,
    plan_source_chunks,
    split_text,
    text_hash,
)

TEXT_2500 = "".join(chr(ord("a") + i % 26) for i in range(2500))
SOURCE = {
    "source_type": "chatwoot_message",
    "source_table": "cw_messages",
    "source_pk": "cwmsg:p:1:10",
    "conversation_global_id": "cw:p:1:5",
    "message_global_id": "cwmsg:p:1:10",
    "contact_global_id": None,
    "source_ts": datetime(2026, 2, 10, 9, 12, tzinfo=UTC),
}


def ids():
    counter = itertools.count(1)
    return lambda: f"id-{next(counter)}"


def apply(plan, rows):
    """Apply a plan to an in-memory table the way the connector handler applies it to rag_chunks."""
    table = {r["id"]: dict(r) for r in rows}
    for op in plan.ops:
        if op.action is ChunkAction.INSERT:
            table[op.chunk_id] = {"id": op.chunk_id, **op.values}
        elif op.action is ChunkAction.DELETE:
            del table[op.chunk_id]
        else:
            table[op.chunk_id].update(op.values)
    return sorted(table.values(), key=lambda r: r["chunk_index"])


def test_split_without_overlap_matches_spec_example():
    chunks, dropped = split_text(TEXT_2500)
    assert chunks == [TEXT_2500[0:1000], TEXT_2500[1000:2000], TEXT_2500[2000:2500]]
    assert dropped == 0


def test_split_with_overlap_matches_spec_example():
    chunks, _ = split_text(TEXT_2500, chunk_overlap=200)
    assert chunks == [TEXT_2500[0:1000], TEXT_2500[800:1800], TEXT_2500[1600:2500]]


def test_split_exact_multiple_has_no_empty_tail():
    chunks, _ = split_text("x" * 2000)
    assert [len(c) for c in chunks] == [1000, 1000]


def test_minimum_applies_to_whole_text_only():
    assert split_text("x" * 29).chunks == []
    assert split_text("x" * 30).chunks == ["x" * 30]
    chunks, _ = split_text("x" * 1005)
    assert [len(c) for c in chunks] == [1000, 5]  # the final chunk may be short


def test_whitespace_is_collapsed_before_measuring():
    text = "  hello\n\n\tworld \u00a0\u2003 again  " + "\x00"
    assert normalize_text(text) == "hello world again"
    assert split_text(" \n\t " * 50).chunks == []


def test_cap_counts_dropped_chunks():
    chunks, dropped = split_text("y" * 10_500, max_chunks=3)
    assert len(chunks) == 3 and dropped == 8


def test_lengths_are_code_points():
    chunks, _ = split_text("ж" * 1500 + "😀" * 10)
    assert [len(c) for c in chunks] == [1000, 510]


def test_invalid_overlap_is_refused():
    with pytest.raises(ValueError):
        split_text("x" * 100, chunk_size=100, chunk_overlap=100)


def test_settings_from_env_clamp_to_spec_ranges():
    s = ChunkingSettings.from_env({"CHUNK_SIZE": "50", "CHUNK_OVERLAP": "900", "MIN_EMBED_CHARS": "0",
                                   "RAG_MAX_CHUNKS_PER_SOURCE": "5000", "RAG_SOURCES": "linear_issue, bogus"})
    assert (s.chunk_size, s.chunk_overlap, s.min_embed_chars, s.max_chunks_per_source) == (200, 100, 1, 1000)
    assert s.rag_sources == ("linear_issue",)
    assert ChunkingSettings.from_env({}) == ChunkingSettings()


def test_hash_and_tokens():
    assert text_hash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert content_tokens("a") == 1 and content_tokens("abcde") == 2 and content_tokens("") == 1


def test_first_sync_inserts_pending_chunks_with_source_fields():
    plan = plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids())
    assert plan.counts() == {"inserted": 3, "reembedded": 0, "deleted": 0, "refreshed": 0, "unchanged": 0,
                             "dropped": 0}
    first = plan.ops[0]
    assert first.chunk_id == "id-1" and first.chunk_index == 0
    assert first.values["text"] == TEXT_2500[:1000]
    assert first.values["text_hash"] == text_hash(TEXT_2500[:1000])
    assert first.values["content_tokens"] == 250
    assert first.values["embedding_status"] == "pending" and first.values["embedding_attempts"] == 0
    assert first.values["source_ts"] == SOURCE["source_ts"]


def test_second_sync_changes_nothing():
    rows = apply(plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids()), [])
    again = plan_source_chunks(TEXT_2500, rows, SOURCE, new_id=ids())
    assert not again.changed
    assert again.counts()["unchanged"] == 3
    assert apply(again, rows) == rows


def test_edit_to_fewer_chunks_reembeds_changed_and_deletes_stale():
    rows = apply(plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids()), [])
    for r in rows:  # pretend they were embedded
        r.update(embedding_status="ready", embedding_model="m", embedding_dim=512, embedding_attempts=1)
    edited = TEXT_2500[:1000] + "EDITED" * 50  # 1300 characters: two chunks, the second one new
    plan = plan_source_chunks(edited, rows, SOURCE, new_id=ids())
    assert plan.counts() == {"inserted": 0, "reembedded": 1, "deleted": 1, "refreshed": 0, "unchanged": 1,
                             "dropped": 0}
    assert plan.deleted_ids == [rows[2]["id"]]
    after = apply(plan, rows)
    assert [r["chunk_index"] for r in after] == [0, 1]
    assert after[0]["embedding_status"] == "ready"  # untouched embedding
    assert after[1]["id"] == rows[1]["id"]  # the id is stable while (source, index) exists
    assert after[1]["text"] == ("EDITED" * 50)
    assert {k: after[1][k] for k in EMBEDDING_RESET} == EMBEDDING_RESET
    assert not plan_source_chunks(edited, after, SOURCE).changed


def test_text_below_minimum_or_deleted_source_removes_every_chunk():
    rows = apply(plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids()), [])
    for text in ("too short", None):
        plan = plan_source_chunks(text, rows, SOURCE)
        assert sorted(plan.deleted_ids) == sorted(r["id"] for r in rows)
        assert apply(plan, rows) == []


def test_changed_source_fields_are_refreshed_without_reembedding():
    rows = apply(plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids()), [])
    moved = {**SOURCE, "contact_global_id": "cwc:p:1:77"}
    plan = plan_source_chunks(TEXT_2500, rows, moved)
    assert [op.action for op in plan.ops] == [ChunkAction.REFRESH] * 3
    assert plan.ops[0].values == {"contact_global_id": "cwc:p:1:77"}


def test_naive_timestamps_from_sqlite_compare_equal_to_utc():
    rows = apply(plan_source_chunks(TEXT_2500, [], SOURCE, new_id=ids()), [])
    for r in rows:
        r["source_ts"] = r["source_ts"].replace(tzinfo=None)
    assert not plan_source_chunks(TEXT_2500, rows, SOURCE).changed


def test_plan_accepts_row_objects():
    class Row:
        def __init__(self, **kw):
            self.__dict__.update(kw)

    rows = [Row(id="r0", chunk_index=0, text_hash=text_hash("a" * 40), **SOURCE),
            Row(id="r1", chunk_index=1, text_hash="stale", **SOURCE)]
    plan = plan_chunk_sync(["a" * 40], rows, SOURCE)
    assert [(op.action, op.chunk_id) for op in plan.ops] == [(ChunkAction.KEEP, "r0"), (ChunkAction.DELETE, "r1")]


def test_duplicate_index_rows_are_cleaned_up():
    rows = [{"id": "a", "chunk_index": 0, "text_hash": text_hash("x" * 40)},
            {"id": "b", "chunk_index": 0, "text_hash": text_hash("x" * 40)}]
    plan = plan_chunk_sync(["x" * 40], rows, {})
    assert plan.deleted_ids == ["b"]
