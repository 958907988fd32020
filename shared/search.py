"""Hybrid retrieval over a project's chunks (connectors-rag §9): dense + lexical, fused by RRF.

``search(...)`` is what ``POST /search`` calls after validating its body, and what the quality
benchmark calls per mode. The query is embedded in the calling process by the shared provider.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.chunking import RAG_SOURCE_TYPES
from shared.db.service import rag as svc
from shared.embeddings import EmbeddingError, EmbeddingProvider, EmbeddingTimeout
from shared.errors import KeelError
from shared.lexical import RRF_K, query_terms, rrf_fuse
from shared.normalize import env_int
from shared.scope import Scope
from shared.timeutil import iso
from shared.vectors import VectorStore, where_filter

MODES = ("hybrid", "dense", "lexical")
MAX_QUERY_CHARS = 4000
TOP_K_DEFAULT, TOP_K_MAX = 10, 50
CANDIDATES_MAX = 150
TEXT_CHARS, SNIPPET_CHARS = 500, 160
HYDRATE_SLACK = 5  # ids hydrated beyond topK in the first round, in case some are stale


class SearchTimeout(KeelError):
    status, code = 504, "search_timeout"


class EmbeddingProviderFailed(KeelError):
    status, code = 502, "embedding_provider_error"


LEXICAL_MIN_COVERAGE = 0.3


def _env_fraction(name: str, default: float, environ: Mapping[str, str]) -> float:
    try:
        value = float((environ.get(name) or "").strip())
    except ValueError:
        return default
    return max(0.0, min(1.0, value)) if math.isfinite(value) else default


@dataclass(frozen=True)
class SearchSettings:
    rrf_k: int = RRF_K  # RRF_K, 1–1000
    # SEARCH_LEXICAL_MIN_COVERAGE, 0–1: in hybrid mode a lexical hit takes part in the fusion only when
    # the query terms it holds carry at least this share of the query's IDF weight (lexical mode lists
    # every match). One shared word of a long paraphrased question is weak evidence (bench/eval_search.py).
    lexical_min_coverage: float = LEXICAL_MIN_COVERAGE
    chatwoot_base_url: str = ""  # CHATWOOT_BASE_URL, for message evidence links

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SearchSettings:
        return cls(rrf_k=env_int("RRF_K", RRF_K, 1, 1000, environ),
                   lexical_min_coverage=_env_fraction("SEARCH_LEXICAL_MIN_COVERAGE", LEXICAL_MIN_COVERAGE, environ),
                   chatwoot_base_url=(environ.get("CHATWOOT_BASE_URL") or "").strip().rstrip("/"))


@dataclass(frozen=True)
class SearchRequest:
    """A validated request (web/search/schemas.py builds it from the body)."""

    query: str
    top_k: int = TOP_K_DEFAULT
    mode: str = "hybrid"
    source_types: tuple[str, ...] = RAG_SOURCE_TYPES
    date_from: datetime | None = None
    date_to: datetime | None = None
    conversation_global_id: str | None = None
    min_score: float | None = None

    @property
    def candidates(self) -> int:
        """``N = min(topK * 3, 150)`` per list."""
        return min(self.top_k * 3, CANDIDATES_MAX)

    def filters(self) -> svc.SearchFilters:
        types = () if set(self.source_types) >= set(RAG_SOURCE_TYPES) else tuple(self.source_types)
        return svc.SearchFilters(types, self.date_from, self.date_to, self.conversation_global_id)


@dataclass
class Ranked:
    """The fused list before hydration (also what the quality benchmark scores)."""

    ids: list[str] = field(default_factory=list)
    score: dict[str, float] = field(default_factory=dict)
    dense: dict[str, tuple[int, float]] = field(default_factory=dict)  # id -> (rank, distance)
    lexical: dict[str, int] = field(default_factory=dict)  # id -> rank


def embed_query(provider: EmbeddingProvider, text: str) -> Any:
    """The query vector (§9.2): timeout → 504 ``search_timeout``, other provider errors → 502."""
    try:
        return provider.embed_query(text)
    except EmbeddingTimeout as exc:
        raise SearchTimeout(message=f"Query embedding timed out: {exc}") from exc
    except EmbeddingError as exc:
        raise EmbeddingProviderFailed(message=f"Query embedding failed: {exc}") from exc


def dense_candidates(store: VectorStore, provider: EmbeddingProvider, scope: Scope, req: SearchRequest,
                     vector: Any = None) -> list[tuple[str, float]]:
    """``(chunk id, cosine distance)`` nearest first from the project's collection of the active model."""
    if vector is None:
        vector = embed_query(provider, req.query)
    f = req.filters()
    where = where_filter(source_types=f.source_types or None, ts_from=f.ts_from, ts_to=f.ts_to,
                         conversation_global_id=f.conversation_global_id)
    hits = store.collection(scope.project_id, provider.model_key).query(vector, req.candidates, where)
    return [(h.id, h.distance) for h in hits]


