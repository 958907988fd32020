"""Chunking of source texts and the idempotent chunk-sync plan (connectors-rag §6).

Pure functions: the connector handler loads a source's existing ``rag_chunks`` rows, calls
``plan_source_chunks`` and applies the returned operations in its own transaction.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, NamedTuple

from shared.normalize import clean_text, env_int

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 0
MIN_EMBED_CHARS = 30
RAG_MAX_CHUNKS_PER_SOURCE = 50
RAG_SOURCE_TYPES = ("chatwoot_message", "attio_note", "linear_issue")

# Source fields carried by every chunk row (§6.2); refreshed in place when they change.
SOURCE_FIELDS = (
    "source_type",
    "source_table",
    "source_pk",
    "conversation_global_id",
    "message_global_id",
    "contact_global_id",
    "source_ts",
)
# Written when a chunk's text changes: it needs a new vector (§6.3 "reembedded").
EMBEDDING_RESET = {
    "embedding_status": "pending",
    "embedding_attempts": 0,
    "embedding_error": None,
    "embedding_provider": None,
    "embedding_model": None,
    "embedding_dim": None,
    "last_embedded_at": None,
}

_WS_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class ChunkingSettings:
    chunk_size: int = CHUNK_SIZE
    chunk_overlap: int = CHUNK_OVERLAP
    min_embed_chars: int = MIN_EMBED_CHARS
    max_chunks_per_source: int = RAG_MAX_CHUNKS_PER_SOURCE
    rag_sources: tuple[str, ...] = RAG_SOURCE_TYPES

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ChunkingSettings:
        """``CHUNK_SIZE``, ``CHUNK_OVERLAP``, ``MIN_EMBED_CHARS``, ``RAG_MAX_CHUNKS_PER_SOURCE``, ``RAG_SOURCES``."""
        size = env_int("CHUNK_SIZE", CHUNK_SIZE, 200, 4000, environ)
        raw_sources = environ.get("RAG_SOURCES")
        sources = RAG_SOURCE_TYPES
        if raw_sources is not None and raw_sources.strip():
            wanted = {s.strip() for s in raw_sources.split(",")}
            sources = tuple(s for s in RAG_SOURCE_TYPES if s in wanted)
        return cls(
            chunk_size=size,
            chunk_overlap=env_int("CHUNK_OVERLAP", CHUNK_OVERLAP, 0, size // 2, environ),
            min_embed_chars=env_int("MIN_EMBED_CHARS", MIN_EMBED_CHARS, 1, 2000, environ),
            max_chunks_per_source=env_int("RAG_MAX_CHUNKS_PER_SOURCE", RAG_MAX_CHUNKS_PER_SOURCE, 1, 1000, environ),
            rag_sources=sources,
        )


class Split(NamedTuple):
    chunks: list[str]
    dropped: int  # chunks beyond the per-source cap (``meta.chunks_dropped``)


def normalize_text(text: str) -> str:
    """``clean_text``, every Unicode whitespace run collapsed to one space, trimmed."""
    return _WS_RE.sub(" ", clean_text(text)).strip()


def split_text(
    text: str | None,
    *,
    chunk_size: int = CHUNK_SIZE,
    chunk_overlap: int = CHUNK_OVERLAP,
    min_chars: int = MIN_EMBED_CHARS,
    max_chunks: int = RAG_MAX_CHUNKS_PER_SOURCE,
) -> Split:
    """The §6.1 algorithm: fixed windows of ``chunk_size`` code points stepping ``size - overlap``."""
    if chunk_size < 1 or not 0 <= chunk_overlap < chunk_size:
        raise ValueError("need chunk_size >= 1 and 0 <= chunk_overlap < chunk_size")
    norm = normalize_text(text or "")
    if len(norm) < min_chars:
        return Split([], 0)
    step = chunk_size - chunk_overlap
    total = 1 if len(norm) <= chunk_size else 1 + math.ceil((len(norm) - chunk_size) / step)
    kept = min(total, max(0, max_chunks))
    return Split([norm[i * step:i * step + chunk_size] for i in range(kept)], total - kept)


def split_with(text: str | None, settings: ChunkingSettings) -> Split:
    return split_text(
        text,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        min_chars=settings.min_embed_chars,
        max_chunks=settings.max_chunks_per_source,
    )


def text_hash(text: str) -> str:
    """SHA-256 hex of the UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_tokens(text: str) -> int:
    return max(1, math.ceil(len(text) / 4))


class ChunkAction(StrEnum):
    INSERT = "insert"  # new chunk_index: insert as pending
    KEEP = "keep"  # same text and source fields: nothing to write
    REFRESH = "refresh"  # same text, changed source fields: update those fields, vector untouched
    REEMBED = "reembed"  # text changed: new text/hash/tokens, back to pending
    DELETE = "delete"  # chunk_index beyond the new list: delete the row and its vector


