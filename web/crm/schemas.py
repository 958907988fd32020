"""CRM request shapes and the Account / Opportunity objects of business.md §A1.

Body fields are declared loosely (``Any``) on purpose: §0.4 parsing (trim, clamp, defaults) and the
spec's field-ordered error codes are the pure validators' job (``shared.business.crm``); the models
here name the fields for the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from shared.db.models.business import CrmAccount, CrmOpportunity
from web.validation import Body, Limit, Loose, Query

_STR = {"type": "string"}
_NUM = {"type": "number"}
_REFS = {"type": "array", "items": {}}


class AccountCreateBody(Body):
    name: Any = Loose(_STR, "required; at least 2 characters; stored cut to 300")
    domain: Any = Loose(_STR)
    stage: Any = Loose({"enum": ["prospect", "active", "inactive"]}, "default prospect")
    owner_username: Any = Loose(_STR, "default: the session user; empty → null")
    evidence_refs: Any = Loose(_REFS)


class OpportunityCreateBody(Body):
    title: Any = Loose(_STR, "required")
    account_id: Any = Loose({"type": "string", "format": "uuid"}, "required; an account of this project")
    next_step: Any = Loose(_STR, "required; at least 4 characters")
    stage: Any = Loose({"enum": ["discovery", "qualified", "proposal", "negotiation", "won", "lost"]})
    amount_estimate: Any = Loose(_NUM, "default 0, clamped to [0, 1e9]")
    probability: Any = Loose(_NUM, "default 0.1, clamped to [0, 1]")
    expected_close_date: Any = Loose({"type": "string", "format": "date"})
    owner_username: Any = Loose(_STR)
    evidence_refs: Any = Loose(_REFS)


class StageBody(Body):
    stage: Any = Loose({"enum": ["discovery", "qualified", "proposal", "negotiation", "won", "lost"]}, "required")
    reason: Any = Loose(_STR)
    evidence_refs: Any = Loose(_REFS)


class AccountsQuery(Query):
    limit: Limit(200, 500)


class OpportunitiesQuery(Query):
    stage: str | None = None
    limit: Limit(200, 500)


def account_json(a: CrmAccount) -> dict[str, Any]:
    return {"id": a.id, "name": a.name, "domain": a.domain, "external_ref": a.external_ref, "stage": a.stage,
            "owner_username": a.owner_username, "created_at": a.created_at, "updated_at": a.updated_at}


def opportunity_json(o: CrmOpportunity, account_name: str | None) -> dict[str, Any]:
    return {"id": o.id, "account_id": o.account_id, "account_name": account_name, "title": o.title,
            "stage": o.stage, "amount_estimate": o.amount_estimate, "probability": o.probability,
            "expected_close_date": o.expected_close_date, "next_step": o.next_step, "external_ref": o.external_ref,
            "owner_username": o.owner_username, "evidence_refs": o.evidence_refs or [], "created_at": o.created_at,
            "updated_at": o.updated_at}


def stage_result_json(o: CrmOpportunity) -> dict[str, Any]:
    return {"id": o.id, "title": o.title, "stage": o.stage, "amount_estimate": o.amount_estimate,
            "probability": o.probability, "expected_close_date": o.expected_close_date, "next_step": o.next_step,
            "updated_at": o.updated_at, "evidence_refs": o.evidence_refs or []}
