"""Request shapes and the suggestion / link objects of business.md §B3."""

from __future__ import annotations

from typing import Any

from shared.db.models.growth import IdentityLink, IdentityLinkSuggestion
from web.validation import Body, Limit, Query

_PAIR = ("left_entity_type", "left_entity_id", "right_entity_type", "right_entity_id")
SUGGESTION_FIELDS = ("id", *_PAIR, "confidence", "reason", "status", "evidence_refs", "meta", "created_at",
                     "updated_at")
APPLIED_LINK_FIELDS = ("id", *_PAIR, "status", "source", "evidence_refs", "created_at")
LINK_FIELDS = ("id", *_PAIR, "status", "source", "evidence_refs", "created_by", "created_at")


class SuggestionsQuery(Query):
    status: str | None = None
    limit: Limit(50, 200)


class LinksQuery(Query):
    status: str | None = None
    limit: Limit(100, 400)


class PreviewIn(Body):
    limit: Any = None


class ApplyIn(Body):
    suggestion_ids: Any = None


def suggestion_json(row: IdentityLinkSuggestion) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SUGGESTION_FIELDS}


def link_json(row: IdentityLink, *, fields: tuple[str, ...] = LINK_FIELDS) -> dict[str, Any]:
    return {name: getattr(row, name) for name in fields}
