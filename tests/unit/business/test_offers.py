"""Offers: worked example G1, discount policy, validation and the state machine (business.md §A2)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.business.errors import (
    Conflict,
    DiscountApprovalRequired,
    InvalidInput,
    NotFound,
    OfferInvalidState,
)
from shared.business.offers import (
    OfferAction,
    OfferStatus,
    approval_evidence,
    initial_offer_status,
    offer_create_audit_payload,
    offer_total,
    requires_discount_approval,
    resolve_offer_references,
    transition_offer,
    validate_approval,
    validate_offer_create,
)


class OfferLedger:
    """Plays the route's transaction: only a returned transition writes status and an approval row."""

    def __init__(self, status: OfferStatus) -> None:
        self.status = status
        self.approvals: list[dict] = []
        self.audits: list[tuple[str, dict]] = []

    def approve(self, action: OfferAction, *, actor: str = "alice", comment: str | None = None,
                discount_pct: Decimal = Decimal(0)) -> None:
        transition = transition_offer(self.status, action)  # raises before any write
        self.status = transition.to_status
        self.audits.append((transition.audit_action, transition.audit_payload(discount_pct=discount_pct)))
        self.approvals.append({"action": transition.action.value, "actor_username": actor, "comment": comment,
                               "audit_event_id": len(self.audits)})


def test_g1_discount_approval_gates_sending() -> None:
    # 1. create: draft, total 10800.00, audit payload
    offer = validate_offer_create({"title": "Website redesign", "subtotal": 12000, "discount_pct": 10})
    assert offer.status == "draft"
    assert offer.total == Decimal("10800.00")
    assert offer_create_audit_payload(offer) == {"subtotal": 12000, "discount_pct": 10, "total": 10800,
                                                 "status": "draft"}
    ledger = OfferLedger(offer.status)

    # 2. approve-send on a draft: 409 discount_approval_required, nothing written
    with pytest.raises(DiscountApprovalRequired) as err:
        ledger.approve(OfferAction.APPROVE_SEND)
    assert (err.value.status, err.value.code) == (409, "discount_approval_required")
    assert ledger.status == "draft" and ledger.approvals == []

    # 3. approve-discount with a comment
    body = validate_approval({"comment": "Strategic client"})
    ledger.approve(OfferAction.APPROVE_DISCOUNT, comment=body.comment, discount_pct=offer.discount_pct)
    assert ledger.status == "approved"
    assert ledger.approvals == [{"action": "approve_discount", "actor_username": "alice",
                                 "comment": "Strategic client", "audit_event_id": 1}]
    assert ledger.audits[0] == ("offer.approve_discount", {"discount_pct": 10})

    # 4. approve-send: sent, 2 approval rows
    ledger.approve(OfferAction.APPROVE_SEND)
    assert ledger.status == "sent"
    assert [a["action"] for a in ledger.approvals] == ["approve_discount", "approve_send"]
    assert ledger.audits[1] == ("offer.approve_send", {"from_status": "approved", "to_status": "sent"})

    # 5. approve-send again: 409 offer_invalid_state, still 2 rows
    with pytest.raises(OfferInvalidState) as err:
        ledger.approve(OfferAction.APPROVE_SEND)
    assert (err.value.status, err.value.code) == (409, "offer_invalid_state")
    assert len(ledger.approvals) == 2

    # 6. no discount: auto-approved, send succeeds at once
    audit = validate_offer_create({"title": "Audit", "subtotal": 999.99, "discount_pct": 0})
    assert audit.status == "approved" and audit.total == Decimal("999.99")
    auto = OfferLedger(audit.status)
    auto.approve(OfferAction.APPROVE_SEND)
    assert auto.status == "sent" and [a["action"] for a in auto.approvals] == ["approve_send"]

    # 7. 874.99125 rounds half-up to 874.99
    x = validate_offer_create({"title": "X", "subtotal": 999.99, "discount_pct": 12.5})
    assert x.total == Decimal("874.99")


def test_total_rounds_half_up_not_bankers() -> None:
    assert offer_total(Decimal("0.05"), Decimal("50")) == Decimal("0.03")  # 0.025 → 0.03 (banker's: 0.02)
    assert offer_total(Decimal("100.10"), Decimal("50")) == Decimal("50.05")


@pytest.mark.parametrize(("raw", "stored", "status", "total"), [
    (150, Decimal("100.00"), "draft", Decimal("0.00")),
    (-3, Decimal("0.00"), "approved", Decimal("1000.00")),
    ("abc", Decimal("0.00"), "approved", Decimal("1000.00")),
    (None, Decimal("0.00"), "approved", Decimal("1000.00")),
    ("NaN", Decimal("0.00"), "approved", Decimal("1000.00")),
    ("12.345", Decimal("12.35"), "draft", Decimal("876.50")),
])
def test_discount_is_clamped_and_rounded(raw: object, stored: Decimal, status: str, total: Decimal) -> None:
    offer = validate_offer_create({"title": "T", "subtotal": 1000, "discount_pct": raw})
    assert (offer.discount_pct, offer.status, offer.total) == (stored, status, total)


