"""Request shapes and row shapes of the KAG v1 routes (kag.md §16.2, §16.3).

Query parameters follow the platform parsing rules: ``limit`` absent → route default, not an integer
→ ``400 invalid_limit``, out of range → clamped; enum filters are trimmed and lower-cased, empty = no
filter, unknown → ``400 invalid_<param>`` (``invalid_type`` / ``invalid_source`` / ``invalid_status``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.db.models.kag import (
    EVENT_LOG_SOURCES,
    EVENT_LOG_TYPES,
    PROPOSAL_STATUSES,
    KagEventLog,
    KagRecommendation,
    KagScore,
    KagSignal,
)
from web.validation import Body, Choice, Limit, Query

_INT = re.compile(r"^-?\d+$")


def IntParam(default: int, lo: int, hi: int, code: str) -> Any:  # noqa: N802 - a type factory
    """An integer query parameter: absent → default, not an integer → ``code``, else clamped."""
    def parse(value: Any) -> int:
        if value is None or value == "":
            return default
        text = value.strip() if isinstance(value, str) else value
        if isinstance(text, bool) or not (isinstance(text, int) or (isinstance(text, str) and _INT.match(text))):
            raise PydanticCustomError(code, f"{code.removeprefix('invalid_')} must be an integer")
        return max(lo, min(hi, int(text)))

    return Annotated[int, BeforeValidator(parse),
                     Field(default=default, json_schema_extra={"minimum": lo, "maximum": hi})]


# --- bodies ----------------------------------------------------------------------------------------
class EmptyBody(Body):
    """No input; the platform body rules still apply (415 / 400 invalid_json / invalid_body)."""


# --- queries ---------------------------------------------------------------------------------------
class SignalsQuery(Query):
    limit: Limit(100, 500)


class ScoresQuery(Query):
    limit: Limit(20, 100)


class RecommendationsQuery(Query):
    status: Choice(PROPOSAL_STATUSES, "invalid_status")
    limit: Limit(100, 500)


class EventsQuery(Query):
    type: Choice(EVENT_LOG_TYPES, "invalid_type")
    source: Choice(EVENT_LOG_SOURCES, "invalid_source")
    limit: Limit(200, 2000)


# --- row shapes (§16.3) -------------------------------------------------------------------------------
def signal_json(s: KagSignal) -> dict[str, Any]:
    return {"signal_key": s.signal_key, "value": s.value, "status": s.status, "threshold_warn": s.threshold_warn,
            "threshold_critical": s.threshold_critical, "details": s.details or {},
            "evidence_refs": s.evidence_refs or [], "computed_at": s.computed_at, "updated_at": s.updated_at}


def score_json(s: KagScore) -> dict[str, Any]:
    return {"score_type": s.score_type, "score": s.score, "level": s.level, "weights": s.weights or {},
            "thresholds": s.thresholds or {}, "factors": s.factors or [], "evidence_refs": s.evidence_refs or [],
            "computed_at": s.computed_at, "updated_at": s.updated_at}


def recommendation_json(r: KagRecommendation) -> dict[str, Any]:
    return {"id": r.id, "category": r.category, "priority": r.priority, "status": r.status, "title": r.title,
            "rationale": r.rationale, "suggested_template_key": r.suggested_template_key,
            "suggested_template": r.suggested_template, "evidence_refs": r.evidence_refs or [],
            "signal_snapshot": r.signal_snapshot or {}, "score_snapshot": r.score_snapshot or {},
            "created_at": r.created_at, "updated_at": r.updated_at}


def event_json(e: KagEventLog) -> dict[str, Any]:
    return {"id": e.id, "event_type": e.event_type, "occurred_at": e.occurred_at, "actor": e.actor,
            "source": e.source, "source_ref": e.source_ref, "source_url": e.source_url,
            "source_message_id": e.source_message_id, "source_linear_issue_id": e.source_linear_issue_id,
            "source_attio_record_id": e.source_attio_record_id, "payload_json": e.payload_json or {},
            "created_at": e.created_at}
