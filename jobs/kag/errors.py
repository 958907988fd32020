"""Errors raised by the pure KAG core.

Each names the condition and carries the API error code of kag.md §16/§19 in `code`, so the web
layer maps it to the envelope without string matching (`web/errors.py` is the only mapper; when
`shared/errors.py` exists these can be re-based on its `InvalidInput` / `Conflict` without changing
callers). All derive from `ValueError`, so a handler that forgets to catch one fails loudly.
"""

from __future__ import annotations

__all__ = [
    "InvalidFeedback",
    "InvalidSnapshotDate",
    "InvalidStatus",
    "InvalidTransition",
    "KagError",
]


class KagError(ValueError):
    code = "kag_error"
    http_status = 400

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class InvalidStatus(KagError):
    """A status missing, empty or outside the vocabulary of the artifact (400 `invalid_status`)."""

    code = "invalid_status"


class InvalidTransition(KagError):
    """A v2 lifecycle move the §14.2 matrix forbids (409 `invalid_transition`)."""

    code = "invalid_transition"
    http_status = 409


class InvalidFeedback(KagError):
    """A feedback body that cannot be understood (400 `invalid_feedback`)."""

    code = "invalid_feedback"


class InvalidSnapshotDate(KagError):
    """A malformed or future `snapshot_date` (400 `invalid_snapshot_date`)."""

    code = "invalid_snapshot_date"
