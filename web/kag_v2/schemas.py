"""Request shapes and row shapes of the KAG v2 routes (kag.md §16.2, §16.3).

Query parameters follow the platform parsing rules: integers absent → route default, not an
integer → ``400 invalid_<param>``, out of range → clamped; ``window_days`` ∈ {7, 14, 30} else
``400 invalid_window_days``; booleans accept ``true/false/1/0`` (any case) else ``400 invalid_boolean``.
Body fields are declared loosely (``Any``) and parsed by the same rules, so a JSON ``14`` and ``"14"``
mean the same and a bad value maps to the spec's code rather than a generic one.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from shared.db.models.kag_v2 import (
    KagRiskForecast,
    PastCaseOutcome,
    ProjectSnapshot,
    RecommendationV2,
)
from shared.errors import InvalidInput
from shared.kag.lifecycle import V2_STATUSES
from web.validation import Body, Choice, Limit, Query

WINDOW_DAYS = (7, 14, 30)
_INT = re.compile(r"^-?\d+$")
_TRUE, _FALSE = {"true", "1"}, {"false", "0"}


def parse_int(value: Any, *, default: int, lo: int, hi: int, code: str) -> int:
    if value is None or value == "":
        return default
    is_int = isinstance(value, int) or (isinstance(value, str) and _INT.match(value.strip()) is not None)
    if isinstance(value, bool) or not is_int:
        raise InvalidInput(code, f"{code.removeprefix('invalid_')} must be an integer")
    return max(lo, min(hi, int(value)))


def parse_window(value: Any, default: int | None) -> int | None:
    if value is None or value == "":
        return default
    text = value.strip() if isinstance(value, str) else value
    if isinstance(text, bool) or str(text) not in {str(w) for w in WINDOW_DAYS}:
        raise InvalidInput("invalid_window_days", "window_days must be one of 7, 14, 30")
    return int(text)


def parse_project_id(value: Any) -> uuid.UUID | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        return uuid.UUID(str(value).strip())
    except ValueError:
        raise InvalidInput("invalid_project_id", "project_id must be a UUID") from None


def _int_param(default: int, maximum: int, code: str) -> Any:
    def parse(value: Any) -> int:
        try:
            return parse_int(value, default=default, lo=1, hi=maximum, code=code)
        except InvalidInput as exc:
            raise PydanticCustomError(code, exc.message) from None

    return Annotated[int, BeforeValidator(parse),
                     Field(default=default, json_schema_extra={"minimum": 1, "maximum": maximum})]


def _window_param(default: int) -> Any:
    def parse(value: Any) -> int:
        try:
            return parse_window(value, default) or default
        except InvalidInput as exc:
            raise PydanticCustomError("invalid_window_days", exc.message) from None

    return Annotated[int, BeforeValidator(parse), Field(default=default, json_schema_extra={"enum": list(WINDOW_DAYS)})]


def _bool_param(default: bool) -> Any:
    def parse(value: Any) -> bool:
        if value is None or value == "":
            return default
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise PydanticCustomError("invalid_boolean", "must be true/false/1/0")

    return Annotated[bool, BeforeValidator(parse), Field(default=default, json_schema_extra={"type": "boolean"})]


_UUID = {"type": "string", "format": "uuid"}


def _field(schema: dict[str, Any], description: str = "") -> Any:
    return Field(default=None, description=description or None, json_schema_extra=schema)


# --- bodies -----------------------------------------------------------------------------------------
class EmptyBody(Body):
    """No input; the platform body rules still apply (415 / 400 invalid_json / invalid_body)."""


class SnapshotRefreshBody(Body):
    snapshot_date: Any = _field({"type": "string", "format": "date"},
                                "YYYY-MM-DD or an ISO datetime (its UTC date); not in the future; default today")


class SimilarityRebuildBody(Body):
    project_id: Any = _field(_UUID, "a project of the caller's account scope; default the active project")
    window_days: Any = _field({"enum": list(WINDOW_DAYS)}, "absent = all three windows")


class ForecastRefreshBody(Body):
    window_days: Any = _field({"enum": list(WINDOW_DAYS)}, "default 14")
    top_k: Any = _field({"type": "integer", "minimum": 1, "maximum": 50}, "default 5")
    project_id: Any = _field(_UUID, "optional; must be the active project")


class StatusBody(Body):
    status: Any = _field({"enum": list(V2_STATUSES)}, "required")


class FeedbackBody(Body):
    helpful: Any = _field({"enum": ["helpful", "not_helpful", "unknown"]}, "missing → unknown")
    note: Any = _field({"type": "string"}, "trimmed, cut to 2000 characters; empty → null")


# --- queries ----------------------------------------------------------------------------------------
class SnapshotsQuery(Query):
    limit: Limit(30, 365)
    include_unpublished: _bool_param(False)


class OutcomesQuery(Query):
    outcome_type: str | None = None
    limit: Limit(100, 1000)


class SimilarCasesQuery(Query):
    project_id: str | None = None
    window_days: _window_param(14)
    top_k: _int_param(5, 50, "invalid_top_k")


class ForecastQuery(Query):
    window_days: _window_param(14)
    top_k: _int_param(3, 50, "invalid_top_k")
    include_unpublished: _bool_param(False)


class RecommendationsQuery(Query):
    status: Choice(V2_STATUSES, "invalid_status")
    limit: Limit(100, 1000)
    all_projects: _bool_param(False)
    mark_shown: _bool_param(True)


# --- row shapes (§16.3) -------------------------------------------------------------------------------
def snapshot_json(s: ProjectSnapshot) -> dict[str, Any]:
    return {"id": s.id, "snapshot_date": s.snapshot_date, "signals_json": s.signals_json,
            "normalized_signals_json": s.normalized_signals_json, "scores_json": s.scores_json,
            "key_aggregates_json": s.key_aggregates_json, "publishable": s.publishable, "created_at": s.created_at}


def outcome_json(o: PastCaseOutcome) -> dict[str, Any]:
    return {"id": o.id, "outcome_type": o.outcome_type, "occurred_at": o.occurred_at, "severity": o.severity,
            "notes": o.notes, "evidence_refs": o.evidence_refs or [], "source_event_id": o.source_event_id,
            "created_at": o.created_at}


def forecast_json(f: KagRiskForecast) -> dict[str, Any]:
    return {"risk_type": f.risk_type, "probability_7d": f.probability_7d, "probability_14d": f.probability_14d,
            "probability_30d": f.probability_30d, "expected_time_to_risk_days": f.expected_time_to_risk_days,
            "confidence": f.confidence, "top_drivers": f.top_drivers or [], "similar_cases": f.similar_cases or [],
            "evidence_refs": f.evidence_refs or [], "publishable": f.publishable, "model": f.model,
            "generated_at": f.generated_at, "updated_at": f.updated_at}


def recommendation_json(r: RecommendationV2, *, project_name: str | None = None,
                        badge_color: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": r.id, "project_id": r.project_id, "category": r.category, "priority": r.priority,
        "due_date": r.due_date, "owner_role": r.owner_role, "status": r.status, "title": r.title,
        "rationale": r.rationale, "why_now": r.why_now, "expected_impact": r.expected_impact,
        "evidence_refs": r.evidence_refs or [], "links": r.links or [],
        "suggested_template_key": r.suggested_template_key, "suggested_template": r.suggested_template,
        "helpful_feedback": r.helpful_feedback, "feedback_note": r.feedback_note,
        "signal_snapshot": r.signal_snapshot or {}, "forecast_snapshot": r.forecast_snapshot or {},
        "shown_count": r.shown_count, "first_shown_at": r.first_shown_at, "last_shown_at": r.last_shown_at,
        "completed_at": r.completed_at, "created_at": r.created_at, "updated_at": r.updated_at,
    }
    if badge_color is not None:
        out["project_name"] = project_name
        out["project_badge_color"] = badge_color
    return out
