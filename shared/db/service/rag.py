"""RAG chunk rows (connectors-rag §6.3, §7.3–§7.5, §8, §9.3): chunk sync, embedding claims, search reads.

Callers own the transaction: every function flushes at most, never commits. Every statement is
filtered by the scope's ``project_id`` and ``account_scope_id``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import and_, delete, func, or_, select, tuple_, update
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Session

from shared.chunking import RAG_SOURCE_TYPES, SOURCE_FIELDS, ChunkAction, ChunkingSettings, plan_source_chunks
from shared.db.models.rag import RagChunk, RagTermStat
from shared.lexical import LexicalHit, idf, idf_overlap_rank, normalize_for_index
from shared.scope import Scope
from shared.timeutil import utcnow

STALE_RECOVERED = "recovered_from_stale_processing"
ERROR_MAX_CHARS = 400


# --- chunk sync (§6.3) ---------------------------------------------------------------------------
@dataclass(frozen=True)
class ChunkSyncCounts:
    """What one (or many, summed with ``+``) source syncs did to ``rag_chunks``."""

    inserted: int = 0
    reembedded: int = 0
    deleted: int = 0
    unchanged: int = 0
    refreshed: int = 0  # same text, source fields rewritten (counted in ``unchanged`` too)
    dropped: int = 0  # chunks beyond RAG_MAX_CHUNKS_PER_SOURCE (``meta.chunks_dropped``)
    deleted_ids: tuple[str, ...] = field(default=(), repr=False)  # vector ids to delete (best effort)

    def __add__(self, other: ChunkSyncCounts) -> ChunkSyncCounts:
        return ChunkSyncCounts(
            self.inserted + other.inserted, self.reembedded + other.reembedded, self.deleted + other.deleted,
            self.unchanged + other.unchanged, self.refreshed + other.refreshed, self.dropped + other.dropped,
            self.deleted_ids + other.deleted_ids,
        )

    @property
    def needs_embedding(self) -> bool:
        """True when the sync should name ``embeddings_run`` as its follow-up (§13)."""
        return self.inserted + self.reembedded > 0

    def as_meta(self) -> dict[str, int]:
        """The run-result keys of §3.7."""
        return {"inserted_chunks": self.inserted, "reembedded_chunks": self.reembedded,
                "deleted_chunks": self.deleted, "chunks_dropped": self.dropped}


_settings_cache: dict[int, tuple[Any, ChunkingSettings]] = {}


def chunking_settings() -> ChunkingSettings:
    """``ChunkingSettings`` of the process runtime's environment (read once per ``Settings``)."""
    from shared.runtime import current

    settings = current().settings
    cached = _settings_cache.get(id(settings))
    if cached is None or cached[0] is not settings:
        cached = _settings_cache[id(settings)] = (settings, ChunkingSettings.from_env(settings.environ))
    return cached[1]


