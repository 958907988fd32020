"""Identity link suggestions and links (business.md §B3). Callers own the transaction.

The job reads ``cw_contacts``, ``attio_accounts_raw`` and ``linear_projects_raw`` of one project
(never across projects) and upserts suggestions; apply turns proposed suggestions into links.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared import timeutil
from shared.audit import write_audit_event
from shared.business.evidence import concat_refs
from shared.db.models.attio import AttioAccountRaw
from shared.db.models.chatwoot import CwContact
from shared.db.models.growth import IdentityLink, IdentityLinkSuggestion
from shared.db.models.linear import LinearProjectRaw
from shared.db.service.planned import upsert_planned
from shared.db.service.projects import dialect_insert
from shared.scope import Scope

ROW_LIMIT = 400
MAX_AUDIT_REFS = 50


# --- detector inputs ----------------------------------------------------------------------------
def _newest(session: Session, scope: Scope, model: Any, *columns: Any,
            where: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    stmt = (select(*columns).filter_by(**scope.as_filter()).where(*where)
            .order_by(model.updated_at.desc().nulls_last(), model.id).limit(ROW_LIMIT))
    return [dict(row._mapping) for row in session.execute(stmt)]


def identity_inputs(*, session: Session, scope: Scope) -> dict[str, list[dict[str, Any]]]:
    """Contacts (id, name, email), Attio accounts (id, name, domain), Linear projects (id, name)."""
    return {
        "contacts": _newest(session, scope, CwContact, CwContact.id, CwContact.name, CwContact.email),
        "accounts": _newest(session, scope, AttioAccountRaw, AttioAccountRaw.id, AttioAccountRaw.name,
                            AttioAccountRaw.domain, where=(AttioAccountRaw.deleted_at.is_(None),)),
        "projects": _newest(session, scope, LinearProjectRaw, LinearProjectRaw.id, LinearProjectRaw.name),
    }


# --- suggestions --------------------------------------------------------------------------------
def list_suggestions(*, session: Session, scope: Scope, status: str | None,
                     limit: int) -> list[IdentityLinkSuggestion]:
    stmt = select(IdentityLinkSuggestion).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(IdentityLinkSuggestion.status == status)
    stmt = stmt.order_by(IdentityLinkSuggestion.confidence.desc(), IdentityLinkSuggestion.updated_at.desc(),
                         IdentityLinkSuggestion.id).limit(limit)
    return list(session.scalars(stmt))


def upsert_suggestions(*, session: Session, scope: Scope, candidates: Iterable[Any], plan: Any,
                       now: datetime) -> int:
    """Upsert on ``(project_id, dedupe_key)``; ``plan(existing_dict, candidate)`` decides each.
    Returns ``stored`` = inserted + updated rows."""
    keyed = [(c.dedupe_key, c) for c in candidates]
    return len(upsert_planned(session=session, scope=scope, model=IdentityLinkSuggestion, keyed=keyed,
                              state=lambda row: {"status": row.status, "confidence": row.confidence}, plan=plan,
                              now=now))


def write_preview_audit(*, session: Session, scope: Scope, result: dict[str, Any], actor: str | None,
                        request_id: str | None) -> None:
    write_audit_event(session, scope, actor_username=actor, action="identity.preview",
                      entity_type="identity_link_suggestion", entity_id=str(scope.project_id),
                      request_id=request_id, payload={"generated": result["generated"], "stored": result["stored"]})


# --- links ----------------------------------------------------------------------------------------
def list_links(*, session: Session, scope: Scope, status: str | None, limit: int) -> list[IdentityLink]:
    stmt = select(IdentityLink).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(IdentityLink.status == status)
    stmt = stmt.order_by(IdentityLink.created_at.desc(), IdentityLink.id).limit(limit)
    return list(session.scalars(stmt))


def _upsert_link(session: Session, scope: Scope, suggestion: IdentityLinkSuggestion, actor: str | None,
                 now: datetime) -> uuid.UUID:
    insert = dialect_insert(session)
    stmt = insert(IdentityLink).values(
        id=uuid.uuid4(), project_id=scope.project_id, account_scope_id=scope.account_scope_id,
        left_entity_type=suggestion.left_entity_type, left_entity_id=suggestion.left_entity_id,
        right_entity_type=suggestion.right_entity_type, right_entity_id=suggestion.right_entity_id,
        status="active", source="suggestion", evidence_refs=list(suggestion.evidence_refs or []), created_by=actor,
        created_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "left_entity_type", "left_entity_id", "right_entity_type", "right_entity_id"],
        set_={"status": "active", "source": stmt.excluded.source, "evidence_refs": stmt.excluded.evidence_refs,
              "created_by": stmt.excluded.created_by},
    ).returning(IdentityLink.id)
    return session.execute(stmt).scalar_one()


def apply_suggestions(*, session: Session, scope: Scope, suggestion_ids: Sequence[str], actor: str | None,
                      request_id: str | None, now: datetime | None = None) -> list[IdentityLink]:
    """Turn the ``proposed`` suggestions among ``suggestion_ids`` into active links (others skipped)."""
    if not suggestion_ids:
        return []
    now = now or timeutil.utcnow()
    ids = [uuid.UUID(i) for i in suggestion_ids]
    rows = {row.id: row for row in session.scalars(
        select(IdentityLinkSuggestion).filter_by(**scope.as_filter()).where(IdentityLinkSuggestion.id.in_(ids))
        .order_by(IdentityLinkSuggestion.id).with_for_update())}
    proposed = [rows[i] for i in ids if i in rows and rows[i].status == "proposed"]
    if not proposed:
        return []
    link_ids = [_upsert_link(session, scope, s, actor, now) for s in proposed]
    for suggestion in proposed:
        suggestion.status, suggestion.updated_at = "applied", now
    session.flush()
    links = {link.id: link for link in session.scalars(
        select(IdentityLink).where(IdentityLink.id.in_(link_ids)).execution_options(populate_existing=True))}
    ordered = [links[i] for i in dict.fromkeys(link_ids)]
    write_audit_event(session, scope, actor_username=actor, action="identity.apply", entity_type="identity_link",
                      entity_id=str(scope.project_id), request_id=request_id, payload={"applied": len(proposed)},
                      evidence_refs=concat_refs((link.evidence_refs for link in ordered), limit=MAX_AUDIT_REFS))
    return ordered
