"""Evidence references (kag.md §3) and the product rule "no evidence, no recommendation".

An evidence ref is a JSON object with the scalar keys of `REF_KEYS` (+ `metadata` on graph
objects). `normalize_ref` always returns every scalar key (null when absent), in `REF_KEYS` order,
so two refs that mean the same thing serialise to the same canonical JSON (the identity used for
dedupe outside the signal engine) and JSONB containment queries see one shape.

Decisions where the spec is silent:
- Scalar values are trimmed and cut to their max length; ints become strings (Chatwoot ids are
  numbers); booleans, lists and objects are treated as absent.
- `provenance_rows` nulls a `rag_chunk_id` that is not a UUID (the column is a UUID FK) and keeps the
  raw value in `metadata.rag_chunk_ref`; a row left without any id is skipped (table CHECK).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from jobs.kag.keys import canonical_json

__all__ = [
    "CAP_EVENT",
    "CAP_FORECAST",
    "CAP_GRAPH",
    "CAP_PROVENANCE",
    "CAP_SCORE",
    "CAP_SIGNAL_BUCKET",
    "CAP_V1",
    "CAP_V2",
    "ID_KEYS",
    "REF_KEYS",
    "GateResult",
    "chunk_ref",
    "gate_by_evidence",
    "is_publishable",
    "merge_refs",
    "no_evidence_details",
    "normalize_ref",
    "normalize_refs",
    "primary_id",
    "provenance_rows",
    "ref_links",
    "signal_identity",
    "signal_refs",
    "source_kind",
    "to_evidence_items",
]

ID_KEYS: tuple[str, ...] = ("message_id", "linear_issue_id", "attio_record_id", "doc_url", "rag_chunk_id")
REF_KEYS: tuple[str, ...] = ID_KEYS + ("source_table", "source_pk")
MAX_LEN: dict[str, int] = {
    "message_id": 200,
    "linear_issue_id": 200,
    "attio_record_id": 200,
    "doc_url": 2000,
    "rag_chunk_id": 200,
    "source_table": 200,
    "source_pk": 500,
}
_SOURCE_KIND = {
    "message_id": "chatwoot_message",
    "linear_issue_id": "linear_issue",
    "attio_record_id": "attio_record",
    "doc_url": "document",
    "rag_chunk_id": "rag_chunk",
}

CAP_GRAPH = 30
CAP_PROVENANCE = 60
CAP_EVENT = 15
CAP_SIGNAL_BUCKET = 20
CAP_SCORE = 60
CAP_V1 = 25
CAP_V2 = 30
CAP_FORECAST = 40

Ref = dict[str, Any]


def _scalar(value: Any, max_len: int) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        value = str(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    return text[:max_len] if text else None


def normalize_ref(obj: Any, *, keep_metadata: bool = True) -> Ref | None:
    """The normalised ref, or None when it is not an object or has none of the five ids."""
    if not isinstance(obj, Mapping):
        return None
    ref: Ref = {key: _scalar(obj.get(key), MAX_LEN[key]) for key in REF_KEYS}
    if not any(ref[key] for key in ID_KEYS):
        return None
    metadata = obj.get("metadata")
    if keep_metadata and isinstance(metadata, Mapping) and metadata:
        ref["metadata"] = dict(metadata)
    return ref


def normalize_refs(
    items: Iterable[Any] | None, cap: int | None = None, *, keep_metadata: bool = True
) -> list[Ref]:
    """Valid refs, deduped on canonical JSON (first occurrence kept), at most `cap`."""
    out: list[Ref] = []
    seen: set[str] = set()
    for item in items or ():
        ref = normalize_ref(item, keep_metadata=keep_metadata)
        if ref is None:
            continue
        identity = canonical_json(ref)
        if identity in seen:
            continue
        seen.add(identity)
        out.append(ref)
        if cap is not None and len(out) >= cap:
            break
    return out


def merge_refs(*lists: Iterable[Any] | None, cap: int | None = None) -> list[Ref]:
    """Concatenate ref lists in order, then `normalize_refs`."""
    chained: list[Any] = []
    for refs in lists:
        chained.extend(refs or ())
    return normalize_refs(chained, cap)


def signal_identity(ref: Mapping[str, Any]) -> str:
    """Signal-engine identity: the 7 scalar keys joined with `|` (nulls as empty)."""
    return "|".join(str(ref.get(key) or "") for key in REF_KEYS)


def signal_refs(items: Iterable[Any] | None, cap: int | None = None) -> list[Ref]:
    """Refs as the signal engine keeps them: no metadata, deduped on `signal_identity`."""
    out: list[Ref] = []
    seen: set[str] = set()
    for item in items or ():
        ref = normalize_ref(item, keep_metadata=False)
        if ref is None:
            continue
        identity = signal_identity(ref)
        if identity in seen:
            continue
        seen.add(identity)
        out.append(ref)
    if cap is not None:
        out = out[:cap]
    return out


def chunk_ref(chunk_id: Any) -> Ref | None:
    """`{rag_chunk_id, source_table:"rag_chunks", source_pk}` for one chunk id."""
    return normalize_ref({"rag_chunk_id": chunk_id, "source_table": "rag_chunks", "source_pk": chunk_id})


def primary_id(ref: Mapping[str, Any]) -> str:
    """First non-empty of the five ids ("" when none)."""
    for key in ID_KEYS:
        value = ref.get(key)
        if value:
            return str(value)
    return ""


def source_kind(ref: Mapping[str, Any]) -> str:
    """Provenance source kind: the first non-empty id decides; otherwise `manual`."""
    for key in ID_KEYS:
        if ref.get(key):
            return _SOURCE_KIND[key]
    return "manual"


def ref_links(refs: Iterable[Mapping[str, Any]], limit: int = 20) -> list[str]:
    """v2 links: per ref `doc_url`, `chatwoot://message/…`, `linear://issue/…`, `attio://record/…`."""
    links: list[str] = []
    for ref in refs:
        candidates = (
            ref.get("doc_url"),
            f"chatwoot://message/{ref['message_id']}" if ref.get("message_id") else None,
            f"linear://issue/{ref['linear_issue_id']}" if ref.get("linear_issue_id") else None,
            f"attio://record/{ref['attio_record_id']}" if ref.get("attio_record_id") else None,
        )
        for link in candidates:
            if link and link not in links:
                links.append(link)
    return links[:limit]


def to_evidence_items(refs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Hand-off to the platform audit helper / `evidence_items` (§3, platform §10)."""
    items: list[dict[str, Any]] = []
    for raw in refs:
        ref = normalize_ref(raw, keep_metadata=False)
        if ref is None:
            continue
        source = ref["source_table"] or source_kind(ref)
        pointer = ref["source_pk"] or primary_id(ref)
        meta = {
            key: ref[key]
            for key in REF_KEYS
            if ref[key]
            and not (key == "source_table" and ref["source_table"] == source)
            and not (key == "source_pk" and ref["source_pk"] == pointer)
        }
        items.append({"source": source, "ref": pointer, "snippet": None, "meta": meta})
    return items


