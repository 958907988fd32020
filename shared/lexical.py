"""Keyword analysis for Russian and English, an in-memory BM25 scorer and reciprocal rank fusion.

``normalize_for_index`` is what the database indexes (PostgreSQL ``to_tsvector('simple', ...)``,
SQLite substring match over ``' ' || normalized || ' '``) and ``query_terms`` is what a query
is matched with, so both sides share one analyser: lower case, ``ё`` → ``е``, stop words dropped,
Snowball stemming (Russian for Cyrillic words, English for Latin ones). Changing the analyser
means re-indexing the stored texts.
"""

from __future__ import annotations

import math
import re
import threading
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

RRF_K = 60  # connectors-rag §9.3 (setting ``RRF_K``, range 1–1000)
MAX_TOKEN_CHARS = 64  # longer runs are ids, hashes or base64: not keywords

_WORD_RE = re.compile(r"[^\W_]+")
_CYRILLIC_RE = re.compile(r"[а-я]+")
_LATIN_RE = re.compile(r"[a-z]+")



def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOP_WORDS_EN = _words("""
a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have
having he her here hers herself him himself his how i if in into is it its itself just me more most
my myself no nor not now of off on once only or other our ours ourselves out over own same she
should so some such than that the their theirs them themselves then there these they this those
through to too under until up very was we were what when where which while who whom why will with
would you your yours yourself yourselves s t don doesn didn isn aren wasn weren won wouldn shouldn
couldn ll re ve d m o y
""")

STOP_WORDS_RU = _words("""
а без более бы был была были было быть в вам вас ведь во вот впрочем все всего всех всю вы где да
даже для до его ее ей ему если есть еще ж же за зачем здесь и из или им их к как какая какой когда
конечно кто куда ли либо между меня мне много может мой моя мы на над надо наш не него нее ней нельзя
нет ни нибудь никогда ним них ничего но ну о об однако он она они оно опять от перед по под после
потом потому почти при про раз разве с сам свою себе себя сейчас со совсем так также такой там тебя
тем теперь то тогда того тоже только том тот тут ты у уж уже хоть чего чем через что чтоб чтобы чуть
эти этого этой этом этот эту я
""")

STOP_WORDS = STOP_WORDS_EN | STOP_WORDS_RU

_stemmers = threading.local()  # Snowball stemmer objects keep state between calls: one per thread


def _stemmer(language: str) -> Any:  # snowballstemmer ships no type hints
    stemmer = getattr(_stemmers, language, None)
    if stemmer is None:
        import snowballstemmer

        stemmer = snowballstemmer.stemmer(language)
        setattr(_stemmers, language, stemmer)
    return stemmer


