"""Offer request shapes and the Offer object of business.md §A2 (validation rules in
``shared.business.offers``; the loose field types leave §0.4 parsing to them)."""

from __future__ import annotations

from typing import Any

from shared.db.models.business import Offer
from web.crm.schemas import field
from web.validation import Body, Limit, Query

_REFS = {"type": "array", "items": {}}


class OfferCreateBody(Body):
    title: Any = field({"type": "string"}, "required")
    subtotal: Any = field({"type": "number"}, "default 0, clamped to [0, 1e9], 2 dp")
    discount_pct: Any = field({"type": "number"}, "default 0, clamped to [0, 100], 2 dp")
    currency: Any = field({"type": "string"}, "default USD")
    account_id: Any = field({"type": "string", "format": "uuid"})
    opportunity_id: Any = field({"type": "string", "format": "uuid"})
    evidence_refs: Any = field(_REFS)


class ApprovalBody(Body):
    comment: Any = field({"type": "string"}, "at most 2000 characters")
    evidence_refs: Any = field(_REFS)


class OffersQuery(Query):
    limit: Limit(150, 500)


def offer_json(o: Offer) -> dict[str, Any]:
    return {"id": o.id, "account_id": o.account_id, "opportunity_id": o.opportunity_id, "title": o.title,
            "currency": o.currency, "subtotal": o.subtotal, "discount_pct": o.discount_pct, "total": o.total,
            "status": o.status, "generated_doc_url": o.generated_doc_url, "evidence_refs": o.evidence_refs or [],
            "created_by": o.created_by, "created_at": o.created_at, "updated_at": o.updated_at}
