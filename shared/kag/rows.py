"""Access to "row-like" inputs: dicts, dataclasses, SQLAlchemy `Row`s or ORM objects.

Every KAG stage takes rows read by a thin job handler. They may be plain dicts (tests, raw SQL
`mappings()`), SQLAlchemy `Row` objects (with `._mapping`) or ORM instances (attributes). `field`
reads one column uniformly so the pure stages never care which one they got.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["as_dict", "field", "index_by"]


def field(row: Any, name: str, default: Any = None) -> Any:
    """Value of column `name` of a row-like object; `default` when absent or None."""
    if row is None:
        return default
    if isinstance(row, Mapping):
        value = row.get(name, default)
    else:
        mapping = getattr(row, "_mapping", None)
        if isinstance(mapping, Mapping):
            value = mapping.get(name, default)
        else:
            value = getattr(row, name, default)
    return default if value is None else value


def as_dict(row: Any) -> dict[str, Any]:
    """A shallow plain-dict copy of a row-like object."""
    if row is None:
        return {}
    if isinstance(row, Mapping):
        return dict(row)
    mapping = getattr(row, "_mapping", None)
    if isinstance(mapping, Mapping):
        return dict(mapping)
    if dataclasses.is_dataclass(row) and not isinstance(row, type):
        to_row = getattr(row, "to_row", None)
        return dict(to_row()) if callable(to_row) else dataclasses.asdict(row)
    return {k: v for k, v in vars(row).items() if not k.startswith("_")}


def index_by(rows: Iterable[Any] | Mapping[str, Any] | None, key: str) -> dict[str, Any]:
    """Rows keyed by one column (later rows win). A mapping is returned as a dict unchanged."""
    if rows is None:
        return {}
    if isinstance(rows, Mapping):
        return dict(rows)
    out: dict[str, Any] = {}
    for row in rows:
        k = field(row, key)
        if k is not None:
            out[str(k)] = row
    return out
