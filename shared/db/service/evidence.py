"""Evidence search over ``evidence_items`` (business.md §B7). Read-only.

PostgreSQL matches the generated ``search_text`` tsvector with ``plainto_tsquery('simple', q)``; the
embedded SQLite default falls back to a case-insensitive substring match over the same fields
(platform §14).
"""

from __future__ import annotations

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session

from shared.db.models.platform import EvidenceItem
from shared.scope import Scope


def search_evidence(*, session: Session, scope: Scope, q: str, limit: int) -> list[EvidenceItem]:
    stmt = select(EvidenceItem).filter_by(**scope.as_filter())
    if session.get_bind().dialect.name == "postgresql":
        stmt = stmt.where(text("evidence_items.search_text @@ plainto_tsquery('simple', :q)").bindparams(q=q))
    else:
        escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(or_(*(func.lower(func.coalesce(column, "")).like(pattern, escape="\\") for column in (
            EvidenceItem.snippet, EvidenceItem.source_pk, EvidenceItem.conversation_global_id,
            EvidenceItem.message_global_id))))
    stmt = stmt.order_by(EvidenceItem.created_at.desc(), EvidenceItem.id).limit(limit)
    return list(session.scalars(stmt))
