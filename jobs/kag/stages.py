"""Deal-stage normalisation (connectors-rag.md §4.6) as KAG compares stages.

Wherever KAG compares a deal stage (won/lost node status, stage-change events, lost-like
outcomes, the similarity `stage_bucket`) it uses the normalised stage, never the raw title
(Attio's default won stage is titled `Won 🎉`). Keyword rules of kag.md that look for substrings
(`lost`, `churn`, `frozen`, `stalled`; `proposal`, `negotiation` …) are applied to the
normalised stage first and then to the lower-cased raw title, so both forms are recognised.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["is_closed_stage", "is_lost_like_stage", "normalize_deal_stage", "stage_bucket", "stage_slug"]

_NOT_WORD = re.compile(r"[^\w\s-]+", re.UNICODE)
_SEPARATORS = re.compile(r"[\s-]+")
_STAGE_MAP = {
    "won": "won",
    "closed_won": "won",
    "lost": "lost",
    "closed_lost": "lost",
    "proposal": "proposal",
    "proposal_sent": "proposal",
    "negotiation": "negotiation",
    "qualified": "qualified",
    "in_progress": "qualified",
}
LOST_LIKE = ("lost", "churn", "frozen", "stalled")


def stage_slug(raw: Any) -> str:
    """The stage title lower-cased, emoji/punctuation removed, spaces/hyphens → `_` (`Won 🎉` → `won`)."""
    if raw is None:
        return ""
    text = _NOT_WORD.sub("", str(raw).lower()).strip()
    return _SEPARATORS.sub("_", text).strip("_")


def normalize_deal_stage(raw: Any) -> str:
    """`won | lost | proposal | negotiation | qualified | discovery` (connectors-rag §4.6)."""
    return _STAGE_MAP.get(stage_slug(raw), "discovery")


def is_closed_stage(raw: Any) -> bool:
    return normalize_deal_stage(raw) in ("won", "lost")


def is_lost_like_stage(raw: Any) -> bool:
    """Normalised `lost`, or a raw title containing lost/churn/frozen/stalled (kag.md §11.2)."""
    if raw is None:
        return False
    lowered = str(raw).lower()
    return normalize_deal_stage(raw) == "lost" or any(word in lowered for word in LOST_LIKE)


def stage_bucket(raw: Any) -> str:
    """Similarity context bucket (kag.md §12.1): proposal/negotiation/won/lost, else discovery."""
    normalized = normalize_deal_stage(raw)
    if normalized in ("proposal", "negotiation", "won", "lost"):
        return normalized
    lowered = str(raw or "").lower()
    for word in ("proposal", "negotiation", "won", "lost"):
        if word in lowered:
            return word
    return "discovery"
