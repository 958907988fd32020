"""CRM rules (business.md §A1): stage vocabulary, request validation, stage transitions, overview.

Serves ``POST /crm/accounts``, ``POST /crm/opportunities``, ``POST /crm/opportunities/<id>/stage``,
``GET /crm/opportunities`` (stage filter) and ``GET /crm/overview``; tables ``crm_accounts``,
``crm_opportunities`` and ``crm_opportunity_stage_events``. The deal-stage normalisation of
connectors-rag.md §4.6 lives here too, because every open/won/lost comparison in business.md (and
the Attio CRM mirror) must use the **normalised** stage, never a vendor title such as ``Won 🎉``.

Decisions where the spec is silent:

* A non-UUID ``account_id`` on ``POST /crm/opportunities`` is reported as 404 ``account_not_found``
  at the position of the "(account check)" row, i.e. after ``evidence_refs`` has been validated
  (it is a reference that cannot exist). A missing/blank one is 400 ``invalid_account_id``.
* Account names are unique per project on the **stored** value: trimmed and cut to 300 characters,
  compared exactly (case-sensitive), as the database unique index compares them. ``"Acme"`` and
  ``"acme"`` may coexist; ``" Acme "`` and ``"Acme"`` may not.
* ``owner_username`` on accounts: absent/null → the session user; a blank string → null (§A1).
  On opportunities a blank string is "absent" (§0.4), so it also falls back to the session user.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from shared.business.errors import AccountNameConflict, InvalidInput, NotFound
from shared.business.evidence import normalize_evidence_refs
from shared.business.params import (
    parse_bounded_number,
    parse_enum,
    parse_iso_date,
    parse_text,
    parse_uuid,
)

__all__ = [
    "ACCOUNT_NAME_MAX",
    "ACCOUNT_STAGES",
    "CLOSED_STAGES",
    "OPPORTUNITY_STAGES",
    "AccountCreateIn",
    "OpportunityCreateIn",
    "StageChange",
    "StageUpdateIn",
    "crm_stage_for_deal",
    "ensure_account_name_available",
    "is_open_deal_stage",
    "is_open_opportunity_stage",
    "links_by_status",
    "mirror_account_stage",
    "normalize_account_stage",
    "normalize_opportunity_stage",
    "normalize_stage_title",
    "opportunity_by_stage",
    "opportunity_stage_filter",
    "stored_account_name",
    "transition_opportunity_stage",
    "validate_account_create",
    "validate_opportunity_create",
    "validate_stage_update",
]

ACCOUNT_STAGES: tuple[str, ...] = ("prospect", "active", "inactive")
#: Pipeline order (also the order of ``opportunity_by_stage``).
OPPORTUNITY_STAGES: tuple[str, ...] = ("discovery", "qualified", "proposal", "negotiation", "won", "lost")
CLOSED_STAGES: frozenset[str] = frozenset({"won", "lost"})

ACCOUNT_NAME_MAX = 300
ACCOUNT_DOMAIN_MAX = 300
OPPORTUNITY_TITLE_MAX = 500
NEXT_STEP_MIN = 4
NEXT_STEP_MAX = 1000
REASON_MAX = 1000
AMOUNT_MAX = 1_000_000_000

_DEAL_STAGE_MAP = {
    "won": "won",
    "closed_won": "won",
    "lost": "lost",
    "closed_lost": "lost",
    "proposal": "proposal",
    "proposal_sent": "proposal",
    "negotiation": "negotiation",
    "qualified": "qualified",
    "in_progress": "qualified",
}


# --- stage vocabulary ---------------------------------------------------------------------------
def normalize_stage_title(title: str | None) -> str | None:
    """connectors-rag §4.6: lower-case; emoji and punctuation removed; surrounding spaces removed;
    inner spaces, hyphens and underscores → one ``_``. ``"Won 🎉"`` → ``"won"``,
    ``"In Progress"`` → ``"in_progress"``, ``"closed-won"`` → ``"closed_won"``. None stays None."""
    if title is None:
        return None
    out: list[str] = []
    for char in unicodedata.normalize("NFKC", title).lower():
        category = unicodedata.category(char)
        if category[0] in "LN":
            out.append(char)
        elif char.isspace() or char in "-_":
            out.append(" ")
        # everything else (emoji, symbols, punctuation, marks) is dropped
    return "_".join("".join(out).split())


def crm_stage_for_deal(title: str | None) -> str:
    """The CRM opportunity stage for a vendor deal-stage title (connectors-rag §4.6 mapping);
    ``lead`` and anything unknown (including None) map to ``discovery``."""
    return _DEAL_STAGE_MAP.get(normalize_stage_title(title) or "", "discovery")


def is_open_deal_stage(title: str | None) -> bool:
    """§0.1 "open deal stage" for Attio raw opportunities: the normalised stage is not won/lost.
    A NULL stage counts as open."""
    return crm_stage_for_deal(title) not in CLOSED_STAGES


def is_open_opportunity_stage(stage: str | None) -> bool:
    """§0.1 for CRM opportunities: the (already normalised) stage is not ``won``/``lost``."""
    return (stage or "").strip().lower() not in CLOSED_STAGES


def mirror_account_stage(raw_stage: str | None) -> str:
    """connectors-rag §4.6: an Attio account stage lower-cased if it is an account stage, else prospect."""
    stage = (raw_stage or "").strip().lower()
    return stage if stage in ACCOUNT_STAGES else "prospect"


def normalize_account_stage(value: object, *, default: str | None = "prospect") -> str | None:
    """Trim + lower-case; absent → ``default``; unknown → 400 ``invalid_account_stage``."""
    return parse_enum(value, ACCOUNT_STAGES, error_code="invalid_account_stage", default=default)


def normalize_opportunity_stage(value: object, *, default: str | None = None) -> str:
    """Trim + lower-case (``"Won"`` → ``won``); absent without default or unknown → 400 ``invalid_stage``."""
    stage = parse_enum(value, OPPORTUNITY_STAGES, error_code="invalid_stage", default=default)
    if stage is None:
        raise InvalidInput("invalid_stage", f"stage must be one of: {', '.join(OPPORTUNITY_STAGES)}")
    return stage


def opportunity_stage_filter(value: object) -> str | None:
    """``GET /crm/opportunities?stage=``: lower-cased exact filter; empty → None (all). An unknown
    stage is returned as is, so the query matches nothing (an empty list, not a 400)."""
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None


# --- accounts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AccountCreateIn:
    name: str
    domain: str | None
    stage: str
    owner_username: str | None
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)
    external_ref: None = None  # always null on creation (reserved for connector linking)


def stored_account_name(value: object) -> str | None:
    """The account name as stored: trimmed, cut to 300; None when shorter than 2 characters."""
    name = parse_text(value)
    if name is None or len(name) < 2:
        return None
    return name[:ACCOUNT_NAME_MAX]


def validate_account_create(body: Mapping[str, Any], *, session_username: str | None) -> AccountCreateIn:
    """Validate ``POST /crm/accounts`` (§A1 table order). Raises ``InvalidInput`` with
    ``invalid_account_name`` / ``invalid_account_stage`` / ``invalid_evidence_refs``."""
    name = stored_account_name(body.get("name"))
    if name is None:
        raise InvalidInput("invalid_account_name", "name must have at least 2 characters")
    domain = parse_text(body.get("domain"), max_len=ACCOUNT_DOMAIN_MAX)
    stage = normalize_account_stage(body.get("stage"))
    raw_owner = body.get("owner_username")
    owner = session_username if raw_owner is None else parse_text(raw_owner)
    refs = normalize_evidence_refs(body.get("evidence_refs"))
    return AccountCreateIn(name=name, domain=domain, stage=stage or "prospect", owner_username=owner,
                           evidence_refs=refs)


def ensure_account_name_available(name: str, existing_names: Iterable[str]) -> None:
    """409 ``account_name_conflict`` if the stored ``name`` is already used in the project
    (exact, case-sensitive comparison of stored values)."""
    if name in set(existing_names):
        raise AccountNameConflict(None, f"An account named {name!r} already exists in this project")


# --- opportunities ------------------------------------------------------------------------------
@dataclass(frozen=True)
class OpportunityCreateIn:
    title: str
    account_id: str
    next_step: str
    stage: str
    amount_estimate: Decimal
    probability: Decimal
    expected_close_date: date | None
    owner_username: str | None
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)


def validate_opportunity_create(body: Mapping[str, Any], *,
                                session_username: str | None) -> OpportunityCreateIn:
    """Validate ``POST /crm/opportunities`` in the spec's field order.

    Errors: 400 ``invalid_opportunity_title``, ``invalid_account_id``, ``next_step_required``,
    ``invalid_stage``, ``invalid_expected_close_date``, ``invalid_evidence_refs``; 404
    ``account_not_found`` for a non-UUID ``account_id``. The caller then checks the account exists
    in the project (404 ``account_not_found`` as well).
    """
    title = parse_text(body.get("title"), max_len=OPPORTUNITY_TITLE_MAX)
    if title is None:
        raise InvalidInput("invalid_opportunity_title", "title is required")
    raw_account = body.get("account_id")
    if raw_account is None or (isinstance(raw_account, str) and not raw_account.strip()):
        raise InvalidInput("invalid_account_id", "account_id is required")
    next_step = parse_text(body.get("next_step"))
    if next_step is None or len(next_step) < NEXT_STEP_MIN:
        raise InvalidInput("next_step_required", "next_step must describe a concrete next step")
    stage = normalize_opportunity_stage(body.get("stage"), default="discovery")
    amount = parse_bounded_number(body.get("amount_estimate"), default=0, lo=0, hi=AMOUNT_MAX, places=2)
    probability = parse_bounded_number(body.get("probability"), default=Decimal("0.1"), lo=0, hi=1, places=4)
    close_date = parse_iso_date(body.get("expected_close_date"), error_code="invalid_expected_close_date")
    owner = parse_text(body.get("owner_username")) or session_username
    refs = normalize_evidence_refs(body.get("evidence_refs"))
    account_id = parse_uuid(raw_account)
    if account_id is None:
        raise NotFound("account_not_found", "Account not found")
    return OpportunityCreateIn(title=title, account_id=account_id, next_step=next_step[:NEXT_STEP_MAX],
                               stage=stage, amount_estimate=amount, probability=probability,
                               expected_close_date=close_date, owner_username=owner, evidence_refs=refs)


@dataclass(frozen=True)
class StageUpdateIn:
    stage: str
    reason: str | None
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)


def validate_stage_update(body: Mapping[str, Any]) -> StageUpdateIn:
    """Validate ``POST /crm/opportunities/<id>/stage`` (400 ``invalid_stage`` / ``invalid_evidence_refs``)."""
    stage = normalize_opportunity_stage(body.get("stage"))
    reason = parse_text(body.get("reason"), max_len=REASON_MAX)
    return StageUpdateIn(stage=stage, reason=reason, evidence_refs=normalize_evidence_refs(body.get("evidence_refs")))


@dataclass(frozen=True)
class StageChange:
    from_stage: str | None
    to_stage: str
    is_confirmation: bool  # requested the current stage: accepted and recorded explicitly

    def audit_payload(self, reason: str | None) -> dict[str, Any]:
        """Payload of ``crm.opportunity.stage_update``."""
        return {"from_stage": self.from_stage, "to_stage": self.to_stage, "reason": reason}


def transition_opportunity_stage(current: str | None, requested: object) -> StageChange:
    """The opportunity stage policy: any valid stage → any valid stage (re-opening won/lost is
    allowed; the current stage is an explicit confirmation). Raises 400 ``invalid_stage`` for an
    invalid target. Probability and amount are never changed here."""
    to_stage = normalize_opportunity_stage(requested)
    return StageChange(from_stage=current, to_stage=to_stage, is_confirmation=current == to_stage)


# --- overview -----------------------------------------------------------------------------------
def opportunity_by_stage(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """``opportunity_by_stage``: stages with count > 0, in pipeline order."""
    return [{"stage": stage, "count": int(counts[stage])}
            for stage in OPPORTUNITY_STAGES if counts.get(stage, 0) > 0]


def links_by_status(counts: Mapping[str, int]) -> list[dict[str, Any]]:
    """``links_by_status``: identity link counts grouped by status, ordered by status asc."""
    return [{"status": status, "count": int(count)} for status, count in sorted(counts.items()) if count > 0]
