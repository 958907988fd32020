"""Shared builders for the KAG unit tests (no database, no Redis)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jobs.kag.context import ProjectContext

NOW = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
STUDIO = ProjectContext(project_name="Studio Redesign")
P4 = 0.0005  # tolerance for 4-dp values (kag.md §20)
P2 = 0.005  # tolerance for 2-dp values


def events(*specs: tuple[str, str, dict[str, Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`kag_events`-like rows with ascending ids in the listed order."""
    return [
        {
            "id": i,
            "event_type": event_type,
            "event_ts": ts,
            "subject_node_id": None,
            "payload": payload,
            "source_refs": refs,
            "rag_chunk_refs": [],
        }
        for i, (event_type, ts, payload, refs) in enumerate(specs, start=1)
    ]


def ids(refs: list[dict[str, Any]]) -> list[str]:
    """The primary id of each ref, for compact order assertions."""
    from jobs.kag.evidence import primary_id

    return [primary_id(r) for r in refs]