def test_threshold_is_strictly_greater() -> None:
    assert not requires_discount_approval(Decimal("10"), Decimal("10"))
    assert requires_discount_approval(Decimal("10.01"), Decimal("10"))
    assert initial_offer_status(Decimal("10"), 10) == "approved"
    assert initial_offer_status(Decimal("0.01")) == "draft"  # default threshold 0
    assert initial_offer_status(0) == "approved"


def test_offer_field_rules() -> None:
    offer = validate_offer_create({"title": "  " + "t" * 600, "subtotal": -5, "currency": " eurozone "})
    assert offer.title == "t" * 500
    assert offer.subtotal == Decimal("0.00")
    assert offer.currency == "EUROZO"
    assert validate_offer_create({"title": "T", "currency": "  "}).currency == "USD"
    assert validate_offer_create({"title": "T", "subtotal": 2_000_000_000}).subtotal == Decimal("1000000000.00")


@pytest.mark.parametrize("title", [None, "", "   ", 5])
def test_offer_title_required(title: object) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_offer_create({"title": title})
    assert (err.value.status, err.value.code) == (400, "invalid_offer_title")


def test_offer_references() -> None:
    acc, opp, other = (str(uuid.uuid4()) for _ in range(3))
    with pytest.raises(NotFound) as err:
        validate_offer_create({"title": "T", "account_id": "not-a-uuid"})
    assert err.value.code == "account_not_found"
    with pytest.raises(NotFound) as err:
        validate_offer_create({"title": "T", "opportunity_id": "42"})
    assert err.value.code == "opportunity_not_found"
    assert validate_offer_create({"title": "T", "account_id": " "}).account_id is None

    with pytest.raises(NotFound) as err:
        resolve_offer_references(account_id=acc, opportunity_id=None, account_found=False, opportunity_account_id=None)
    assert err.value.code == "account_not_found"
    with pytest.raises(NotFound) as err:
        resolve_offer_references(account_id=acc, opportunity_id=opp, account_found=True, opportunity_account_id=None)
    assert err.value.code == "opportunity_not_found"
    with pytest.raises(InvalidInput) as err:
        resolve_offer_references(account_id=acc, opportunity_id=opp, account_found=True, opportunity_account_id=other)
    assert (err.value.status, err.value.code) == (400, "offer_account_mismatch")
    assert resolve_offer_references(account_id=None, opportunity_id=opp, account_found=False,
                                    opportunity_account_id=acc) == acc
    assert resolve_offer_references(account_id=acc, opportunity_id=None, account_found=True,
                                    opportunity_account_id=None) == acc


def test_evidence_refs_validated_before_write() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_offer_create({"title": "T", "evidence_refs": "cw:1"})
    assert err.value.code == "invalid_evidence_refs"
    offer = validate_offer_create({"title": "T", "evidence_refs": ["cw:1", "cw:1", {"ref": "cwmsg:2"}]})
    assert [r["ref"] for r in offer.evidence_refs] == ["cw:1", "cwmsg:2"]


def test_approval_body_and_evidence() -> None:
    body = validate_approval({"comment": "   ", "evidence_refs": None})
    assert body.comment is None and body.evidence_refs == []
    assert validate_approval({"comment": "c" * 3000}).comment == "c" * 2000
    stored = [{"source": "external", "ref": "x"}]
    assert approval_evidence([], stored) == stored
    assert approval_evidence([{"source": "cw_conversations", "ref": "cw:1"}], stored)[0]["ref"] == "cw:1"


@pytest.mark.parametrize(("status", "action", "error"), [
    ("draft", "approve_send", DiscountApprovalRequired),
    ("approved", "approve_discount", OfferInvalidState),
    ("sent", "approve_discount", OfferInvalidState),
    ("sent", "approve_send", OfferInvalidState),
    ("signed", "approve_send", OfferInvalidState),
    ("rejected", "approve_discount", OfferInvalidState),
    ("bogus", "approve_send", OfferInvalidState),
    ("approved", "reject", OfferInvalidState),
])
def test_every_refused_transition_raises_a_409(status: str, action: str, error: type[Conflict]) -> None:
    with pytest.raises(error) as err:
        transition_offer(status, action)
    assert err.value.status == 409
    assert isinstance(err.value, Conflict)


@given(discount=st.decimals(min_value=-50, max_value=250, allow_nan=False, places=2),
       threshold=st.decimals(min_value=0, max_value=100, allow_nan=False, places=2),
       actions=st.lists(st.sampled_from(list(OfferAction)), max_size=8))
def test_over_threshold_offer_never_reaches_sent_without_discount_approval(
        discount: Decimal, threshold: Decimal, actions: list[OfferAction]) -> None:
    offer = validate_offer_create({"title": "T", "subtotal": 100, "discount_pct": str(discount)},
                                  threshold_pct=threshold)
    status, applied = offer.status, []
    for action in actions:
        try:
            status = transition_offer(status, action).to_status
        except (DiscountApprovalRequired, OfferInvalidState):
            continue
        applied.append(action)
    if status == OfferStatus.SENT and offer.discount_pct > threshold:
        assert applied[:2] == [OfferAction.APPROVE_DISCOUNT, OfferAction.APPROVE_SEND]
    if offer.discount_pct > threshold:
        assert offer.status == OfferStatus.DRAFT
    assert applied.count(OfferAction.APPROVE_SEND) <= 1
