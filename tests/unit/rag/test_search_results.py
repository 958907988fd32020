"""Pure parts of ``shared.search``: result shape, snippet, evidence references, settings."""

import uuid
from datetime import UTC, datetime

from shared import search as engine
from shared.db.service.rag import ChunkView, HydratedChunk


def chunk(source_table: str = "cw_messages", text: str = "x" * 600) -> ChunkView:
    return ChunkView(uuid.UUID(int=1), "chatwoot_message", source_table, "cwmsg:p:12:998877", "cw:p:12:3401",
                     "cwmsg:p:12:998877", None, 2, text, datetime(2026, 2, 10, 9, 12, tzinfo=UTC),
                     datetime(2026, 2, 10, 9, 15, 3, 120000, tzinfo=UTC))


def test_result_item_carries_scores_snippet_and_evidence() -> None:
    row = HydratedChunk(chunk(), 12, 3401, "cwc:p:12:77", datetime(2026, 2, 10, 9, 0, tzinfo=UTC), None)
    settings = engine.SearchSettings(chatwoot_base_url="https://chat.example")
    item = engine.result_item(row, 1, 0.0327868852, (1, 0.1877), 3, settings)
    assert item["score"] == 0.032787 and item["dense_score"] == 0.8123 and item["distance"] == 0.1877
    assert item["dense_rank"] == 1 and item["lexical_rank"] == 3 and item["chunk_index"] == 2
    assert len(item["text"]) == 500 and item["snippet"] == "x" * 160 + "..."
    assert item["contact_global_id"] == "cwc:p:12:77"
    assert item["source_created_at"] == "2026-02-10T09:00:00.000Z" and item["created_at"] == "2026-02-10T09:15:03.120Z"
    assert item["evidence_refs"] == [
        {"source": "rag_chunks", "ref": str(uuid.UUID(int=1)), "snippet": item["snippet"], "meta": {"chunk_index": 2}},
        {"source": "cw_messages", "ref": "cwmsg:p:12:998877", "snippet": None,
         "meta": {"conversation_global_id": "cw:p:12:3401",
                  "url": "https://chat.example/app/accounts/12/conversations/3401"}},
    ]


def test_issue_and_note_evidence() -> None:
    issue = HydratedChunk(chunk("linear_issues_raw", "short"), issue_url="https://linear.app/p/issue/MOB-12")
    refs = engine.evidence_refs(issue, "short", engine.SearchSettings())
    assert refs[1] == {"source": "linear_issues_raw", "ref": "cwmsg:p:12:998877", "snippet": None,
                       "meta": {"url": "https://linear.app/p/issue/MOB-12"}}
    note = HydratedChunk(chunk("attio_activities_raw", "short"))
    assert engine.evidence_refs(note, "short", engine.SearchSettings())[1]["meta"] == {}


def test_settings_from_env_clamp() -> None:
    s = engine.SearchSettings.from_env({"RRF_K": "5000", "SEARCH_LEXICAL_MIN_COVERAGE": "7",
                                        "CHATWOOT_BASE_URL": "https://c.example/ "})
    assert (s.rrf_k, s.lexical_min_coverage, s.chatwoot_base_url) == (1000, 1.0, "https://c.example")
    d = engine.SearchSettings.from_env({"SEARCH_LEXICAL_MIN_COVERAGE": "nan"})
    assert (d.rrf_k, d.lexical_min_coverage) == (60, engine.LEXICAL_MIN_COVERAGE)


def test_candidates_and_filters() -> None:
    req = engine.SearchRequest("q", top_k=60)
    assert req.candidates == 150 and engine.SearchRequest("q", top_k=10).candidates == 30
    assert req.filters().source_types == ()  # every type: no filter at all
    assert engine.SearchRequest("q", source_types=("linear_issue",)).filters().source_types == ("linear_issue",)
