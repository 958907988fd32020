"""Request shapes and the upsell object of business.md §B1."""

from __future__ import annotations

from typing import Any

from shared.db.models.growth import UpsellOpportunity
from web.validation import Body, Limit, Query

LIST_FIELDS = (
    "id", "account_external_id", "source_ref", "title", "rationale", "score", "status", "suggested_offer_payload",
    "suggested_outbound_payload", "evidence_refs", "created_at", "updated_at",
)
FULL_FIELDS = ("id", "project_id", "account_scope_id", *LIST_FIELDS[1:-2], "dedupe_key", "created_at", "updated_at")


class RadarQuery(Query):
    status: str | None = None
    limit: Limit(100, 400)


class StatusIn(Body):
    status: Any = None


def upsell_json(row: UpsellOpportunity, *, full: bool = False) -> dict[str, Any]:
    return {name: getattr(row, name) for name in (FULL_FIELDS if full else LIST_FIELDS)}
