"""Access to "row-like" inputs: dicts, dataclasses, SQLAlchemy `Row`s or ORM objects.

Defined once in `shared.kag.rows` (the web layer and the services use it too); re-exported here
for the KAG core.
"""

from __future__ import annotations

from shared.kag.rows import (
    as_dict,
    field,
    index_by,
)

__all__ = [
    "as_dict",
    "field",
    "index_by",
]
