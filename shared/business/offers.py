"""Offers (business.md §A2): discount policy, totals, request validation and the state machine.

Serves ``POST /offers``, ``POST /offers/<id>/approve-discount`` and ``POST /offers/<id>/approve-send``;
tables ``offers`` and ``offer_approvals``. The approve routes lock the offer row, call
:func:`transition_offer` with its current status and, only if it returns, write the new status, the
audit event and the ``offer_approvals`` row. A refused transition raises before any write, so a
second approval never produces a second approval row.

State machine (§A2.2)::

    create, discount_pct >  T ──► draft ──approve_discount──► approved ──approve_send──► sent
    create, discount_pct <= T ─────────────────────────────► approved
    draft    + approve_send      → 409 discount_approval_required
    approved + approve_discount  → 409 offer_invalid_state
    sent / signed / rejected + any approval → 409 offer_invalid_state

Approval is gated on the **status**, so an offer that needed approval can only leave ``draft``
through ``approve_discount``: it cannot reach ``sent`` without an approval row.

Decisions where the spec is silent:

* When only ``opportunity_id`` is given, the offer takes the opportunity's account as its
  ``account_id`` (:func:`resolve_offer_references`), so offers always show under their client.
* Non-UUID ``account_id`` / ``opportunity_id`` are 404 ``account_not_found`` /
  ``opportunity_not_found`` (references that cannot exist); blank strings mean "not given".
* The discount threshold is compared after the discount is clamped and rounded to 2 dp, i.e. on
  the stored value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

from shared.business.errors import (
    DiscountApprovalRequired,
    InvalidInput,
    NotFound,
    OfferInvalidState,
)
from shared.business.evidence import normalize_evidence_refs
from shared.business.numbers import json_number, money, to_decimal
from shared.business.params import parse_bounded_number, parse_text, parse_uuid

__all__ = [
    "DEFAULT_DISCOUNT_APPROVAL_THRESHOLD_PCT",
    "ApprovalIn",
    "OfferAction",
    "OfferCreateIn",
    "OfferStatus",
    "OfferTransition",
    "approval_evidence",
    "initial_offer_status",
    "offer_create_audit_payload",
    "offer_total",
    "requires_discount_approval",
    "resolve_offer_references",
    "transition_offer",
    "validate_approval",
    "validate_offer_create",
]

DEFAULT_DISCOUNT_APPROVAL_THRESHOLD_PCT = Decimal(0)
TITLE_MAX = 500
CURRENCY_MAX = 6
COMMENT_MAX = 2000
SUBTOTAL_MAX = 1_000_000_000


class OfferStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    SIGNED = "signed"  # reserved terminal state (no v1 route sets it)
    REJECTED = "rejected"  # reserved terminal state


class OfferAction(StrEnum):
    """Approval actions, as stored in ``offer_approvals.action``."""

    APPROVE_DISCOUNT = "approve_discount"
    APPROVE_SEND = "approve_send"
    REJECT = "reject"  # reserved for the future signature/rejection flow


def _threshold(value: Decimal | int | float | str | None) -> Decimal:
    parsed = to_decimal(value)
    return DEFAULT_DISCOUNT_APPROVAL_THRESHOLD_PCT if parsed is None else parsed


def requires_discount_approval(discount_pct: Decimal | int | float | str,
                               threshold_pct: Decimal | int | float | str | None = None) -> bool:
    """§A2.1: approval is required iff ``discount_pct > threshold`` (default threshold 0)."""
    discount = to_decimal(discount_pct)
    return discount is not None and discount > _threshold(threshold_pct)


def initial_offer_status(discount_pct: Decimal | int | float | str,
                         threshold_pct: Decimal | int | float | str | None = None) -> OfferStatus:
    """``draft`` when the discount needs approval, else ``approved`` (auto-approved, no approval row)."""
    if requires_discount_approval(discount_pct, threshold_pct):
        return OfferStatus.DRAFT
    return OfferStatus.APPROVED


def offer_total(subtotal: Decimal | int | float | str, discount_pct: Decimal | int | float | str) -> Decimal:
    """``round_half_up(subtotal × (100 − discount_pct) / 100, 2)`` from the already rounded inputs
    (12000 at 10 % → 10800.00; 999.99 at 12.5 % → 874.99)."""
    sub = money(subtotal)
    disc = money(discount_pct)
    return money(sub * (Decimal(100) - disc) / Decimal(100))


@dataclass(frozen=True)
class OfferTransition:
    from_status: OfferStatus
    to_status: OfferStatus
    action: OfferAction

    @property
    def audit_action(self) -> str:
        """``offer.approve_discount`` / ``offer.approve_send``."""
        return f"offer.{self.action.value}"

    def audit_payload(self, *, discount_pct: Decimal | int | float | str) -> dict[str, Any]:
        """The audit payload of §E for this approval."""
        if self.action is OfferAction.APPROVE_DISCOUNT:
            return {"discount_pct": json_number(money(discount_pct))}
        return {"from_status": self.from_status.value, "to_status": self.to_status.value}


_TRANSITIONS: dict[tuple[OfferStatus, OfferAction], OfferStatus] = {
    (OfferStatus.DRAFT, OfferAction.APPROVE_DISCOUNT): OfferStatus.APPROVED,
    (OfferStatus.APPROVED, OfferAction.APPROVE_SEND): OfferStatus.SENT,
}


def transition_offer(status: str, action: str) -> OfferTransition:
    """Apply ``action`` to an offer in ``status`` (§A2.2), or raise.

    Raises ``DiscountApprovalRequired`` (409 ``discount_approval_required``) for approve-send on a
    draft, and ``OfferInvalidState`` (409 ``offer_invalid_state``) for every other refused pair,
    including an unknown status or action.
    """
    try:
        current = OfferStatus(status)
        act = OfferAction(action)
    except ValueError:
        raise OfferInvalidState(None, f"Cannot {action} an offer in status {status!r}",
                                from_status=str(status), event=str(action)) from None
    target = _TRANSITIONS.get((current, act))
    if target is not None:
        return OfferTransition(from_status=current, to_status=target, action=act)
    if current is OfferStatus.DRAFT and act is OfferAction.APPROVE_SEND:
        raise DiscountApprovalRequired(None, "The discount must be approved before the offer is sent",
                                       from_status=current.value, event=act.value)
    raise OfferInvalidState(None, f"Cannot {act.value} an offer in status {current.value!r}",
                            from_status=current.value, event=act.value)


# --- request validation -------------------------------------------------------------------------
@dataclass(frozen=True)
class OfferCreateIn:
    title: str
    subtotal: Decimal
    discount_pct: Decimal
    currency: str
    account_id: str | None
    opportunity_id: str | None
    evidence_refs: list[dict[str, Any]]
    total: Decimal
    status: OfferStatus


def _optional_reference(value: object, not_found_code: str, label: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    parsed = parse_uuid(value)
    if parsed is None:
        raise NotFound(not_found_code, f"{label} not found")
    return parsed


def validate_offer_create(body: Mapping[str, Any], *,
                          threshold_pct: Decimal | int | float | str | None = None) -> OfferCreateIn:
    """Validate ``POST /offers`` and derive ``total`` and the initial ``status``.

    400 ``invalid_offer_title`` / ``invalid_evidence_refs``; 404 ``account_not_found`` /
    ``opportunity_not_found`` for ids that are not UUIDs. Existence and the account/opportunity
    consistency are checked by :func:`resolve_offer_references` once the rows are loaded.
    """
    title = parse_text(body.get("title"), max_len=TITLE_MAX)
    if title is None:
        raise InvalidInput("invalid_offer_title", "title is required")
    subtotal = parse_bounded_number(body.get("subtotal"), default=0, lo=0, hi=SUBTOTAL_MAX, places=2)
    discount = parse_bounded_number(body.get("discount_pct"), default=0, lo=0, hi=100, places=2)
    currency = (parse_text(body.get("currency")) or "USD").upper()[:CURRENCY_MAX]
    account_id = _optional_reference(body.get("account_id"), "account_not_found", "Account")
    opportunity_id = _optional_reference(body.get("opportunity_id"), "opportunity_not_found", "Opportunity")
    refs = normalize_evidence_refs(body.get("evidence_refs"))
    return OfferCreateIn(title=title, subtotal=subtotal, discount_pct=discount, currency=currency,
                         account_id=account_id, opportunity_id=opportunity_id, evidence_refs=refs,
                         total=offer_total(subtotal, discount),
                         status=initial_offer_status(discount, threshold_pct))


def resolve_offer_references(*, account_id: str | None, opportunity_id: str | None, account_found: bool,
                             opportunity_account_id: str | None) -> str | None:
    """Check the loaded references of a new offer and return the offer's effective ``account_id``.

    ``account_found``: the account exists in this project (ignored when ``account_id`` is None).
    ``opportunity_account_id``: the opportunity's ``account_id`` if it exists in this project, else
    None (ignored when ``opportunity_id`` is None). Raises 404 ``account_not_found`` /
    ``opportunity_not_found`` or 400 ``offer_account_mismatch``.
    """
    if account_id is not None and not account_found:
        raise NotFound("account_not_found", "Account not found")
    if opportunity_id is None:
        return account_id
    if opportunity_account_id is None:
        raise NotFound("opportunity_not_found", "Opportunity not found")
    if account_id is not None and str(opportunity_account_id) != str(account_id):
        raise InvalidInput("offer_account_mismatch", "The opportunity belongs to another account")
    return str(opportunity_account_id)


def offer_create_audit_payload(offer: OfferCreateIn) -> dict[str, Any]:
    """Payload of ``offer.create``: ``{subtotal, discount_pct, total, status}`` as JSON numbers."""
    return {"subtotal": json_number(offer.subtotal), "discount_pct": json_number(offer.discount_pct),
            "total": json_number(offer.total), "status": offer.status.value}


@dataclass(frozen=True)
class ApprovalIn:
    comment: str | None
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)


def validate_approval(body: Mapping[str, Any]) -> ApprovalIn:
    """Body of both approve routes: ``comment`` (≤ 2000, empty → null) and ``evidence_refs``."""
    return ApprovalIn(comment=parse_text(body.get("comment"), max_len=COMMENT_MAX),
                      evidence_refs=normalize_evidence_refs(body.get("evidence_refs")))


def approval_evidence(request_refs: Sequence[Any], stored_refs: Sequence[Any] | None) -> list[Any]:
    """Audit evidence of an approval: the request refs if non-empty, otherwise the offer's refs."""
    return list(request_refs) if request_refs else list(stored_refs or [])
