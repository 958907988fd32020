"""Errors raised by the pure KAG core — defined once in `shared.kag.errors` (the web layer and the
services need them too) and re-exported here for the core's modules.

Each names the condition and carries the API error code of kag.md §16/§19 in `code` (and the HTTP
status in `status` / `http_status`); they are `KeelError`s, so `web/errors.py` maps them, and
`ValueError`s, so a handler that forgets one fails loudly.
"""

from __future__ import annotations

from shared.kag.errors import (
    InvalidFeedback,
    InvalidSnapshotDate,
    InvalidStatus,
    InvalidTransition,
    KagError,
)

__all__ = [
    "InvalidFeedback",
    "InvalidSnapshotDate",
    "InvalidStatus",
    "InvalidTransition",
    "KagError",
]
