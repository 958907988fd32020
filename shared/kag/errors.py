"""Errors of the KAG rules, each carrying the API error code of kag.md §16/§19.

They are ``KeelError``s (so ``web/errors.py`` maps them to the envelope without string matching) and
``ValueError``s (so a caller that forgets one fails loudly). ``http_status`` is kept as an alias of
``status`` for the pure core's callers.
"""

from __future__ import annotations

from shared.errors import KeelError

__all__ = [
    "InvalidFeedback",
    "InvalidSnapshotDate",
    "InvalidStatus",
    "InvalidTransition",
    "KagError",
]


class KagError(KeelError, ValueError):
    status = 400
    code = "kag_error"

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(self.code, message, details=dict(details) or None)
        self.details = dict(details)

    @property
    def http_status(self) -> int:
        return self.status


class InvalidStatus(KagError):
    """A status missing, empty or outside the vocabulary of the artifact (400 `invalid_status`)."""

    code = "invalid_status"


class InvalidTransition(KagError):
    """A v2 lifecycle move the §14.2 matrix forbids (409 `invalid_transition`)."""

    code = "invalid_transition"
    status = 409


class InvalidFeedback(KagError):
    """A feedback body that cannot be understood (400 `invalid_feedback`)."""

    code = "invalid_feedback"


class InvalidSnapshotDate(KagError):
    """A malformed or future `snapshot_date` (400 `invalid_snapshot_date`)."""

    code = "invalid_snapshot_date"
