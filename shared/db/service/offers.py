"""Offers and their approvals (business.md §A2). Callers own the transaction; functions flush only.

Approvals are atomic under concurrent requests on two layers: the offer row is read with
``SELECT … FOR UPDATE`` (a second request waits, then sees the new status and gets 409), and the
status change itself is a conditional ``UPDATE … WHERE status = <from>`` whose row count is checked,
so even a database without row locks (SQLite) can never apply one transition twice.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from shared.audit import write_audit_event
from shared.business.errors import NotFound, OfferInvalidState
from shared.business.numbers import to_decimal
from shared.business.offers import (
    DEFAULT_DISCOUNT_APPROVAL_THRESHOLD_PCT,
    ApprovalIn,
    OfferCreateIn,
    approval_evidence,
    offer_create_audit_payload,
    resolve_offer_references,
    transition_offer,
)
from shared.db.models.business import CrmAccount, CrmOpportunity, Offer, OfferApproval
from shared.scope import Scope
from shared.timeutil import utcnow

THRESHOLD_ENV = "OFFER_DISCOUNT_APPROVAL_THRESHOLD_PCT"


def discount_threshold(environ: Mapping[str, str]) -> Decimal:
    """``OFFER_DISCOUNT_APPROVAL_THRESHOLD_PCT`` (default 0; an unparseable value keeps the default,
    clamped into [0, 100])."""
    parsed = to_decimal(environ.get(THRESHOLD_ENV))
    if parsed is None:
        return DEFAULT_DISCOUNT_APPROVAL_THRESHOLD_PCT
    return max(Decimal(0), min(Decimal(100), parsed))


def list_offers(*, session: Session, scope: Scope, limit: int) -> list[Offer]:
    stmt = select(Offer).filter_by(**scope.as_filter()).order_by(Offer.updated_at.desc(), Offer.id).limit(limit)
    return list(session.scalars(stmt))


def get_offer(*, session: Session, scope: Scope, offer_id: uuid.UUID, for_update: bool = False) -> Offer | None:
    stmt = select(Offer).filter_by(id=offer_id, **scope.as_filter())
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def get_offer_or_raise(*, session: Session, scope: Scope, offer_id: uuid.UUID, for_update: bool = False) -> Offer:
    offer = get_offer(session=session, scope=scope, offer_id=offer_id, for_update=for_update)
    if offer is None:
        raise NotFound("offer_not_found", "Offer not found")
    return offer


def create_offer(*, session: Session, scope: Scope, offer_in: OfferCreateIn, actor: str | None,
                 request_id: str | None) -> Offer:
    """Check the references (404 / 400 ``offer_account_mismatch``), insert, audit ``offer.create``."""
    account_found = offer_in.account_id is not None and session.scalar(
        select(CrmAccount.id).filter_by(id=uuid.UUID(offer_in.account_id), **scope.as_filter())) is not None
    opportunity_account = None
    if offer_in.opportunity_id is not None:
        opportunity_account = session.scalar(select(CrmOpportunity.account_id).filter_by(
            id=uuid.UUID(offer_in.opportunity_id), **scope.as_filter()))
    account_id = resolve_offer_references(
        account_id=offer_in.account_id, opportunity_id=offer_in.opportunity_id, account_found=account_found,
        opportunity_account_id=str(opportunity_account) if opportunity_account is not None else None)
    offer = Offer(
        project_id=scope.project_id, account_scope_id=scope.account_scope_id,
        account_id=uuid.UUID(account_id) if account_id else None,
        opportunity_id=uuid.UUID(offer_in.opportunity_id) if offer_in.opportunity_id else None,
        title=offer_in.title, currency=offer_in.currency, subtotal=offer_in.subtotal,
        discount_pct=offer_in.discount_pct, total=offer_in.total, status=offer_in.status.value,
        evidence_refs=offer_in.evidence_refs, created_by=actor,
    )
    session.add(offer)
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="offer.create", entity_type="offer",
                      entity_id=str(offer.id), request_id=request_id, payload=offer_create_audit_payload(offer_in),
                      evidence_refs=offer_in.evidence_refs)
    return offer


def approve(*, session: Session, scope: Scope, offer_id: uuid.UUID, action: str, approval_in: ApprovalIn,
            actor: str | None, request_id: str | None) -> Offer:
    """Apply ``approve_discount`` / ``approve_send`` (§A2.2) with its audit event and approval row.

    A refused transition raises before any write (409 ``discount_approval_required`` /
    ``offer_invalid_state``), so a repeated approval never adds a second approval row.
    """
    offer = get_offer_or_raise(session=session, scope=scope, offer_id=offer_id, for_update=True)
    step = transition_offer(offer.status, action)
    now = utcnow()
    changed = session.execute(
        update(Offer).where(Offer.id == offer.id, Offer.status == step.from_status.value)
        .values(status=step.to_status.value, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:  # another transaction moved it first (only possible without row locks)
        raise OfferInvalidState(None, "The offer changed while it was being approved",
                                from_status=step.from_status.value, event=action)
    session.refresh(offer)
    audit = write_audit_event(
        session, scope, actor_username=actor, action=step.audit_action, entity_type="offer", entity_id=str(offer.id),
        request_id=request_id, payload=step.audit_payload(discount_pct=offer.discount_pct),
        evidence_refs=approval_evidence(approval_in.evidence_refs, offer.evidence_refs))
    session.add(OfferApproval(
        project_id=scope.project_id, account_scope_id=scope.account_scope_id, offer_id=offer.id,
        action=step.action.value, actor_username=actor or "unknown", comment=approval_in.comment,
        evidence_refs=approval_in.evidence_refs, audit_event_id=audit["id"],
    ))
    session.flush()
    return offer


def approvals(*, session: Session, scope: Scope, offer_id: uuid.UUID) -> list[OfferApproval]:
    stmt = (select(OfferApproval).filter_by(offer_id=offer_id, **scope.as_filter())
            .order_by(OfferApproval.created_at, OfferApproval.id))
    return list(session.scalars(stmt))