def sync_source_chunks(
    session: Session,
    scope: Scope,
    *,
    source_type: str,
    source_table: str,
    source_pk: str,
    text: str | None,
    source_fields: Mapping[str, Any] | None = None,
    settings: ChunkingSettings | None = None,
) -> ChunkSyncCounts:
    """Bring one source's chunk rows in line with its current ``text`` (§6.3); idempotent.

    ``text=None`` (private/activity/deleted message, archived issue) or a text shorter than
    ``MIN_EMBED_CHARS`` deletes every chunk of the source. ``source_fields`` may carry
    ``conversation_global_id``, ``message_global_id``, ``contact_global_id`` and ``source_ts``.
    A source type missing from ``RAG_SOURCES`` is left alone (no new chunks, none deleted).
    Vectors of deleted chunks are not touched here: ``deleted_ids`` names them for a best-effort
    delete after commit, and ``vector_gc`` removes whatever is left.
    """
    if source_type not in RAG_SOURCE_TYPES:
        raise ValueError(f"unknown RAG source type {source_type!r}")
    settings = settings or chunking_settings()
    if source_type not in settings.rag_sources:
        return ChunkSyncCounts()
    fields = {k: v for k, v in (source_fields or {}).items() if k in SOURCE_FIELDS}
    fields.update(source_type=source_type, source_table=source_table, source_pk=str(source_pk))
    rows = {
        str(row.id): row
        for row in session.scalars(
            select(RagChunk).filter_by(source_table=source_table, source_pk=str(source_pk), **scope.as_filter())
        )
    }
    plan = plan_source_chunks(text, rows.values(), fields, settings=settings)
    now = utcnow()
    for op in plan.ops:
        if op.action is ChunkAction.INSERT:
            session.add(RagChunk(id=uuid.UUID(op.chunk_id), project_id=scope.project_id,
                                 account_scope_id=scope.account_scope_id,
                                 search_text=normalize_for_index(op.values["text"]), **op.values))
        elif op.action in (ChunkAction.REEMBED, ChunkAction.REFRESH):
            row = rows[op.chunk_id]
            for name, value in op.values.items():
                setattr(row, name, value)
            if "text" in op.values:
                row.search_text = normalize_for_index(op.values["text"])
            row.updated_at = now
    if plan.deleted_ids:
        session.execute(delete(RagChunk).where(RagChunk.id.in_([uuid.UUID(i) for i in plan.deleted_ids]))
                        .filter_by(**scope.as_filter()).execution_options(synchronize_session=False))
        for chunk_id in plan.deleted_ids:
            row = rows.get(chunk_id)
            if row is not None:
                session.expunge(row)
    session.flush()
    n = plan.counts()
    return ChunkSyncCounts(
        inserted=n["inserted"], reembedded=n["reembedded"], deleted=n["deleted"],
        unchanged=n["unchanged"] + n["refreshed"], refreshed=n["refreshed"], dropped=n["dropped"],
        deleted_ids=tuple(plan.deleted_ids),
    )


def delete_source_chunks(session: Session, scope: Scope, *, source_table: str, source_pk: str) -> ChunkSyncCounts:
    """Delete every chunk of one source whatever ``RAG_SOURCES`` says (e.g. the source row is gone)."""
    ids = [str(i) for i in session.scalars(
        select(RagChunk.id).filter_by(source_table=source_table, source_pk=str(source_pk), **scope.as_filter()))]
    if ids:
        session.execute(delete(RagChunk).where(RagChunk.id.in_([uuid.UUID(i) for i in ids]))
                        .filter_by(**scope.as_filter()).execution_options(synchronize_session=False))
    return ChunkSyncCounts(deleted=len(ids), deleted_ids=tuple(ids))


# --- embedding claims (§7.3–§7.5) ----------------------------------------------------------------
@dataclass(frozen=True)
class ClaimedChunk:
    """A claimed row as plain values (leaves the session)."""

    id: str
    text: str
    text_hash: str
    attempts: int
    metadata: dict[str, Any]


