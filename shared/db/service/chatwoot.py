"""Chatwoot rows (connectors-rag §3.5, §10, §15): idempotent upserts and the list reads.

Callers own the transaction. Every statement carries the scope: writes set ``project_id`` and
``account_scope_id`` from it, reads filter on both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.orm import Session, defer

from shared.db.models.chatwoot import CwAttachmentRaw, CwContact, CwConversation, CwInboxRaw, CwMessage
from shared.db.service.upserts import Upserted, upsert_rows
from shared.scope import Scope
from shared.timeutil import utcnow

INBOX_COMPARE = ("name", "channel_type", "data", "updated_at")
CONVERSATION_COMPARE = ("contact_global_id", "inbox_id", "status", "assignee_id", "data", "updated_at")
CONTACT_COMPARE = ("data", "updated_at", "name", "email", "phone_number", "identifier")
MESSAGE_COMPARE = ("data", "content", "updated_at", "contact_global_id", "sender_type", "sender_id", "private",
                   "message_type", "deleted")
ATTACHMENT_COMPARE = ("message_global_id", "conversation_global_id", "content_type", "file_size", "file_url",
                      "thumb_url", "payload", "updated_at")


# --- writes --------------------------------------------------------------------------------------
def upsert_inboxes(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, CwInboxRaw, scope, rows, compare=INBOX_COMPARE)


def upsert_conversations(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, CwConversation, scope, rows, compare=CONVERSATION_COMPARE)


def _not_older(table: Any, excluded: Any) -> Any:
    """A contact row is only replaced by an occurrence at least as recent (§3.5: greatest wins)."""
    return or_(table.c.updated_at.is_(None), excluded.updated_at.is_(None),
               excluded.updated_at >= table.c.updated_at)


def upsert_contacts(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, CwContact, scope, rows, compare=CONTACT_COMPARE, guard=_not_older)


def upsert_messages(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]], fresh: bool = False
                    ) -> Upserted:
    """Ids of the message rows inserted or changed (``synced_at`` is set on exactly those)."""
    return upsert_rows(session, CwMessage, scope, rows, compare=MESSAGE_COMPARE, keep=(),
                       coalesce_existing=("created_at",), on_change={"synced_at": utcnow()}, marker="synced_at",
                       none_present=fresh)


def upsert_attachments(*, session: Session, scope: Scope, rows: Sequence[dict[str, Any]]) -> Upserted:
    return upsert_rows(session, CwAttachmentRaw, scope, rows, compare=ATTACHMENT_COMPARE)


def known_max_message_id(*, session: Session, scope: Scope, conversation_global_id: str) -> int | None:
    """The highest stored message id of one conversation (forward-fetch position, §3.3)."""
    return known_max_message_ids(session=session, scope=scope, conversation_global_ids=[conversation_global_id]).get(
        conversation_global_id)


def known_max_message_ids(*, session: Session, scope: Scope, conversation_global_ids: Sequence[str]
                          ) -> dict[str, int]:
    """``known_max`` of many conversations in one query (conversations without messages are absent)."""
    out: dict[str, int] = {}
    ids = list(conversation_global_ids)
    for start in range(0, len(ids), 500):
        stmt = (select(CwMessage.conversation_global_id, func.max(CwMessage.message_id))
                .filter_by(**scope.as_filter()).where(CwMessage.conversation_global_id.in_(ids[start:start + 500]))
                .group_by(CwMessage.conversation_global_id))
        out.update({cid: mid for cid, mid in session.execute(stmt)})
    return out


def database_size(*, session: Session) -> int | None:
    """``pg_database_size`` of the current database (PostgreSQL only)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return int(session.scalar(text("SELECT pg_database_size(current_database())")) or 0)


# --- list reads (§10) ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Page:
    items: list[Any]
    limit: int
    offset: int
    has_more: bool

    @property
    def next_offset(self) -> int | None:
        return self.offset + self.limit if self.has_more else None

    def as_json(self) -> dict[str, int | None]:
        return {"limit": self.limit, "offset": self.offset, "next_offset": self.next_offset}


def _page(session: Session, stmt: Any, limit: int, offset: int) -> Page:
    rows = list(session.scalars(stmt.limit(limit + 1).offset(offset)))
    return Page(rows[:limit], limit, offset, len(rows) > limit)


def escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def list_contacts(*, session: Session, scope: Scope, q: str | None, limit: int, offset: int) -> Page:
    stmt = select(CwContact).options(defer(CwContact.data), defer(CwContact.custom_attributes)).filter_by(
        **scope.as_filter())
    if q:
        pattern = f"%{escape_like(q.lower())}%"
        stmt = stmt.where(or_(*(func.lower(col).like(pattern, escape="\\")
                                for col in (CwContact.name, CwContact.email, CwContact.phone_number))))
    stmt = stmt.order_by(CwContact.updated_at.desc().nulls_last(), CwContact.id.asc())
    return _page(session, stmt, limit, offset)


def list_conversations(*, session: Session, scope: Scope, status: str | None, contact_global_id: str | None,
                       limit: int, offset: int) -> Page:
    stmt = select(CwConversation).options(defer(CwConversation.data)).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(CwConversation.status == status)
    if contact_global_id is not None:
        stmt = stmt.where(CwConversation.contact_global_id == contact_global_id)
    stmt = stmt.order_by(func.coalesce(CwConversation.updated_at, CwConversation.created_at).desc(),
                         CwConversation.id.asc())
    return _page(session, stmt, limit, offset)


def list_messages(*, session: Session, scope: Scope, conversation_global_id: str | None, limit: int,
                  offset: int) -> Page:
    stmt = select(CwMessage).options(defer(CwMessage.data)).filter_by(**scope.as_filter())
    if conversation_global_id is not None:
        stmt = stmt.where(CwMessage.conversation_global_id == conversation_global_id)
    stmt = stmt.order_by(CwMessage.created_at.desc().nulls_last(), CwMessage.message_id.desc())
    return _page(session, stmt, limit, offset)