def is_publishable(refs: Sequence[Any] | None) -> bool:
    return bool(normalize_refs(refs or (), 1))


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def provenance_rows(object_kind: str, object_id: str, refs: Iterable[Any]) -> list[dict[str, Any]]:
    """`kag_provenance_refs` rows (without scope columns) for one written object, ≤60."""
    rows: list[dict[str, Any]] = []
    for ref in normalize_refs(refs, CAP_PROVENANCE):
        metadata = dict(ref.get("metadata") or {})
        chunk = ref["rag_chunk_id"]
        if chunk and not _is_uuid(chunk):
            metadata["rag_chunk_ref"] = chunk
            chunk = None
        ids = {key: ref[key] for key in ID_KEYS}
        ids["rag_chunk_id"] = chunk
        if not any(ids.values()):
            continue
        rows.append(
            {
                "object_kind": object_kind,
                "object_id": str(object_id),
                "source_kind": source_kind(ref),
                **ids,
                "source_table": ref["source_table"],
                "source_pk": ref["source_pk"],
                "metadata": metadata,
            }
        )
    return rows


# --- the gate ---------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass
class GateResult(Generic[T]):
    kept: list[T] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


def gate_by_evidence(
    candidates: Iterable[T],
    *,
    evidence: Callable[[T], Sequence[Any]],
    category: Callable[[T], str],
) -> GateResult[T]:
    """Keep candidates with ≥1 valid evidence ref; count the dropped ones per category."""
    result: GateResult[T] = GateResult()
    for candidate in candidates:
        if normalize_refs(evidence(candidate), 1):
            result.kept.append(candidate)
        else:
            name = category(candidate)
            result.dropped[name] = result.dropped.get(name, 0) + 1
    return result


def no_evidence_details(stage: str, dropped: Mapping[str, int]) -> dict[str, Any]:
    """`details` of the `no_evidence_dropped` process warning."""
    return {"stage": stage, "dropped": dict(dropped), "categories": list(dropped)}
