"""Chunk sync for many sources at once (connectors-rag §6.3): the batch form of
``shared.db.service.rag.sync_source_chunks`` used by the connectors for a page of sources.

Same rules and counts as the one-source function, built from the same pieces (``plan_source_chunks``,
``chunking_settings``, ``normalize_for_index``, ``ChunkSyncCounts``), but with one ``SELECT`` for the
existing chunks of every source of the batch, one bulk ``INSERT`` and one ``DELETE``: a connector page
costs a handful of statements instead of two per source. Callers own the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import any_, bindparam, delete, insert, select, update
from sqlalchemy.orm import Session

from shared.chunking import RAG_SOURCE_TYPES, SOURCE_FIELDS, ChunkAction, ChunkingSettings, plan_source_chunks
from shared.db.models.rag import RagChunk
from shared.db.service.rag import ChunkSyncCounts, chunking_settings
from shared.lexical import normalize_for_index
from shared.scope import Scope
from shared.timeutil import utcnow

IN_BATCH = 500  # source pks per IN (...) lookup


@dataclass(frozen=True)
class ChunkSource:
    """One source's current text (None: the source must have no chunks) and its chunk source fields."""

    source_type: str
    source_table: str
    source_pk: str
    text: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    new: bool = False  # the source row was inserted in this transaction: it cannot have chunks yet


def sync_many_source_chunks(session: Session, scope: Scope, sources: Sequence[ChunkSource], *,
                            settings: ChunkingSettings | None = None) -> ChunkSyncCounts:
    """Bring the chunk rows of every source in line with its text; idempotent (§6.3)."""
    settings = settings or chunking_settings()
    for src in sources:
        if src.source_type not in RAG_SOURCE_TYPES:
            raise ValueError(f"unknown RAG source type {src.source_type!r}")
    wanted = [s for s in sources if s.source_type in settings.rag_sources]
    if not wanted:
        return ChunkSyncCounts()
    existing = _existing(session, scope, [s for s in wanted if not s.new])
    now = utcnow()
    inserts: list[dict[str, Any]] = []
    updates: list[tuple[str, dict[str, Any]]] = []
    deleted: list[str] = []
    totals = ChunkSyncCounts()
    for src in wanted:
        fields = {k: v for k, v in src.fields.items() if k in SOURCE_FIELDS}
        fields.update(source_type=src.source_type, source_table=src.source_table, source_pk=str(src.source_pk))
        plan = plan_source_chunks(src.text, existing.get((src.source_table, str(src.source_pk)), []), fields,
                                  settings=settings)
        for op in plan.ops:
            if op.action is ChunkAction.INSERT:
                inserts.append({"id": uuid.UUID(op.chunk_id), "project_id": scope.project_id,
                                "account_scope_id": scope.account_scope_id,
                                "search_text": normalize_for_index(op.values["text"]), "created_at": now,
                                "updated_at": now, **op.values})
            elif op.action in (ChunkAction.REEMBED, ChunkAction.REFRESH):
                values = dict(op.values, updated_at=now)
                if "text" in values:
                    values["search_text"] = normalize_for_index(values["text"])
                updates.append((op.chunk_id, values))
        deleted += plan.deleted_ids
        n = plan.counts()
        totals = totals + ChunkSyncCounts(
            inserted=n["inserted"], reembedded=n["reembedded"], deleted=n["deleted"],
            unchanged=n["unchanged"] + n["refreshed"], refreshed=n["refreshed"], dropped=n["dropped"],
            deleted_ids=tuple(plan.deleted_ids))
    table = RagChunk.__table__
    if deleted:
        session.execute(delete(table).where(table.c.id.in_([uuid.UUID(i) for i in deleted]),
                                            table.c.project_id == scope.project_id,
                                            table.c.account_scope_id == scope.account_scope_id))
    if inserts:
        by_keys: dict[tuple[str, ...], list[dict[str, Any]]] = {}
        for row in inserts:
            by_keys.setdefault(tuple(sorted(row)), []).append(row)
        for rows in by_keys.values():
            session.execute(insert(table), rows)
    for chunk_id, values in updates:
        session.execute(update(table).where(table.c.id == bindparam("chunk_id"),
                                            table.c.project_id == scope.project_id,
                                            table.c.account_scope_id == scope.account_scope_id).values(**values),
                        {"chunk_id": uuid.UUID(chunk_id)})
    return totals


def _existing(session: Session, scope: Scope, sources: Sequence[ChunkSource]) -> dict[tuple[str, str], list[Any]]:
    out: dict[tuple[str, str], list[Any]] = {}
    by_table: dict[str, list[str]] = {}
    for src in sources:
        by_table.setdefault(src.source_table, []).append(str(src.source_pk))
    columns = [RagChunk.id, RagChunk.chunk_index, RagChunk.text_hash, RagChunk.source_table,
               *(getattr(RagChunk, f) for f in SOURCE_FIELDS if f != "source_table")]
    postgres = session.get_bind().dialect.name == "postgresql"
    for source_table, pks in by_table.items():
        for start in range(0, len(pks), IN_BATCH):
            batch = pks[start:start + IN_BATCH]  # = ANY(array): one short statement whatever the batch size
            match = RagChunk.source_pk == any_(batch) if postgres else RagChunk.source_pk.in_(batch)
            stmt = select(*columns).filter_by(source_table=source_table, **scope.as_filter()).where(match)
            for row in session.execute(stmt).mappings():
                out.setdefault((source_table, row["source_pk"]), []).append(dict(row))
    return out