def recover_stale(session: Session, scope: Scope, *, older_than: timedelta) -> int:
    """``processing`` rows not touched for ``older_than`` go back to ``pending`` (§7.3)."""
    cutoff = utcnow() - older_than
    result = session.execute(
        update(RagChunk).filter_by(embedding_status="processing", **scope.as_filter())
        .where(RagChunk.updated_at < cutoff)
        .values(embedding_status="pending", updated_at=utcnow(),
                embedding_error=func.coalesce(RagChunk.embedding_error, STALE_RECOVERED))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def reset_failed(session: Session, scope: Scope) -> int:
    """``retry_failed``: every ``failed`` row back to ``pending`` with its attempts reset."""
    result = session.execute(
        update(RagChunk).filter_by(embedding_status="failed", **scope.as_filter())
        .values(embedding_status="pending", embedding_attempts=0, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def _model_differs(provider: str, model: str, dim: int) -> Any:
    return or_(RagChunk.embedding_provider.is_distinct_from(provider),
               RagChunk.embedding_model.is_distinct_from(model),
               RagChunk.embedding_dim.is_distinct_from(dim))


def claim_batch(session: Session, scope: Scope, *, limit: int, model: tuple[str, str, int] | None = None,
                ) -> list[ClaimedChunk]:
    """Claim up to ``limit`` rows: ``pending`` ones first (``created_at, id``), then — when ``model``
    (provider, model, dim) is given — ``ready`` rows embedded with another model (oldest first).

    One ``UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) RETURNING`` per kind (row locks on
    PostgreSQL, so two runs never claim the same row): the rows become ``processing`` with
    ``embedding_attempts + 1``.
    """
    base = select(RagChunk.id).filter_by(**scope.as_filter())
    pending = (base.where(RagChunk.embedding_status == "pending")
               .order_by(RagChunk.created_at, RagChunk.id).limit(limit))
    out = _claim(session, scope, _skip_locked(session, pending))
    if len(out) < limit and model is not None:
        stale = (base.where(RagChunk.embedding_status == "ready", _model_differs(*model))
                 .order_by(RagChunk.last_embedded_at.asc().nulls_first(), RagChunk.id).limit(limit - len(out)))
        out += _claim(session, scope, _skip_locked(session, stale))
    return out


def _claim(session: Session, scope: Scope, ids: Any) -> list[ClaimedChunk]:
    claim = ids.cte("claim").prefix_with("MATERIALIZED", dialect="postgresql")  # evaluated exactly once
    stmt = (
        update(RagChunk).where(RagChunk.id == claim.c.id)
        .filter_by(**scope.as_filter())
        .values(embedding_status="processing", embedding_attempts=RagChunk.embedding_attempts + 1,
                updated_at=utcnow())
        .returning(RagChunk.id, RagChunk.text, RagChunk.text_hash, RagChunk.embedding_attempts, RagChunk.created_at,
                   *(getattr(RagChunk, f) for f in SOURCE_FIELDS), RagChunk.chunk_index)
        .execution_options(synchronize_session=False)
    )
    rows = sorted(session.execute(stmt).all(), key=lambda r: (r.created_at, str(r.id)))
    out = []
    for r in rows:
        meta = {f: getattr(r, f) for f in (*SOURCE_FIELDS, "chunk_index", "text_hash")}
        out.append(ClaimedChunk(str(r.id), r.text, r.text_hash, r.embedding_attempts, meta))
    return out


def _skip_locked(session: Session, stmt: Any) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt


def mark_ready(session: Session, scope: Scope, *, chunks: Iterable[tuple[str, str]],
               model: tuple[str, str, int]) -> int:
    """``(chunk_id, claimed text_hash)`` pairs → ``ready``, only while still ``processing`` with that hash."""
    pairs = [(uuid.UUID(i), h) for i, h in chunks]
    if not pairs:
        return 0
    provider, model_name, dim = model
    now = utcnow()
    result = session.execute(
        update(RagChunk).filter_by(embedding_status="processing", **scope.as_filter())
        .where(tuple_(RagChunk.id, RagChunk.text_hash).in_(pairs))
        .values(embedding_status="ready", embedding_provider=provider, embedding_model=model_name,
                embedding_dim=dim, last_embedded_at=now, embedding_error=None, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount or 0


def mark_failed(session: Session, scope: Scope, *, errors: Mapping[str, str]) -> int:
    """Per-chunk problems (``{chunk_id: code}``) → ``failed`` with the code as ``embedding_error``."""
    n = 0
    now = utcnow()
    by_code: dict[str, list[uuid.UUID]] = {}
    for chunk_id, code in errors.items():
        by_code.setdefault(code, []).append(uuid.UUID(chunk_id))
    for code, ids in by_code.items():
        result = session.execute(
            update(RagChunk).filter_by(embedding_status="processing", **scope.as_filter())
            .where(RagChunk.id.in_(ids))
            .values(embedding_status="failed", embedding_error=code[:ERROR_MAX_CHARS], updated_at=now)
            .execution_options(synchronize_session=False)
        )
        n += result.rowcount or 0
    return n


def release_claim(session: Session, scope: Scope, *, ids: Sequence[str], error: str | None,
                  max_attempts: int, undo_attempt: bool = False) -> tuple[int, int]:
    """A whole batch failed: back to ``pending`` with ``embedding_error``; rows at ``max_attempts`` → ``failed``.

    ``undo_attempt`` (permanent configuration errors) also takes back the claim's attempt increment,
    so that such errors never mark chunks ``failed``. Returns ``(pending, failed)`` counts.
    """
    if not ids:
        return 0, 0
    uids = [uuid.UUID(i) for i in ids]
    now = utcnow()
    where = and_(RagChunk.id.in_(uids), RagChunk.embedding_status == "processing",
                 RagChunk.project_id == scope.project_id, RagChunk.account_scope_id == scope.account_scope_id)
    clipped = error[:ERROR_MAX_CHARS] if error else None
    failed = 0
    if undo_attempt:
        attempts = func.greatest if session.get_bind().dialect.name == "postgresql" else func.max
        pending = session.execute(
            update(RagChunk).where(where)
            .values(embedding_status="pending", embedding_error=clipped, updated_at=now,
                    embedding_attempts=attempts(RagChunk.embedding_attempts - 1, 0))
            .execution_options(synchronize_session=False)).rowcount or 0
        return pending, 0
    failed = session.execute(
        update(RagChunk).where(where, RagChunk.embedding_attempts >= max_attempts)
        .values(embedding_status="failed", embedding_error=clipped, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    pending = session.execute(
        update(RagChunk).where(where)
        .values(embedding_status="pending", embedding_error=clipped, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount or 0
    return pending, failed


def count_pending(session: Session, scope: Scope, *, model: tuple[str, str, int] | None = None) -> int:
    """Rows still needing a vector: ``pending``, plus ``ready`` rows of another model when ``model`` is given."""
    cond = RagChunk.embedding_status == "pending"
    if model is not None:
        cond = or_(cond, and_(RagChunk.embedding_status == "ready", _model_differs(*model)))
    return session.scalar(select(func.count()).select_from(RagChunk).filter_by(**scope.as_filter()).where(cond)) or 0


def status_counts(session: Session, scope: Scope) -> dict[str, int]:
    out = {"pending": 0, "processing": 0, "ready": 0, "failed": 0}
    for status, n in session.execute(select(RagChunk.embedding_status, func.count())
                                     .filter_by(**scope.as_filter()).group_by(RagChunk.embedding_status)):
        out[status] = n
    return out


# --- vector GC (§8) ------------------------------------------------------------------------------
def live_vector_ids(session: Session, scope: Scope, *, ids: Sequence[str], model_key: str) -> set[str]:
    """Of ``ids``, the chunks whose vector in the ``model_key`` collection must stay: ``ready`` with that
    model, or ``processing`` (an embeddings run may have just written it and not yet marked it ready)."""
    uids = _uuids(ids)
    if not uids:
        return set()
    provider, _, rest = model_key.partition(":")
    model_name, _, dim = rest.rpartition(":")
    try:
        dim_value = int(dim)
    except ValueError:
        dim_value = -1
    ready_here = and_(RagChunk.embedding_status == "ready", RagChunk.embedding_provider == provider,
                      RagChunk.embedding_model == model_name, RagChunk.embedding_dim == dim_value)
    rows = session.scalars(
        select(RagChunk.id).filter_by(**scope.as_filter())
        .where(RagChunk.id.in_(uids), or_(ready_here, RagChunk.embedding_status == "processing"))
    )
    return {str(i) for i in rows}


def _uuids(ids: Iterable[Any]) -> list[uuid.UUID]:
    out = []
    for i in ids:
        try:
            out.append(i if isinstance(i, uuid.UUID) else uuid.UUID(str(i)))
        except ValueError:
            continue
    return out


# --- search reads (§9.3) -------------------------------------------------------------------------
@dataclass(frozen=True)
class SearchFilters:
    source_types: tuple[str, ...] = ()
    ts_from: datetime | None = None
    ts_to: datetime | None = None
    conversation_global_id: str | None = None


def _filter_clauses(scope: Scope, filters: SearchFilters) -> list[Any]:
    clauses: list[Any] = [RagChunk.project_id == scope.project_id,
                          RagChunk.account_scope_id == scope.account_scope_id,
                          RagChunk.embedding_status == "ready"]
    if filters.source_types:
        clauses.append(RagChunk.source_type.in_(list(filters.source_types)))
    if filters.ts_from is not None:
        clauses.append(RagChunk.source_ts >= filters.ts_from)
    if filters.ts_to is not None:
        clauses.append(RagChunk.source_ts <= filters.ts_to)
    if filters.conversation_global_id is not None:
        clauses.append(RagChunk.conversation_global_id == filters.conversation_global_id)
    return clauses


def lexical_search(session: Session, scope: Scope, *, terms: Sequence[str], filters: SearchFilters,
                   limit: int, min_coverage: float = 0.0) -> list[LexicalHit]:
    """Top ``limit`` ``ready`` chunks of the scope holding query terms, best first (§9.3 step 2).

    ``terms`` are ``shared.lexical.query_terms`` of the query (already stemmed). The ranking is
    ``shared.lexical.idf_overlap_rank``. PostgreSQL: in SQL over the GIN index of ``search_tsv``, with
    the IDF weights from ``rag_term_stats`` (kept by the embeddings job) so that only chunks able to
    reach the coverage bar are read — the bar is raised first (0.3, then 0.1) while it still yields a
    full page, which keeps the answer exact; without statistics, one exact statement over every
    candidate. SQLite: in Python over a substring match of ``' ' || search_text || ' '``.
    """
    terms = list(dict.fromkeys(t for t in terms if t))
    if not terms or limit < 1:
        return []
    if session.get_bind().dialect.name == "postgresql":
        return _lexical_pg(session, scope, terms, filters, limit, min_coverage)
    return _lexical_substring(session, scope, terms, filters, limit, min_coverage)


def _filter_sql(scope: Scope, filters: SearchFilters) -> tuple[str, dict[str, Any]]:
    """``_filter_clauses`` as SQL text with bind parameters (for the hand-written lexical statement)."""
    sql = ["project_id = :project_id", "account_scope_id = :account_scope_id", "embedding_status = 'ready'"]
    params: dict[str, Any] = {"project_id": scope.project_id, "account_scope_id": scope.account_scope_id}
    if filters.source_types:
        sql.append("source_type = ANY(:source_types)")
        params["source_types"] = list(filters.source_types)
    if filters.ts_from is not None:
        sql.append("source_ts >= :ts_from")
        params["ts_from"] = filters.ts_from
    if filters.ts_to is not None:
        sql.append("source_ts <= :ts_to")
        params["ts_to"] = filters.ts_to
    if filters.conversation_global_id is not None:
        sql.append("conversation_global_id = :conversation_global_id")
        params["conversation_global_id"] = filters.conversation_global_id
    return " AND ".join(sql), params


# --- term statistics (IDF weights of the PostgreSQL keyword search) -------------------------------
STATS_REFRESH_CHANGE = 0.1  # refresh when the ready-chunk count moved by more than this share ...
STATS_REFRESH_AGE = timedelta(hours=1)  # ... or the statistics are this old and the count moved at all


def ready_count(session: Session, scope: Scope) -> int:
    return session.scalar(select(func.count()).select_from(RagChunk)
                          .filter_by(embedding_status="ready", **scope.as_filter())) or 0


def refresh_term_stats(session: Session, scope: Scope) -> int:
    """Recount the document frequency of every index term over the project's ``ready`` chunks
    (PostgreSQL ``ts_stat``); returns the corpus size. A no-op returning 0 on other databases."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    pid, sid = uuid.UUID(str(scope.project_id)), uuid.UUID(str(scope.account_scope_id))  # literals below are UUIDs
    corpus = (f"SELECT search_tsv FROM rag_chunks WHERE project_id = '{pid}' AND account_scope_id = '{sid}' "
              "AND embedding_status = 'ready'")
    params = {"p": pid, "s": sid}
    session.execute(sql_text("DELETE FROM rag_term_stats WHERE project_id = :p AND account_scope_id = :s"), params)
    session.execute(sql_text(
        "INSERT INTO rag_term_stats (project_id, account_scope_id, term, df, refreshed_at) "
        "SELECT :p, :s, word, ndoc, now() FROM ts_stat(:corpus) WHERE word <> ''"), params | {"corpus": corpus})
    n = ready_count(session, scope)
    session.execute(sql_text("INSERT INTO rag_term_stats (project_id, account_scope_id, term, df, refreshed_at) "
                             "VALUES (:p, :s, '', :n, now())"), params | {"n": n})
    return n


def maybe_refresh_term_stats(session: Session, scope: Scope) -> bool:
    """Refresh the statistics when missing, when the corpus changed by more than 10 %, or when they are
    over an hour old and the corpus changed at all. Returns whether it refreshed."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    row = session.execute(select(RagTermStat.df, RagTermStat.refreshed_at)
                          .filter_by(term="", **scope.as_filter())).first()
    n = ready_count(session, scope)
    if row is not None:
        old, at = row
        moved = abs(n - old)
        if moved <= STATS_REFRESH_CHANGE * max(old, 1) and (moved == 0 or utcnow() - at < STATS_REFRESH_AGE):
            return False
    refresh_term_stats(session, scope)
    return True


def term_frequencies(session: Session, scope: Scope, terms: Sequence[str]) -> tuple[int, dict[str, int]] | None:
    """``(corpus size, {term: df})`` from the statistics (absent terms: 0), or ``None`` when there are none."""
    rows = dict(session.execute(select(RagTermStat.term, RagTermStat.df)
                                .filter_by(**scope.as_filter()).where(RagTermStat.term.in_(["", *terms]))).all())
    if "" not in rows:
        return None
    return rows.pop(""), {t: rows.get(t, 0) for t in terms}


MAX_AND_GROUPS = 64
COVERAGE_CASCADE = (0.3, 0.1, 0.0)  # bars tried in turn until one yields a full page (MaxScore-like pruning)


def candidate_groups(weights: Sequence[float], min_coverage: float) -> list[tuple[int, ...]]:
    """Term groups (indexes) a chunk must hold all of, for at least one group, to reach ``min_coverage``.

    The minimal subsets whose weight reaches the bar, when there are few; otherwise single terms minus
    the most common ones that could not reach it even together. With no bar: every term alone.
    """
    n = len(weights)
    need = min_coverage * sum(weights) - 1e-9
    if need <= 0:
        return [(i,) for i in range(n)]
    if n <= 10:
        def ok(mask: int) -> bool:
            return sum(weights[i] for i in range(n) if mask >> i & 1) >= need

        groups = [tuple(i for i in range(n) if mask >> i & 1) for mask in range(1, 1 << n)
                  if ok(mask) and not any(mask >> i & 1 and ok(mask & ~(1 << i)) for i in range(n))]
        if len(groups) <= MAX_AND_GROUPS:
            return groups
    order = sorted(range(n), key=lambda i: weights[i])
    cumulative, weak = 0.0, set()
    for i in order:  # the most common terms whose weights together stay below the bar
        if cumulative + weights[i] >= need:
            break
        cumulative += weights[i]
        weak.add(i)
    return [(i,) for i in range(n) if i not in weak]


def _lexical_pg(session: Session, scope: Scope, terms: list[str], filters: SearchFilters, limit: int,
                min_coverage: float) -> list[LexicalHit]:
    """Statistics are project-wide (the filters narrow the candidates, not the IDF weights)."""
    stats = term_frequencies(session, scope, terms)
    if stats is None:
        return _lexical_pg_exact(session, scope, terms, filters, limit, min_coverage)
    n_docs, df = stats
    weights = [idf(n_docs, df[t]) for t in terms]
    hits: list[LexicalHit] = []
    for bar in sorted({max(min_coverage, b) for b in COVERAGE_CASCADE}, reverse=True):
        hits = _lexical_pg_pruned(session, scope, terms, weights, filters, limit, bar)
        if len(hits) >= limit:  # every chunk below this bar scores lower than all of these: exact top
            break
    return hits


def _lexical_pg_pruned(session: Session, scope: Scope, terms: list[str], weights: list[float],
                       filters: SearchFilters, limit: int, min_coverage: float) -> list[LexicalHit]:
    """The top chunks among those reaching ``min_coverage``, found through the GIN index with only the
    term groups that can reach it (``candidate_groups``), scored with the given IDF weights."""
    total = sum(weights)
    where, params = _filter_sql(scope, filters)
    n = range(len(terms))
    params |= {f"t{i}": terms[i] for i in n} | {f"w{i}": weights[i] for i in n}
    params |= {"bar": min_coverage * total - 1e-9, "limit": limit}
    q = [f"plainto_tsquery('simple', :t{i})" for i in n]
    groups = candidate_groups(weights, min_coverage)
    match = " || ".join("(" + " && ".join(q[i] for i in g) + ")" for g in groups)
    sql = f"""
SELECT id, score, len FROM (
    SELECT id, length(search_tsv) AS len,
           {" + ".join(f"CASE WHEN search_tsv @@ {q[i]} THEN CAST(:w{i} AS float8) ELSE 0 END" for i in n)} AS score
    FROM rag_chunks WHERE {where} AND search_tsv @@ ({match})
) c
WHERE score > 0 AND score >= :bar
ORDER BY score DESC, len, id LIMIT :limit"""
    return [LexicalHit(str(i), float(sc), float(sc) / total if total else 0.0, int(ln or 0))
            for i, sc, ln in session.execute(sql_text(sql), params)]


def _lexical_pg_exact(session: Session, scope: Scope, terms: list[str], filters: SearchFilters, limit: int,
                      min_coverage: float) -> list[LexicalHit]:
    """Without statistics: ``idf_overlap_rank`` in one statement, the document frequencies counted over
    every candidate (any term) and the corpus size over the same filters. Exact, slower on large corpora."""
    where, params = _filter_sql(scope, filters)
    n = range(len(terms))
    params |= {f"t{i}": terms[i] for i in n} | {"min_coverage": min_coverage, "limit": limit}
    q = [f"plainto_tsquery('simple', :t{i})" for i in n]
    sql = f"""
WITH cand AS MATERIALIZED (
    SELECT id, length(search_tsv) AS len, {", ".join(f"search_tsv @@ {q[i]} AS m{i}" for i in n)}
    FROM rag_chunks WHERE {where} AND search_tsv @@ ({" || ".join(q)})
), w AS MATERIALIZED (
    SELECT {", ".join(f"ln(1 + (greatest(c.n, d.d{i}) - d.d{i} + 0.5) / (d.d{i} + 0.5)) AS w{i}" for i in n)}
    FROM (SELECT count(*) AS n FROM rag_chunks WHERE {where}) c,
         (SELECT {", ".join(f"count(*) FILTER (WHERE m{i}) AS d{i}" for i in n)} FROM cand) d
), scored AS (
    SELECT cand.id, cand.len, {" + ".join(f"CASE WHEN m{i} THEN w{i} ELSE 0 END" for i in n)} AS score,
           {" + ".join(f"w{i}" for i in n)} AS total
    FROM cand CROSS JOIN w
)
SELECT id, score, total, len FROM scored
WHERE score > 0 AND score >= :min_coverage * total - 1e-9
ORDER BY score DESC, len, id LIMIT :limit"""
    rows = session.execute(sql_text(sql), params)
    return [LexicalHit(str(i), float(sc), float(sc) / float(tot) if tot else 0.0, int(ln or 0))
            for i, sc, tot, ln in rows]


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _lexical_substring(session: Session, scope: Scope, terms: list[str], filters: SearchFilters, limit: int,
                       min_coverage: float) -> list[LexicalHit]:
    """Every chunk holding a term is a candidate, so the document frequencies are exact."""
    clauses = _filter_clauses(scope, filters)
    padded = " " + func.coalesce(RagChunk.search_text, "") + " "
    matches = [padded.like(f"% {_like_escape(t)} %", escape="\\") for t in terms]
    rows = session.execute(select(RagChunk.id, RagChunk.search_text).where(*clauses, or_(*matches))).all()
    if not rows:
        return []
    n_docs = session.scalar(select(func.count()).select_from(RagChunk).where(*clauses)) or 0
    docs = {str(i): (t or "").split() for i, t in rows}
    return idf_overlap_rank(terms, docs, n_docs=n_docs, min_coverage=min_coverage)[:limit]


HYDRATED_COLUMNS = ("id", "source_type", "source_table", "source_pk", "conversation_global_id",
                    "message_global_id", "contact_global_id", "chunk_index", "text", "source_ts", "created_at")


class ChunkView(NamedTuple):
    """The chunk columns a search result shows (no ORM object: hydration is on the hot path)."""

    id: uuid.UUID
    source_type: str
    source_table: str
    source_pk: str
    conversation_global_id: str | None
    message_global_id: str | None
    contact_global_id: str | None
    chunk_index: int
    text: str
    source_ts: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class HydratedChunk:
    """A ``ready`` chunk with what its evidence needs from the source row (``None`` when absent)."""

    chunk: ChunkView
    message_account_id: int | None = None
    message_conversation_id: int | None = None
    message_contact_global_id: str | None = None
    message_created_at: datetime | None = None
    issue_url: str | None = None


def hydrate(session: Session, scope: Scope, *, ids: Sequence[str]) -> dict[str, HydratedChunk]:
    """``ready`` chunk rows of the scope by id, left-joined to their message / issue (§9.3 step 4).

    Ids of another project, of a non-ready chunk or of a deleted one (stale vectors) are absent.
    """
    uids = _uuids(ids)
    if not uids:
        return {}
    from shared.db.base import Base

    msg = Base.metadata.tables["cw_messages"]
    issue = Base.metadata.tables["linear_issues_raw"]
    chunk_cols = [getattr(RagChunk, c).label(c) for c in HYDRATED_COLUMNS]
    stmt = (
        select(*chunk_cols, msg.c.account_id, msg.c.conversation_id, msg.c.contact_global_id, msg.c.created_at,
               issue.c.data["url"].as_string())
        .outerjoin(msg, and_(msg.c.id == RagChunk.message_global_id, msg.c.project_id == RagChunk.project_id))
        .outerjoin(issue, and_(RagChunk.source_table == "linear_issues_raw", issue.c.id == RagChunk.source_pk,
                               issue.c.project_id == RagChunk.project_id))
        .where(RagChunk.id.in_(uids), RagChunk.embedding_status == "ready",
               RagChunk.project_id == scope.project_id, RagChunk.account_scope_id == scope.account_scope_id)
    )
    out = {}
    width = len(HYDRATED_COLUMNS)
    for row in session.execute(stmt):
        chunk = ChunkView(*row[:width])
        out[str(chunk.id)] = HydratedChunk(chunk, *row[width:])
    return out
