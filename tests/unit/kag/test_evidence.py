"""Evidence refs (kag.md §3) and the evidence gate."""

from __future__ import annotations

from jobs.kag.evidence import (
    gate_by_evidence,
    merge_refs,
    normalize_ref,
    normalize_refs,
    provenance_rows,
    ref_links,
    signal_identity,
    source_kind,
    to_evidence_items,
)

CHUNK = "6f1c1e0e-58a4-4c55-9b1e-8d7f3f1f4c11"


def test_a_ref_needs_one_of_the_five_ids():
    assert normalize_ref({"source_table": "cw_messages", "source_pk": "1"}) is None
    assert normalize_ref({"message_id": "   "}) is None
    assert normalize_ref("msg-1") is None
    assert normalize_ref({"message_id": 998877}) == {
        "message_id": "998877",
        "linear_issue_id": None,
        "attio_record_id": None,
        "doc_url": None,
        "rag_chunk_id": None,
        "source_table": None,
        "source_pk": None,
    }


def test_values_are_cut_to_their_max_length_and_metadata_is_optional():
    ref = normalize_ref({"doc_url": "u" * 3000, "source_pk": "p" * 600, "metadata": {"a": 1}})
    assert len(ref["doc_url"]) == 2000 and len(ref["source_pk"]) == 500 and ref["metadata"] == {"a": 1}
    assert "metadata" not in normalize_ref({"doc_url": "u", "metadata": {"a": 1}}, keep_metadata=False)


def test_dedupe_keeps_first_occurrence_and_caps():
    refs = normalize_refs(
        [{"message_id": "a"}, {"message_id": "b"}, {"message_id": "a", "source_table": None}, {}], 2
    )
    assert [r["message_id"] for r in refs] == ["a", "b"]
    assert [
        r["message_id"] for r in merge_refs([{"message_id": "b"}], [{"message_id": "a"}, {"message_id": "b"}])
    ] == [
        "b",
        "a",
    ]


def test_signal_identity_joins_the_seven_scalars():
    assert signal_identity({"message_id": "m", "source_pk": "p"}) == "m||||||p"


def test_source_kind_follows_the_first_non_empty_id():
    assert source_kind({"linear_issue_id": "L", "doc_url": "d"}) == "linear_issue"
    assert source_kind({"rag_chunk_id": CHUNK}) == "rag_chunk"
    assert source_kind({}) == "manual"


def test_links_in_order_unique_and_capped():
    refs = normalize_refs(
        [
            {"message_id": "m1", "doc_url": "https://d"},
            {"linear_issue_id": "L1"},
            {"attio_record_id": "A1"},
            {"doc_url": "https://d"},
        ]
    )
    assert ref_links(refs) == ["https://d", "chatwoot://message/m1", "linear://issue/L1", "attio://record/A1"]
    many = normalize_refs([{"message_id": f"m{i}"} for i in range(30)])
    assert len(ref_links(many)) == 20


def test_hand_off_to_evidence_items():
    [item] = to_evidence_items([{"message_id": "m", "source_table": "cw_messages", "source_pk": "cwmsg:1"}])
    assert item == {"source": "cw_messages", "ref": "cwmsg:1", "snippet": None, "meta": {"message_id": "m"}}
    [inferred] = to_evidence_items([{"attio_record_id": "deal-1"}])
    assert inferred == {
        "source": "attio_record",
        "ref": "deal-1",
        "snippet": None,
        "meta": {"attio_record_id": "deal-1"},
    }


def test_provenance_rows_keep_uuid_chunks_and_park_other_chunk_ids_in_metadata():
    rows = provenance_rows(
        "event",
        42,
        [{"rag_chunk_id": CHUNK}, {"rag_chunk_id": "C1", "message_id": "m"}, {"rag_chunk_id": "C2"}],
    )
    assert [(r["object_id"], r["source_kind"], r["rag_chunk_id"]) for r in rows] == [
        ("42", "rag_chunk", CHUNK),
        ("42", "chatwoot_message", None),
    ]
    assert rows[1]["metadata"] == {"rag_chunk_ref": "C1"}


def test_gate_counts_dropped_candidates_per_category():
    candidates = [("a", [{"message_id": "m"}]), ("b", []), ("b", [{"source_pk": "x"}]), ("c", [])]
    result = gate_by_evidence(candidates, evidence=lambda c: c[1], category=lambda c: c[0])
    assert [c[0] for c in result.kept] == ["a"]
    assert result.dropped == {"b": 2, "c": 1} and result.dropped_total == 3
