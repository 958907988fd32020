"""Reads and audit rows of the Loops contact sync (business.md §B5). Scope-wide: every query is
limited to one account scope and to the selected projects of it. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.audit import write_audit_event
from shared.db.models.chatwoot import CwContact
from shared.db.models.growth import ContactChannelPolicy
from shared.db.models.platform import Project
from shared.scope import Scope


def scope_projects(*, session: Session, account_scope_id: uuid.UUID) -> list[dict[str, Any]]:
    """Projects of the account scope (id, name), oldest first."""
    stmt = (select(Project.id, Project.name).where(Project.account_scope_id == account_scope_id)
            .order_by(Project.created_at, Project.id))
    return [{"id": str(row.id), "name": row.name} for row in session.execute(stmt)]


def _uuids(project_ids: Sequence[str]) -> list[uuid.UUID]:
    return [uuid.UUID(str(p)) for p in project_ids]


def contacts_with_email(*, session: Session, account_scope_id: uuid.UUID,
                        project_ids: Sequence[str]) -> list[dict[str, Any]]:
    """``cw_contacts`` of the selected projects with a non-blank email, plus their project's name."""
    stmt = (select(CwContact.id, CwContact.name, CwContact.email, CwContact.project_id,
                   Project.name.label("project_name"))
            .join(Project, Project.id == CwContact.project_id)
            .where(CwContact.account_scope_id == account_scope_id, CwContact.project_id.in_(_uuids(project_ids)),
                   CwContact.email.is_not(None), func.trim(CwContact.email) != "")
            .order_by(CwContact.id))
    return [dict(row._mapping) for row in session.execute(stmt)]


def opted_out_email_refs(*, session: Session, account_scope_id: uuid.UUID, project_ids: Sequence[str]) -> list[str]:
    """``contact_global_id`` of every ``email`` policy with ``opted_out`` in the selected projects."""
    stmt = (select(ContactChannelPolicy.contact_global_id)
            .where(ContactChannelPolicy.account_scope_id == account_scope_id,
                   ContactChannelPolicy.project_id.in_(_uuids(project_ids)),
                   ContactChannelPolicy.channel == "email", ContactChannelPolicy.opted_out.is_(True)))
    return list(session.scalars(stmt))


def write_sync_audits(*, session: Session, account_scope_id: uuid.UUID, project_ids: Sequence[str], status: str,
                      payload: dict[str, Any], actor: str | None, request_id: str | None) -> int:
    """One ``loops.contacts_sync`` audit row per selected project."""
    for project_id in project_ids:
        write_audit_event(session, Scope.of(project_id, account_scope_id), actor_username=actor,
                          action="loops.contacts_sync", entity_type="integration", entity_id="loops",
                          status=status, request_id=request_id, payload=payload)
    return len(project_ids)
