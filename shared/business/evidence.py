"""Evidence refs (business.md §0.5): the business-side helpers around the platform's normalisation.

Normalisation and indexing have one implementation, the platform audit helper
(:func:`shared.audit.normalize_evidence_refs`, platform §10 wins on any difference); it is re-exported
here so business rules validate ``evidence_refs`` **before any write** (a bad value is a 400, never
a half-written request). This module adds only what business features need on top: reading the id
of a stored ref in either form, and concatenating the refs of several rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shared.audit import MAX_REFS, SNIPPET_MAX, normalize_evidence_refs
from shared.audit import infer_table as infer_source

__all__ = ["MAX_REFS", "SNIPPET_MAX", "concat_refs", "infer_source", "normalize_evidence_refs", "ref_id"]


def _clean_str(value: object) -> str | None:
    if value is None or isinstance(value, bool | dict | list):
        return None
    text = str(value).strip()
    return text or None


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
