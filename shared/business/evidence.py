"""Evidence refs (business.md §0.5, restating platform.md §10): validation, normalisation, indexing rows.

The platform audit helper (``shared.audit``) owns writing ``audit_events`` and ``evidence_items``;
these are the pure rules it and the business routes share. Routes call
:func:`normalize_evidence_refs` **before any write**, so a bad ``evidence_refs`` is a 400 and never
a half-written request.

Decisions where the spec is silent:

* A string ref that is blank after trimming is dropped (like an object without a ref).
* ``source`` is trimmed as well as lower-cased; a blank or non-string ``source`` falls back to
  ``source_type`` and then to the inferred table.
* Inside one indexing batch, duplicates on ``(source_table, source_pk)`` are merged exactly as the
  upsert would merge them one after another: the later ``source_type`` wins, and snippet/payload
  are replaced only by non-null values.
* ``meta`` is the element's own ``meta`` field when it is an object, else ``{}`` (platform §10's
  reading of §0.5 "meta = the object if it is a dict"; platform wins on differences).
* An empty ``meta`` indexes as ``payload=None`` ("nothing new"), so re-citing a bare string ref
  never wipes a payload stored earlier; the writer stores ``{}`` when inserting a None payload.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.business.errors import InvalidInput

__all__ = [
    "MAX_REFS",
    "SNIPPET_MAX",
    "concat_refs",
    "evidence_index_rows",
    "infer_source",
    "normalize_evidence_refs",
    "ref_id",
]

MAX_REFS = 50
SNIPPET_MAX = 1000

_PREFIX_TABLES = (("cwmsg:", "cw_messages"), ("cw:", "cw_conversations"), ("cwc:", "cw_contacts"))
_GLOBAL_ID_COLUMNS = {
    "cw_conversations": "conversation_global_id",
    "cw_messages": "message_global_id",
    "cw_contacts": "contact_global_id",
}


def infer_source(ref: str) -> str:
    """The table a ref points to, from its prefix (§0.5 table): also used as ``source_table``."""
    for prefix, table in _PREFIX_TABLES:
        if ref.startswith(prefix):
            return table
    if len(ref) == 36:
        return "rag_chunks"
    return "external"


def _clean_str(value: object) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


def _normalize_one(item: object) -> dict[str, Any] | None:
    if isinstance(item, str):
        ref = item.strip()
        if not ref:
            return None
        return {"source": infer_source(ref), "ref": ref, "snippet": None, "meta": {}}
    if isinstance(item, Mapping):
        ref = None
        for key in ("ref", "source_ref", "id"):
            ref = _clean_str(item.get(key))
            if ref:
                break
        if not ref:
            return None
        source = None
        for key in ("source", "source_type"):
            candidate = item.get(key)
            if isinstance(candidate, str) and candidate.strip():
                source = candidate.strip().lower()
                break
        snippet = item.get("snippet")
        meta = item.get("meta")
        return {
            "source": source or infer_source(ref),
            "ref": ref,
            "snippet": snippet[:SNIPPET_MAX] if isinstance(snippet, str) else None,
            "meta": dict(meta) if isinstance(meta, Mapping) else {},
        }
    return None


def normalize_evidence_refs(value: object) -> list[dict[str, Any]]:
    """Validate and normalise request ``evidence_refs``.

    Absent/None → ``[]``; a non-array → ``InvalidInput("invalid_evidence_refs")``. Each element
    becomes ``{source, ref, snippet, meta}``; unusable elements are dropped; duplicates on
    ``(source, ref)`` keep the first; at most 50 are kept.
    """
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise InvalidInput("invalid_evidence_refs", "evidence_refs must be an array")
    result: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in value:
        normalized = _normalize_one(item)
        if normalized is None:
            continue
        key = (normalized["source"], normalized["ref"])
        if key in seen:
            continue
        seen.add(key)
        result.append(normalized)
        if len(result) == MAX_REFS:
            break
    return result


def ref_id(ref: object) -> str | None:
    """The id of a stored ref in either form (bare string, or a normalised object's ``ref``)."""
    if isinstance(ref, str):
        return ref.strip() or None
    if isinstance(ref, Mapping):
        return _clean_str(ref.get("ref")) or _clean_str(ref.get("source_ref")) or _clean_str(ref.get("id"))
    return None


def concat_refs(ref_lists: Iterable[Iterable[Any] | None], *, limit: int) -> list[Any]:
    """Refs of several rows concatenated in order (as found, either form), the first ``limit``."""
    result: list[Any] = []
    for refs in ref_lists:
        for ref in refs or ():
            if len(result) >= limit:
                return result
            result.append(ref)
    return result


def evidence_index_rows(refs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``evidence_items`` upsert rows for normalised refs, one per ``(source_table, source_pk)``.

    Each row: ``source_type``, ``source_table``, ``source_pk``, ``snippet``, ``payload``,
    ``conversation_global_id``, ``message_global_id``, ``contact_global_id``.
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for ref in refs:
        pk = ref["ref"]
        table = infer_source(pk)
        meta = ref.get("meta")
        row = {
            "source_type": ref["source"],
            "source_table": table,
            "source_pk": pk,
            "snippet": ref.get("snippet"),
            "payload": meta if meta else None,
            "conversation_global_id": None,
            "message_global_id": None,
            "contact_global_id": None,
        }
        column = _GLOBAL_ID_COLUMNS.get(table)
        if column:
            row[column] = pk
        key = (table, pk)
        previous = rows.get(key)
        if previous is None:
            rows[key] = row
            continue
        previous["source_type"] = row["source_type"]
        for field in ("snippet", "payload"):
            if row[field] is not None:
                previous[field] = row[field]
    return list(rows.values())
