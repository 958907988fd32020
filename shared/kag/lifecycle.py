"""Status vocabularies, the v2 recommendation lifecycle, feedback and `snapshot_date` parsing
(kag.md §14.2, §14.3, §16.2, §19) — pure functions shared by routes, services and the KAG core.

Input statuses are trimmed and lower-cased before validation (§1); a missing/empty/unknown value
raises `InvalidStatus`. v2 recommendations follow `new → acknowledged → done/dismissed` with reopen
to `new` (`check_v2_transition`); setting the current status again is a no-op (§19).

Decisions where the spec is silent:
- Feedback: `helpful` accepts the three vocabulary strings, JSON booleans (true → helpful,
  false → not_helpful) and null/absent (→ unknown, as §14.3 says); anything else is
  `InvalidFeedback`. A non-string `note` is `InvalidFeedback`; feedback also sets `updated_at`.
- `snapshot_date`: `YYYY-MM-DD`, or an ISO datetime (with `T`; naive = UTC) → its UTC date.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any

from shared.kag.errors import InvalidFeedback, InvalidSnapshotDate, InvalidStatus, InvalidTransition

__all__ = [
    "FEEDBACK_VALUES",
    "V2_STATUSES",
    "V2_TRANSITIONS",
    "HelpfulFeedback",
    "V2Status",
    "apply_v2_feedback",
    "apply_v2_status",
    "check_v2_transition",
    "parse_feedback",
    "parse_note",
    "parse_snapshot_date",
    "parse_status",
]


class V2Status(StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    DONE = "done"
    DISMISSED = "dismissed"


V2_STATUSES: tuple[str, ...] = tuple(s.value for s in V2Status)

# §14.2: from -> set of allowed targets (same status = no-op, handled separately).
V2_TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"acknowledged", "done", "dismissed"}),
    "acknowledged": frozenset({"new", "done", "dismissed"}),
    "done": frozenset({"new"}),
    "dismissed": frozenset({"new"}),
}


class HelpfulFeedback(StrEnum):
    UNKNOWN = "unknown"
    HELPFUL = "helpful"
    NOT_HELPFUL = "not_helpful"


FEEDBACK_VALUES: tuple[str, ...] = tuple(f.value for f in HelpfulFeedback)
NOTE_MAX = 2000


def parse_status(value: Any, allowed: tuple[str, ...], *, what: str = "status") -> str:
    """Trimmed, lower-cased status from `allowed`; raises `InvalidStatus` otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidStatus(f"{what} is required", allowed=list(allowed))
    status = value.strip().lower()
    if status not in allowed:
        raise InvalidStatus(
            f"{what} must be one of: {', '.join(allowed)}", value=value, allowed=list(allowed)
        )
    return status


def check_v2_transition(current: str, target: str) -> bool:
    """True when `current → target` changes the row, False for a no-op (same status).

    Raises `InvalidStatus` for a status outside the v2 vocabulary and `InvalidTransition` for a
    move the §14.2 matrix forbids (done/dismissed can only be reopened to `new`).
    """
    current = parse_status(current, V2_STATUSES, what="current status")
    target = parse_status(target, V2_STATUSES)
    if current == target:
        return False
    if target not in V2_TRANSITIONS[current]:
        raise InvalidTransition(
            f"cannot move a recommendation from {current} to {target}", current=current, target=target
        )
    return True


def apply_v2_status(row: Mapping[str, Any], target: Any, now: datetime) -> tuple[dict[str, Any], bool]:
    """(new row, changed). Same status → row untouched; forbidden move → `InvalidTransition`."""
    current = str(row.get("status") or V2Status.NEW.value)
    changed = check_v2_transition(current, target)
    if not changed:
        return dict(row), False
    status = str(target).strip().lower()
    new = dict(row)
    new["status"] = status
    new["updated_at"] = now
    if status == V2Status.DONE:
        new["completed_at"] = now
    elif status == V2Status.NEW:
        new["completed_at"] = None
    return new, True


def parse_feedback(helpful: Any) -> str:
    """`helpful | not_helpful | unknown` from a body value; raises `InvalidFeedback`."""
    if helpful is None:
        return HelpfulFeedback.UNKNOWN.value
    if isinstance(helpful, bool):
        return (HelpfulFeedback.HELPFUL if helpful else HelpfulFeedback.NOT_HELPFUL).value
    if isinstance(helpful, str):
        value = helpful.strip().lower()
        if not value:
            return HelpfulFeedback.UNKNOWN.value
        if value in FEEDBACK_VALUES:
            return value
    raise InvalidFeedback(f"helpful must be one of: {', '.join(FEEDBACK_VALUES)}", value=str(helpful))


def parse_note(note: Any) -> str | None:
    if note is None:
        return None
    if not isinstance(note, str):
        raise InvalidFeedback("note must be a string")
    text = note.strip()[:NOTE_MAX]
    return text or None


def apply_v2_feedback(row: Mapping[str, Any], body: Any, now: datetime) -> dict[str, Any]:
    """Feedback is independent of status and may be changed any time (§14.3)."""
    if not isinstance(body, Mapping):
        raise InvalidFeedback("feedback body must be an object")
    new = dict(row)
    new["helpful_feedback"] = parse_feedback(body.get("helpful"))
    new["feedback_note"] = parse_note(body.get("note"))
    new["updated_at"] = now
    return new


_FRACTION = re.compile(r"(\.\d{6})\d+")


def _utc_date_of(text: str) -> date | None:
    cleaned = _FRACTION.sub(r"\1", text)
    if cleaned.endswith(("z", "Z")):
        cleaned = cleaned[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    parsed = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    return parsed.date()


def parse_snapshot_date(value: Any, now: datetime) -> date | None:
    """`YYYY-MM-DD` or ISO datetime (→ its UTC date); None/empty → None (= today).

    Raises `InvalidSnapshotDate` for malformed values and dates after the UTC date of `now`.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InvalidSnapshotDate("snapshot_date must be a YYYY-MM-DD string", value=str(value))
    text = value.strip()
    parsed: date | None = None
    if len(text) == 10:
        try:
            parsed = date.fromisoformat(text)
        except ValueError:
            parsed = None
    elif "T" in text.upper():
        parsed = _utc_date_of(text)
    if parsed is None:
        raise InvalidSnapshotDate("snapshot_date must be YYYY-MM-DD or an ISO datetime", value=text)
    today = (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).astimezone(UTC).date()
    if parsed > today:
        raise InvalidSnapshotDate("snapshot_date is in the future", value=text)
    return parsed
