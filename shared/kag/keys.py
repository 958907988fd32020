"""Hashing and canonical JSON (kag.md §1) used for every natural/dedupe key in KAG."""

from __future__ import annotations

import hashlib
import json
from typing import Any

__all__ = ["canonical_json", "dedupe_key", "sha1hex"]


def sha1hex(text: str) -> str:
    """Lowercase hex SHA-1 of the UTF-8 string."""
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def canonical_json(obj: Any) -> str:
    """`json.dumps(obj, separators=(",", ":"), ensure_ascii=False)`; key order is the caller's."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def dedupe_key(category: str, ctx: dict[str, Any]) -> str:
    """`sha1hex("<category>:" + canonical_json(ctx))` (recommendations v1 §9 and v2 §14)."""
    return sha1hex(f"{category}:{canonical_json(ctx)}")
