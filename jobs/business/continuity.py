"""Continuity preview (business.md §B2.1), the pure part of the ``continuity_preview`` job.

Turns open CRM deals' next steps and chat promises into follow-up candidates, upserted into
``continuity_actions`` on ``(project_id, dedupe_key)``. Applying them is synchronous and lives in
``shared/business/continuity.py``.

Decisions where the spec is silent: the CRM description is the trimmed next step; message
evidence and payload drop a missing conversation id from ``evidence_refs`` (bare ids only) but keep
``conversation_global_id: null`` in the payload; "last 21 days" means ``created_at ≥ now − 21 d``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.business.crm import is_open_opportunity_stage
from shared.business.dates import as_utc

__all__ = [
    "COMMITMENT_KEYWORDS",
    "ContinuityCandidate",
    "UpsertPlan",
    "continuity_dedupe_key",
    "detect_continuity_candidates",
    "detect_message_commitments",
    "detect_opportunity_followups",
    "plan_continuity_upsert",
]

COMMITMENT_KEYWORDS: tuple[str, ...] = ("we will", "i will", "promise", "commit", "deliver", "send by",
                                        "by friday", "next week")
OPPORTUNITY_LIMIT = 200
NEXT_STEP_MIN = 5
MESSAGE_WINDOW = timedelta(days=21)
MESSAGE_LIMIT = 300
MESSAGE_CHARS = 1200
DESCRIPTION_CHARS = 300


def continuity_dedupe_key(project_id: object, source_type: str, source_ref: str, title: str) -> str:
    """``sha1_hex(f"{project_id}:{source_type}:{source_ref}:{title}")``."""
    return hashlib.sha1(f"{project_id}:{source_type}:{source_ref}:{title}".encode()).hexdigest()


@dataclass(frozen=True)
class ContinuityCandidate:
    source_type: str  # crm | chatwoot
    source_ref: str
    title: str
    description: str
    preview_payload: dict[str, Any]
    evidence_refs: list[str]

    def dedupe_key(self, project_id: object) -> str:
        return continuity_dedupe_key(project_id, self.source_type, self.source_ref, self.title)


def _newest_first(rows: Iterable[Mapping[str, Any]], key: str) -> list[Mapping[str, Any]]:
    rows = list(rows)
    dated = sorted((r for r in rows if r.get(key) is not None), key=lambda r: as_utc(r[key]), reverse=True)
    return dated + [r for r in rows if r.get(key) is None]


def detect_opportunity_followups(opportunities: Iterable[Mapping[str, Any]]) -> list[ContinuityCandidate]:
    """The 200 most recently updated **open** CRM opportunities whose trimmed ``next_step`` has ≥ 5 characters."""
    open_opps = [o for o in opportunities if is_open_opportunity_stage(o.get("stage"))]
    result = []
    for opp in _newest_first(open_opps, "updated_at")[:OPPORTUNITY_LIMIT]:
        next_step = (opp.get("next_step") or "").strip()
        if len(next_step) < NEXT_STEP_MIN:
            continue
        title = (opp.get("title") or "").strip()
        close = opp.get("expected_close_date")
        opp_id = str(opp["id"])
        result.append(ContinuityCandidate(
            source_type="crm", source_ref=opp_id,
            title=f"Deal continuity: {title or 'Opportunity follow-up'}", description=next_step,
            preview_payload={"suggested_linear_title": f"Follow-up: {title or 'Opportunity'}",
                             "suggested_due_date": close.isoformat() if close is not None else None,
                             "from_opportunity_id": opp_id},
            evidence_refs=[opp_id]))
    return result


def detect_message_commitments(messages: Iterable[Mapping[str, Any]], *, now: datetime) -> list[ContinuityCandidate]:
    """Latest 300 non-private messages of the last 21 days (first 1200 characters) that contain a
    commitment phrase."""
    since = as_utc(now) - MESSAGE_WINDOW
    recent = [m for m in messages
              if not m.get("private") and m.get("created_at") is not None and as_utc(m["created_at"]) >= since]
    result = []
    for message in _newest_first(recent, "created_at")[:MESSAGE_LIMIT]:
        text = (message.get("content") or "")[:MESSAGE_CHARS]
        lowered = text.casefold()
        if not any(k in lowered for k in COMMITMENT_KEYWORDS):
            continue
        msg_id = str(message["id"])
        conversation = message.get("conversation_global_id")
        result.append(ContinuityCandidate(
            source_type="chatwoot", source_ref=msg_id, title="Message commitment follow-up",
            description=text[:DESCRIPTION_CHARS],
            preview_payload={"suggested_linear_title": "Follow-up on chat commitment", "from_message_id": msg_id,
                             "conversation_global_id": conversation},
            evidence_refs=[r for r in (msg_id, str(conversation) if conversation is not None else None) if r]))
    return result


def detect_continuity_candidates(*, opportunities: Iterable[Mapping[str, Any]],
                                 messages: Iterable[Mapping[str, Any]], now: datetime) -> list[ContinuityCandidate]:
    """Both detectors: CRM follow-ups first, then message commitments."""
    return detect_opportunity_followups(opportunities) + detect_message_commitments(messages, now=now)


@dataclass(frozen=True)
class UpsertPlan:
    action: str  # insert | update | skip
    values: dict[str, Any]


def plan_continuity_upsert(existing_status: str | None, candidate: ContinuityCandidate, *, project_id: object,
                           actor: str) -> UpsertPlan:
    """Insert as ``previewed`` with ``created_by`` = actor; on conflict refresh description, payload and
    refs only while the existing action is ``previewed`` or ``failed``."""
    content = {"description": candidate.description, "preview_payload": candidate.preview_payload,
               "evidence_refs": list(candidate.evidence_refs)}
    if existing_status is None:
        return UpsertPlan("insert", {**content, "source_type": candidate.source_type,
                                     "source_ref": candidate.source_ref, "title": candidate.title,
                                     "dedupe_key": candidate.dedupe_key(project_id), "status": "previewed",
                                     "created_by": actor})
    if existing_status in ("previewed", "failed"):
        return UpsertPlan("update", content)
    return UpsertPlan("skip", {})
