import pytest

from shared.lexical import RRF_K, BM25Index, bm25_rank, normalize_for_index, query_terms, rrf_fuse, tokenize


@pytest.mark.parametrize("forms", [
    ("счёт", "счет", "счета", "счетов", "Счёту", "СЧЕТОМ"),
    ("договор", "договора", "договоров", "договорами"),
    ("оплата", "оплаты", "оплату", "оплатой"),
    ("invoice", "invoices", "Invoice"),
    ("company", "companies"),
    ("deadline", "deadlines"),
])
def test_inflections_share_one_term(forms):
    terms = {tuple(query_terms(f)) for f in forms}
    assert len(terms) == 1 and len(next(iter(terms))) == 1


def test_yo_is_folded_and_case_is_lowered():
    assert tokenize("Ёлка ЕЩЁ") == ["елка", "еще"]


def test_stop_words_and_punctuation_are_dropped():
    assert query_terms("What did the client promise about the timeline?") == ["client", "promis", "timelin"]
    assert query_terms("Что он сказал про сроки?") == query_terms("сказал сроки")
    assert query_terms("!!! ... ???") == []
    assert query_terms("the and или") == []


def test_numbers_and_identifiers_survive():
    assert query_terms("INV-2024 #7 ENG-42") == ["inv", "2024", "7", "eng", "42"]


def test_normalize_for_index_keeps_text_order_and_duplicates():
    assert normalize_for_index("Счета, счета и ещё раз счета") == "счет счет счет"
    assert normalize_for_index("") == ""


def test_query_terms_are_distinct():
    assert query_terms("счёт счета счетов") == ["счет"]


def test_index_form_matches_query_terms_as_whole_words():
    indexed = f" {normalize_for_index('Клиент оплатил три счёта по договору')} "
    for q in ("счетов", "договора", "оплатил"):
        assert all(f" {t} " in indexed for t in query_terms(q))


def test_bm25_ranks_russian_inflections_and_english_plurals():
    docs = {
        "ru1": "Клиент просит выставить счёт за март",
        "ru2": "Пять счетов оплачены, по двум счетам долг",
        "en1": "Sent the invoices for March and April",
        "other": "Встреча перенесена на четверг",
    }
    assert [d for d, _ in bm25_rank("счета", docs)] == ["ru2", "ru1"]
    assert [d for d, _ in bm25_rank("invoice", docs)] == ["en1"]
    assert bm25_rank("!!!", docs) == []


def test_bm25_index_add_remove_and_replace():
    index = BM25Index({"a": "alpha beta", "b": "beta gamma"})
    assert len(index) == 2 and "a" in index
    index.add("a", "delta")  # replacing a document drops its old terms
    assert [d for d, _ in index.rank("alpha")] == []
    index.remove("b")
    assert index.rank("beta") == []
    assert [d for d, _ in index.rank("delta")] == ["a"]


def test_rrf_uses_spec_constant_and_one_based_ranks():
    assert RRF_K == 60
    hits = rrf_fuse([["a", "b"], ["b"]])
    assert [h.id for h in hits] == ["b", "a"]
    assert hits[0].score == pytest.approx(1 / 62 + 1 / 61)
    assert hits[0].ranks == (2, 1) and hits[1].ranks == (1, None)


def test_rrf_single_list_score_is_its_rrf_value():
    hits = rrf_fuse([["x", "y", "z"]], k=1)
    assert [(h.id, round(h.score, 6)) for h in hits] == [("x", 0.5), ("y", 0.333333), ("z", 0.25)]


def test_rrf_ties_break_by_dense_score_then_id():
    # "a" and "b" both at rank 1 of one list: tie
    hits = rrf_fuse([["a"], ["b"], ["c"]], tie_break={"b": 0.9, "a": 0.1})
    assert [h.id for h in hits] == ["b", "a", "c"]
    assert [h.id for h in rrf_fuse([["d"], ["c"]])] == ["c", "d"]


def test_rrf_counts_repeated_ids_once_per_list_and_handles_empty_lists():
    hits = rrf_fuse([["a", "a", "b"], []])
    assert [(h.id, h.ranks) for h in hits] == [("a", (1, None)), ("b", (3, None))]
    assert rrf_fuse([]) == [] and rrf_fuse([[], []]) == []
    with pytest.raises(ValueError):
        rrf_fuse([["a"]], k=0)