@lru_cache(maxsize=200_000)
def stem(token: str) -> str:
    """Russian stem for a Cyrillic word, English stem for a Latin one; anything else unchanged."""
    if _CYRILLIC_RE.fullmatch(token):
        return _stemmer("russian").stemWord(token)
    if _LATIN_RE.fullmatch(token):
        return _stemmer("english").stemWord(token)
    return token


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens with ``ё`` folded to ``е``, before stop words and stemming."""
    folded = text.lower().replace("ё", "е")
    return [t for t in _WORD_RE.findall(folded) if len(t) <= MAX_TOKEN_CHARS]


def analyze(text: str) -> list[str]:
    """Index terms in text order (duplicates kept): tokens minus stop words and single letters, stemmed."""
    return [stem(t) for t in tokenize(text) if t not in STOP_WORDS and (len(t) > 1 or t.isdigit())]


def normalize_for_index(text: str) -> str:
    """Stemmed terms joined by single spaces: the text the database keyword index is built from."""
    return " ".join(analyze(text))


def query_terms(text: str) -> list[str]:
    """Distinct terms of a query, in order of first appearance; ``[]`` when it has none."""
    return list(dict.fromkeys(analyze(text)))


class BM25Index:
    """Okapi BM25 over a small in-memory corpus (tests, re-ranking a candidate set)."""

    def __init__(self, docs: Mapping[Hashable, str] | Iterable[tuple[Hashable, str]] = (),
                 *, k1: float = 1.2, b: float = 0.75) -> None:
        self.k1, self.b = k1, b
        self._tf: dict[Hashable, Counter[str]] = {}
        self._len: dict[Hashable, int] = {}
        self._df: Counter[str] = Counter()
        for doc_id, text in (docs.items() if isinstance(docs, Mapping) else docs):
            self.add(doc_id, text)

    def __len__(self) -> int:
        return len(self._tf)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self._tf

    def add(self, doc_id: Hashable, text: str) -> None:
        if doc_id in self._tf:
            self.remove(doc_id)
        terms = analyze(text)
        tf = Counter(terms)
        self._tf[doc_id], self._len[doc_id] = tf, len(terms)
        self._df.update(tf.keys())

    def remove(self, doc_id: Hashable) -> None:
        tf = self._tf.pop(doc_id, None)
        if tf is None:
            return
        del self._len[doc_id]
        self._df.subtract(tf.keys())
        for term in tf:
            if self._df[term] <= 0:
                del self._df[term]

    def idf(self, term: str) -> float:
        n, df = len(self._tf), self._df.get(term, 0)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def scores(self, query: str) -> dict[Hashable, float]:
        """Positive scores of the documents sharing at least one term with ``query``."""
        terms = query_terms(query)
        if not terms or not self._tf:
            return {}
        avg_len = sum(self._len.values()) / len(self._len) or 1.0
        out: dict[Hashable, float] = {}
        for term in terms:
            if term not in self._df:
                continue
            idf = self.idf(term)
            for doc_id, tf in self._tf.items():
                f = tf.get(term)
                if f:
                    norm = self.k1 * (1 - self.b + self.b * self._len[doc_id] / avg_len)
                    out[doc_id] = out.get(doc_id, 0.0) + idf * f * (self.k1 + 1) / (f + norm)
        return out

    def rank(self, query: str, top_n: int | None = None) -> list[tuple[Hashable, float]]:
        """``(doc_id, score)`` best first; ties by id."""
        ranked = sorted(self.scores(query).items(), key=lambda kv: (-kv[1], str(kv[0])))
        return ranked if top_n is None else ranked[:top_n]


def bm25_rank(query: str, docs: Mapping[Hashable, str], top_n: int | None = None) -> list[tuple[Hashable, float]]:
    """Rank a candidate set ``{id: text}`` for ``query``; documents without a matching term are left out."""
    return BM25Index(docs).rank(query, top_n)


def idf(n_docs: int, df: int) -> float:
    """BM25's inverse document frequency ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (always > 0)."""
    return math.log(1.0 + (max(n_docs, df) - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class LexicalHit:
    id: Hashable
    score: float  # Σ idf of the distinct query terms the document holds
    coverage: float  # score / Σ idf of all query terms (0–1)
    length: int  # distinct index terms of the document (shorter wins a tie)


def idf_overlap_rank(terms: Sequence[str], docs: Mapping[Hashable, Iterable[str]], *, n_docs: int | None = None,
                     min_coverage: float = 0.0) -> list[LexicalHit]:
    """The keyword ranking of ``/search`` (connectors-rag §9.3 step 2), also computed in SQL on PostgreSQL.

    A document's score is the IDF-weighted overlap of its distinct terms with the query's (BM25 with
    binary term frequency and no length normalisation: chat chunks are short and rarely repeat a
    word). ``coverage`` is the share of the query's IDF weight the document matches; hits below
    ``min_coverage`` are dropped. ``docs`` must hold every document containing a query term (so the
    document frequencies are exact); ``n_docs`` is the size of the whole searched corpus.
    Order: score descending, then shorter documents, then id.
    """
    wanted = list(dict.fromkeys(t for t in terms if t))
    if not wanted or not docs:
        return []
    sets = {doc_id: set(words) for doc_id, words in docs.items()}
    n = max(n_docs or 0, len(sets))
    weights = {t: idf(n, sum(1 for s in sets.values() if t in s)) for t in wanted}
    total = sum(weights.values())
    hits = []
    for doc_id, words in sets.items():
        score = sum(w for t, w in weights.items() if t in words)
        if score <= 0 or score < min_coverage * total - 1e-12:
            continue
        hits.append(LexicalHit(doc_id, score, score / total, len(words)))
    hits.sort(key=lambda h: (-h.score, h.length, str(h.id)))
    return hits


@dataclass(frozen=True)
class FusedHit:
    id: Hashable
    score: float
    ranks: tuple[int | None, ...]  # 1-based rank in each input list, None when absent


def rrf_fuse(
    ranked_lists: Sequence[Sequence[Hashable]],
    k: int = RRF_K,
    *,
    tie_break: Mapping[Hashable, float] | None = None,
) -> list[FusedHit]:
    """Reciprocal rank fusion: ``score = Σ 1 / (k + rank_i)`` over the lists an id appears in.

    Ranks start at 1; an id repeated within one list counts at its first position. Ties go to the
    higher ``tie_break`` value (the dense score in §9.3; missing = -inf), then to the smaller id.
    """
    if k < 1:
        raise ValueError("k must be >= 1")
    ranks: dict[Hashable, list[int | None]] = {}
    for li, ids in enumerate(ranked_lists):
        for pos, doc_id in enumerate(ids, start=1):
            slots = ranks.setdefault(doc_id, [None] * len(ranked_lists))
            if slots[li] is None:
                slots[li] = pos
    hits = [FusedHit(doc_id, sum(1.0 / (k + r) for r in slots if r is not None), tuple(slots))
            for doc_id, slots in ranks.items()]
    tb = tie_break or {}
    hits.sort(key=lambda h: (-h.score, -tb.get(h.id, -math.inf), str(h.id)))
    return hits
