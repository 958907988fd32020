"""Upsell radar rows (business.md §B1) and the inputs its detector reads. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import timeutil
from shared.audit import write_audit_event
from shared.db.models.attio import AttioOpportunityRaw
from shared.db.models.chatwoot import CwMessage
from shared.db.models.growth import UpsellOpportunity
from shared.db.service.planned import upsert_planned
from shared.errors import NotFound
from shared.scope import Scope

MESSAGE_WINDOW = timedelta(days=21)


# --- detector inputs ----------------------------------------------------------------------------
def recent_messages(*, session: Session, scope: Scope, now: datetime, limit: int,
                    window: timedelta = MESSAGE_WINDOW) -> list[dict[str, Any]]:
    """Non-private ``cw_messages`` of the last ``window``, newest first, at most ``limit``."""
    stmt = (select(CwMessage.id, CwMessage.conversation_global_id, CwMessage.contact_global_id, CwMessage.private,
                   CwMessage.content, CwMessage.created_at)
            .filter_by(**scope.as_filter())
            .where(CwMessage.private.is_(False), CwMessage.created_at >= now - window)
            .order_by(CwMessage.created_at.desc(), CwMessage.id.desc()).limit(limit))
    return [dict(row._mapping) for row in session.execute(stmt)]


def recent_attio_opportunities(*, session: Session, scope: Scope, limit: int) -> list[dict[str, Any]]:
    """The latest Attio raw opportunities (``updated_at`` desc, nulls last)."""
    stmt = (select(AttioOpportunityRaw.id, AttioOpportunityRaw.account_external_id, AttioOpportunityRaw.title,
                   AttioOpportunityRaw.stage, AttioOpportunityRaw.amount, AttioOpportunityRaw.updated_at)
            .filter_by(**scope.as_filter()).where(AttioOpportunityRaw.deleted_at.is_(None))  # live upstream
            .order_by(AttioOpportunityRaw.updated_at.desc().nulls_last(), AttioOpportunityRaw.id).limit(limit))
    return [dict(row._mapping) for row in session.execute(stmt)]


# --- rows -----------------------------------------------------------------------------------------
def list_upsell(*, session: Session, scope: Scope, status: str | None, limit: int) -> list[UpsellOpportunity]:
    stmt = select(UpsellOpportunity).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(UpsellOpportunity.status == status)
    stmt = stmt.order_by(UpsellOpportunity.score.desc(), UpsellOpportunity.updated_at.desc(),
                         UpsellOpportunity.id).limit(limit)
    return list(session.scalars(stmt))


def get_upsell(*, session: Session, scope: Scope, upsell_id: uuid.UUID, lock: bool = False) -> UpsellOpportunity | None:
    stmt = select(UpsellOpportunity).filter_by(id=upsell_id, **scope.as_filter())
    return session.scalar(stmt.with_for_update() if lock else stmt)


def get_upsell_or_raise(*, session: Session, scope: Scope, upsell_id: uuid.UUID,
                        lock: bool = False) -> UpsellOpportunity:
    row = get_upsell(session=session, scope=scope, upsell_id=upsell_id, lock=lock)
    if row is None:
        raise NotFound("upsell_not_found", "Upsell opportunity not found")
    return row


def set_status(*, session: Session, scope: Scope, upsell_id: uuid.UUID, status: str, actor: str | None,
               request_id: str | None) -> UpsellOpportunity:
    """Any status may move to any status (§B1); audited as ``upsell.status_update``."""
    row = get_upsell_or_raise(session=session, scope=scope, upsell_id=upsell_id, lock=True)
    row.status, row.updated_at = status, timeutil.utcnow()
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="upsell.status_update",
                      entity_type="upsell_opportunity", entity_id=str(row.id), request_id=request_id,
                      payload={"status": status}, evidence_refs=list(row.evidence_refs or []))
    return row


def upsert_candidates(*, session: Session, scope: Scope, candidates: Iterable[Any], plan: Any,
                      now: datetime) -> int:
    """Upsert detector candidates on ``(project_id, dedupe_key)``; ``plan(existing_dict, candidate)``
    decides each (insert / update / skip). Returns ``touched`` = inserted + updated rows."""
    keyed = [(c.dedupe_key(scope.project_id), c) for c in candidates]
    return len(upsert_planned(session=session, scope=scope, model=UpsellOpportunity, keyed=keyed,
                              state=lambda row: {"status": row.status, "score": row.score}, plan=plan, now=now))


def write_refresh_audit(*, session: Session, scope: Scope, result: dict[str, Any], actor: str | None,
                        request_id: str | None) -> None:
    write_audit_event(session, scope, actor_username=actor, action="upsell.refresh", entity_type="upsell_opportunity",
                      entity_id=str(scope.project_id), request_id=request_id, payload=result)
