"""Offer request shapes and the Offer object of business.md §A2 (validation rules in
``shared.business.offers``; the loose field types leave §0.4 parsing to them)."""

from __future__ import annotations

from typing import Any

from shared.db.models.business import Offer
from web.validation import Body, Limit, Loose, Query

_REFS = {"type": "array", "items": {}}


class OfferCreateBody(Body):
    title: Any = Loose({"type": "string"}, "required")
    subtotal: Any = Loose({"type": "number"}, "default 0, clamped to [0, 1e9], 2 dp")
    discount_pct: Any = Loose({"type": "number"}, "default 0, clamped to [0, 100], 2 dp")
    currency: Any = Loose({"type": "string"}, "default USD")
    account_id: Any = Loose({"type": "string", "format": "uuid"})
    opportunity_id: Any = Loose({"type": "string", "format": "uuid"})
    evidence_refs: Any = Loose(_REFS)


class ApprovalBody(Body):
    comment: Any = Loose({"type": "string"}, "at most 2000 characters")
    evidence_refs: Any = Loose(_REFS)


class OffersQuery(Query):
    limit: Limit(150, 500)


def offer_json(o: Offer) -> dict[str, Any]:
    return {"id": o.id, "account_id": o.account_id, "opportunity_id": o.opportunity_id, "title": o.title,
            "currency": o.currency, "subtotal": o.subtotal, "discount_pct": o.discount_pct, "total": o.total,
            "status": o.status, "generated_doc_url": o.generated_doc_url, "evidence_refs": o.evidence_refs or [],
            "created_by": o.created_by, "created_at": o.created_at, "updated_at": o.updated_at}
