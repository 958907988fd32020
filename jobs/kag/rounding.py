"""Number helpers of kag.md §1: `rnd`, `fmt`, `clamp` and tolerant number coercion.

Defined once in `shared.kag.rounding` (the web layer and the services use it too); re-exported here
for the KAG core.
"""

from __future__ import annotations

from shared.kag.rounding import (
    clamp,
    fmt,
    rnd,
    to_int,
    to_number,
)

__all__ = [
    "clamp",
    "fmt",
    "rnd",
    "to_int",
    "to_number",
]
