"""Request shapes and row shapes of the legacy signal and NBA routes (kag.md §10, §16.2, §16.3).

One status vocabulary for the "proposal" artifacts: ``proposed, accepted, dismissed, done`` (legacy
signals, v1 recommendations); NBAs add ``cancelled``. ``severity_min`` follows the integer rule
(not an integer → ``400 invalid_severity_min``, else clamped to 1..5).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shared.db.models.kag import NBA_STATUSES, PROPOSAL_STATUSES, LegacySignal, NextBestAction
from web.kag.schemas import EmptyBody, IntParam
from web.validation import Body, Choice, Limit, Query

__all__ = ["EmptyBody", "LegacySignalsQuery", "NbaQuery", "NbaStatusBody", "SignalStatusBody", "legacy_signal_json",
           "nba_json"]


class SignalStatusBody(Body):
    """``status`` is parsed by the service (trimmed, lower-cased; else 400 ``invalid_status``)."""

    status: Any = Field(default=None, description="required", json_schema_extra={"enum": list(PROPOSAL_STATUSES)})


class NbaStatusBody(Body):
    """``status`` is parsed by the service (trimmed, lower-cased; else 400 ``invalid_status``)."""

    status: Any = Field(default=None, description="required", json_schema_extra={"enum": list(NBA_STATUSES)})


class LegacySignalsQuery(Query):
    status: Choice(PROPOSAL_STATUSES, "invalid_status")
    severity_min: IntParam(1, 1, 5, "invalid_severity_min")
    limit: Limit(100, 400)


class NbaQuery(Query):
    status: Choice(NBA_STATUSES, "invalid_status")
    limit: Limit(100, 400)


def legacy_signal_json(s: LegacySignal) -> dict[str, Any]:
    return {"id": s.id, "signal_type": s.signal_type, "severity": s.severity, "confidence": s.confidence,
            "summary": s.summary, "status": s.status, "source_kind": s.source_kind,
            "evidence_refs": s.evidence_refs or [], "created_at": s.created_at}


def nba_json(n: NextBestAction) -> dict[str, Any]:
    return {"id": n.id, "signal_id": n.signal_id, "action_type": n.action_type, "priority": n.priority,
            "status": n.status, "summary": n.summary, "due_date": n.due_date, "owner_username": n.owner_username,
            "evidence_refs": n.evidence_refs or [], "created_at": n.created_at, "updated_at": n.updated_at}
