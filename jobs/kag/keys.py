"""Hashing and canonical JSON (kag.md §1) used for every natural/dedupe key in KAG.

Defined once in `shared.kag.keys` (the web layer and the services use it too); re-exported here
for the KAG core.
"""

from __future__ import annotations

from shared.kag.keys import (
    canonical_json,
    dedupe_key,
    sha1hex,
)

__all__ = [
    "canonical_json",
    "dedupe_key",
    "sha1hex",
]