def lexical_candidates(session: Session, scope: Scope, req: SearchRequest, min_coverage: float = 0.0) -> list[str]:
    """Chunk ids best first from the database keyword index (no terms → ``[]``)."""
    terms = query_terms(req.query)
    hits = svc.lexical_search(session, scope, terms=terms, filters=req.filters(), limit=req.candidates,
                              min_coverage=min_coverage)
    return [str(h.id) for h in hits]


_pool: tuple[int, ThreadPoolExecutor] | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    """A small per-process pool (rebuilt after a fork) running the keyword query beside the dense one."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[0] != os.getpid():
            _pool = (os.getpid(), ThreadPoolExecutor(max_workers=4, thread_name_prefix="search-lexical"))
        return _pool[1]


def _lexical_in_own_session(sessions: Callable[[], Session], scope: Scope, req: SearchRequest,
                            coverage: float) -> list[str]:
    with sessions() as s:
        return lexical_candidates(s, scope, req, coverage)


def rank(session: Session, store: VectorStore, provider: EmbeddingProvider, scope: Scope, req: SearchRequest,
         settings: SearchSettings, sessions: Callable[[], Session] | None = None) -> Ranked:
    """Dense and/or lexical candidate lists fused by reciprocal rank fusion (§9.3 steps 1–3).

    With ``sessions`` (a session factory), the hybrid mode runs the keyword query in a pool thread with
    its own session while this thread asks Chroma: both wait on other processes (PostgreSQL, Chroma).
    The query is embedded first, alone, so that nothing competes with the model's BLAS threads.
    """
    coverage = settings.lexical_min_coverage if req.mode == "hybrid" else 0.0
    vector = embed_query(provider, req.query) if req.mode in ("hybrid", "dense") else None
    pending: Future[list[str]] | None = None
    if req.mode == "hybrid" and sessions is not None:
        pending = _executor().submit(_lexical_in_own_session, sessions, scope, req, coverage)
    try:
        dense = dense_candidates(store, provider, scope, req, vector) if vector is not None else []
    except BaseException:
        if pending is not None:
            pending.cancel()  # a started query finishes on its own session; its result is not needed
        raise
    if pending is not None:
        lexical = pending.result()
    elif req.mode in ("hybrid", "lexical"):
        lexical = lexical_candidates(session, scope, req, coverage)
    else:
        lexical = []
    lists = {"hybrid": [[i for i, _ in dense], lexical], "dense": [[i for i, _ in dense]], "lexical": [lexical]}
    dense_score = {i: 1.0 - d for i, d in dense}
    fused = rrf_fuse(lists[req.mode], settings.rrf_k, tie_break=dense_score)
    return Ranked(
        ids=[str(h.id) for h in fused],
        score={str(h.id): h.score for h in fused},
        dense={i: (r, d) for r, (i, d) in enumerate(dense, start=1)},
        lexical={i: r for r, i in enumerate(lexical, start=1)},
    )


def search(session: Session, store: VectorStore, provider: EmbeddingProvider, scope: Scope, req: SearchRequest,
           settings: SearchSettings, sessions: Callable[[], Session] | None = None) -> list[dict[str, Any]]:
    """The §9.4 ``results``: fused, hydrated from the database (stale ids dropped), ``min_score``, top K."""
    ranked = rank(session, store, provider, scope, req, settings, sessions)
    wanted = [i for i in ranked.ids if req.min_score is None or i not in ranked.dense
              or 1.0 - ranked.dense[i][1] >= req.min_score]
    results: list[dict[str, Any]] = []
    start, step = 0, req.top_k + HYDRATE_SLACK
    while start < len(wanted) and len(results) < req.top_k:  # usually one round: stale ids are rare
        batch = wanted[start:start + step]
        rows = svc.hydrate(session, scope, ids=batch)
        for chunk_id in batch:
            row = rows.get(chunk_id)
            if row is not None and len(results) < req.top_k:
                results.append(result_item(row, len(results) + 1, ranked.score[chunk_id], ranked.dense.get(chunk_id),
                                           ranked.lexical.get(chunk_id), settings))
        start, step = start + len(batch), step * 2
    return results


def _round(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else round(value, 6)


def snippet(text: str, n: int = SNIPPET_CHARS) -> str:
    return text if len(text) <= n else text[:n] + "..."


def result_item(row: svc.HydratedChunk, rank_no: int, score: float, dense: tuple[int, float] | None,
                lexical_rank: int | None, settings: SearchSettings) -> dict[str, Any]:
    c = row.chunk
    snip = snippet(c.text)
    return {
        "id": str(c.id), "rank": rank_no, "score": _round(score),
        "dense_score": _round(1.0 - dense[1]) if dense else None, "distance": _round(dense[1]) if dense else None,
        "dense_rank": dense[0] if dense else None, "lexical_rank": lexical_rank,
        "source_type": c.source_type, "source_table": c.source_table, "source_pk": c.source_pk,
        "conversation_global_id": c.conversation_global_id, "message_global_id": c.message_global_id,
        "contact_global_id": c.contact_global_id or row.message_contact_global_id,
        "chunk_index": c.chunk_index, "text": c.text[:TEXT_CHARS], "snippet": snip,
        "source_created_at": iso(row.message_created_at or c.source_ts), "created_at": iso(c.created_at),
        "evidence_refs": evidence_refs(row, snip, settings),
    }


def evidence_refs(row: svc.HydratedChunk, snip: str, settings: SearchSettings) -> list[dict[str, Any]]:
    """The chunk itself, then its source row (§9.4), in the shape audit and KAG accept."""
    c = row.chunk
    source_meta: dict[str, Any] = {}
    if c.source_table == "cw_messages":
        source_meta["conversation_global_id"] = c.conversation_global_id
        if settings.chatwoot_base_url and row.message_account_id is not None and row.message_conversation_id:
            source_meta["url"] = (f"{settings.chatwoot_base_url}/app/accounts/{row.message_account_id}"
                                  f"/conversations/{row.message_conversation_id}")
        else:
            source_meta["url"] = None
    elif c.source_table == "linear_issues_raw":
        source_meta["url"] = row.issue_url
    return [
        {"source": "rag_chunks", "ref": str(c.id), "snippet": snip, "meta": {"chunk_index": c.chunk_index}},
        {"source": c.source_table, "ref": c.source_pk, "snippet": None, "meta": source_meta},
    ]


def describe_filters(req: SearchRequest) -> dict[str, Any]:
    return {"source_types": list(req.source_types), "date_from": iso(req.date_from), "date_to": iso(req.date_to),
            "conversation_global_id": req.conversation_global_id, "min_score": req.min_score}


def response_body(scope: Scope, provider: EmbeddingProvider, req: SearchRequest,
                  results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "query": req.query, "topK": req.top_k, "mode": req.mode, **scope.to_json(),
        "embedding_provider": provider.name, "embedding_model": provider.model, "embedding_dim": provider.dim,
        "filters": describe_filters(req), "results": list(results),
    }