@dataclass(frozen=True)
class ChunkOp:
    """One row operation. INSERT values hold every column except ``id`` and the scope columns."""

    action: ChunkAction
    chunk_id: str
    chunk_index: int
    values: dict[str, Any] = field(default_factory=dict)  # columns to write (INSERT: the full row)


@dataclass(frozen=True)
class ChunkPlan:
    ops: tuple[ChunkOp, ...]
    chunks_dropped: int = 0

    def of(self, action: ChunkAction) -> list[ChunkOp]:
        return [op for op in self.ops if op.action is action]

    @property
    def deleted_ids(self) -> list[str]:
        """Row ids (= vector ids) to delete."""
        return [op.chunk_id for op in self.ops if op.action is ChunkAction.DELETE]

    @property
    def changed(self) -> bool:
        return any(op.action is not ChunkAction.KEEP for op in self.ops)

    def counts(self) -> dict[str, int]:
        """``inserted`` / ``reembedded`` / ``deleted`` / ``refreshed`` / ``unchanged`` / ``dropped``."""
        n = {a: 0 for a in ChunkAction}
        for op in self.ops:
            n[op.action] += 1
        return {
            "inserted": n[ChunkAction.INSERT],
            "reembedded": n[ChunkAction.REEMBED],
            "deleted": n[ChunkAction.DELETE],
            "refreshed": n[ChunkAction.REFRESH],
            "unchanged": n[ChunkAction.KEEP],
            "dropped": self.chunks_dropped,
        }


def _field(row: Any, name: str, default: Any = None) -> Any:
    if isinstance(row, Mapping):
        return row.get(name, default)
    return getattr(row, name, default)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, datetime) and isinstance(b, datetime):  # SQLite hands back naive UTC values
        a = a.replace(tzinfo=UTC) if a.tzinfo is None else a
        b = b.replace(tzinfo=UTC) if b.tzinfo is None else b
    return a == b


def _new_chunk_id() -> str:
    return str(uuid.uuid4())


def plan_chunk_sync(
    new_chunks: Sequence[str],
    existing: Iterable[Any],
    source_fields: Mapping[str, Any],
    *,
    chunks_dropped: int = 0,
    new_id: Callable[[], str] = _new_chunk_id,
) -> ChunkPlan:
    """The §6.3 table for one source.

    ``existing`` are that source's chunk rows (mappings or objects with ``id``, ``chunk_index``,
    ``text_hash`` and the source fields). ``source_fields`` are the values every chunk of the
    source should carry (any subset of ``SOURCE_FIELDS``).
    """
    by_index: dict[int, Any] = {}
    surplus: list[Any] = []
    for row in sorted(existing, key=lambda r: (_field(r, "chunk_index"), str(_field(r, "id")))):
        idx = _field(row, "chunk_index")
        if idx in by_index:  # cannot happen under the unique index; cleaned up anyway
            surplus.append(row)
        else:
            by_index[idx] = row
    wanted = {k: v for k, v in source_fields.items() if k in SOURCE_FIELDS}

    ops: list[ChunkOp] = []
    for i, text in enumerate(new_chunks):
        digest = text_hash(text)
        text_values = {"text": text, "text_hash": digest, "content_tokens": content_tokens(text)}
        row = by_index.pop(i, None)
        if row is None:
            values = {**wanted, "chunk_index": i, **text_values, **EMBEDDING_RESET}
            ops.append(ChunkOp(ChunkAction.INSERT, new_id(), i, values))
            continue
        changed = {k: v for k, v in wanted.items() if not _same(_field(row, k), v)}
        chunk_id = str(_field(row, "id"))
        if _field(row, "text_hash") != digest:
            ops.append(ChunkOp(ChunkAction.REEMBED, chunk_id, i, {**changed, **text_values, **EMBEDDING_RESET}))
        elif changed:
            ops.append(ChunkOp(ChunkAction.REFRESH, chunk_id, i, changed))
        else:
            ops.append(ChunkOp(ChunkAction.KEEP, chunk_id, i))
    for row in [*by_index.values(), *surplus]:
        ops.append(ChunkOp(ChunkAction.DELETE, str(_field(row, "id")), _field(row, "chunk_index")))
    return ChunkPlan(tuple(ops), chunks_dropped)


def plan_source_chunks(
    text: str | None,
    existing: Iterable[Any],
    source_fields: Mapping[str, Any],
    *,
    settings: ChunkingSettings | None = None,
    new_id: Callable[[], str] = _new_chunk_id,
) -> ChunkPlan:
    """Split a source's current text and plan its chunk rows.

    ``text=None`` (deleted message, archived issue) or a text below the minimum deletes every chunk.
    """
    chunks, dropped = split_with(text, settings or ChunkingSettings())
    return plan_chunk_sync(chunks, existing, source_fields, chunks_dropped=dropped, new_id=new_id)
