"""Pieces every connector routine uses: record extraction, run counters, dedupe, chunk totals.

Pure apart from ``chunk_sync`` (which calls the RAG service inside the caller's transaction).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from shared.scope import Scope

T = TypeVar("T")


def dig(obj: Any, *path: str) -> Any:
    """``obj[p0][p1]…`` or None when any step is missing or not a mapping."""
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def records_at(payload: Any, paths: Sequence[Sequence[str]]) -> list[Any] | None:
    """The first list found at one of ``paths`` (in order), else None (a shape warning, §16)."""
    for path in paths:
        value = dig(payload, *path)
        if isinstance(value, list):
            return value
    return None


@dataclass
class RunStats:
    """Counters a run reports (``meta``): skipped items, shape warnings, warnings of optional steps."""

    counts: Counter[str] = field(default_factory=Counter)
    warnings: list[str] = field(default_factory=list)

    def add(self, key: str, n: int = 1) -> None:
        if n:
            self.counts[key] += n

    def upserted(self, entity: str, result: Any) -> set[Any]:
        """Count an upsert (``shared.db.service.upserts.Upserted``) as ``added_<entity>`` / ``updated_<entity>``;
        returns the ids it inserted or changed."""
        self.add(f"added_{entity}", result.inserted)
        self.add(f"updated_{entity}", result.updated)
        return set(result.ids)

    def prefixed(self, *prefixes: str) -> dict[str, int]:
        return {k: int(v) for k, v in sorted(self.counts.items()) if k.startswith(prefixes)}

    def __getitem__(self, key: str) -> int:
        return self.counts[key]

    def as_dict(self, *keys: str) -> dict[str, int]:
        return {k: int(self.counts[k]) for k in keys}


def dedupe_last(items: Iterable[T], key: Callable[[T], Hashable]) -> list[T]:
    """One item per key, the last occurrence winning, in first-seen order."""
    out: dict[Hashable, T] = {}
    for item in items:
        out[key(item)] = item
    return list(out.values())


def dedupe_latest(rows: Iterable[dict[str, Any]], *, key: str = "id", ts: str = "updated_at") -> list[dict[str, Any]]:
    """One row per ``key``: the greatest ``ts`` wins, ties (and unknown times) go to the later row (§3.5)."""
    best: dict[Any, dict[str, Any]] = {}
    for row in rows:
        current = best.get(row[key])
        if current is None or _not_older(row.get(ts), current.get(ts)):
            best[row[key]] = row
    return list(best.values())


def _not_older(new: datetime | None, old: datetime | None) -> bool:
    if new is None or old is None:
        return new is not None or old is None
    return new >= old


def max_ts(values: Iterable[datetime | None], default: datetime | None = None) -> datetime | None:
    known = [v for v in values if v is not None]
    return max(known) if known else default


@dataclass
class ChunkTotals:
    """Summed ``ChunkSyncCounts`` of a run (the §3.7 keys)."""

    inserted: int = 0
    reembedded: int = 0
    deleted: int = 0
    dropped: int = 0

    def add(self, counts: Any) -> None:
        self.inserted += counts.inserted
        self.reembedded += counts.reembedded
        self.deleted += counts.deleted
        self.dropped += getattr(counts, "dropped", 0)

    def as_meta(self) -> dict[str, int]:
        return {"inserted_chunks": self.inserted, "reembedded_chunks": self.reembedded,
                "deleted_chunks": self.deleted, "chunks_dropped": self.dropped}


def chunk_sync(session: Session, scope: Scope, totals: ChunkTotals, sources: Sequence[Any]) -> None:
    """Synchronise the RAG chunks (connectors-rag §6.3) of a page of sources in the caller's transaction.

    ``sources`` are ``shared.db.service.chunk_batches.ChunkSource`` values; one batch per page.
    """
    from shared.db.service.chunk_batches import sync_many_source_chunks

    if sources:
        totals.add(sync_many_source_chunks(session, scope, sources))
