"""Request shapes and the continuity action object of business.md §B2."""

from __future__ import annotations

from typing import Any

from shared.db.models.growth import ContinuityAction
from web.validation import Body, Limit, Query

FIELDS = (
    "id", "source_type", "source_ref", "title", "description", "preview_payload", "linear_issue_external_id",
    "status", "evidence_refs", "created_by", "created_at", "updated_at",
)


class ActionsQuery(Query):
    status: str | None = None
    limit: Limit(100, 400)


class ApplyIn(Body):
    action_ids: Any = None


def action_json(row: ContinuityAction) -> dict[str, Any]:
    return {name: getattr(row, name) for name in FIELDS}
