"""Query schemas and item shapes of the Chatwoot list routes (connectors-rag §10)."""

from __future__ import annotations

from typing import Any

from pydantic import field_validator

from shared.db.models.chatwoot import CwContact, CwConversation, CwMessage
from web.validation import Choice, Limit, Offset, Query

CONVERSATION_STATUSES = ("open", "resolved", "pending", "snoozed")
SNIPPET_CHARS = 300


def _exact(value: Any) -> str | None:
    """An exact-match filter: absent or empty → no filter."""
    if value is None:
        return None
    value = str(value)
    return value if value != "" else None


class ContactsQuery(Query):
    limit: Limit(100, 500)
    offset: Offset
    q: str | None = None

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, value: Any) -> str | None:
        if value is None:
            return None
        value = str(value).strip()[:200]
        return value or None


class ConversationsQuery(Query):
    limit: Limit(100, 500)
    offset: Offset
    status: Choice(CONVERSATION_STATUSES, "invalid_status")
    contact_global_id: str | None = None

    _contact = field_validator("contact_global_id", mode="before")(lambda cls, v: _exact(v))


class MessagesQuery(Query):
    limit: Limit(100, 500)
    offset: Offset
    conversation_global_id: str | None = None

    _conversation = field_validator("conversation_global_id", mode="before")(lambda cls, v: _exact(v))


def contact_json(row: CwContact) -> dict[str, Any]:
    return {"id": row.id, "account_id": row.account_id, "contact_id": row.contact_id, "name": row.name,
            "email": row.email, "phone_number": row.phone_number, "identifier": row.identifier,
            "updated_at": row.updated_at}


def conversation_json(row: CwConversation) -> dict[str, Any]:
    return {"id": row.id, "account_id": row.account_id, "conversation_id": row.conversation_id,
            "contact_global_id": row.contact_global_id, "inbox_id": row.inbox_id, "status": row.status,
            "assignee_id": row.assignee_id, "updated_at": row.updated_at, "created_at": row.created_at}


def message_json(row: CwMessage) -> dict[str, Any]:
    return {"id": row.id, "conversation_global_id": row.conversation_global_id,
            "contact_global_id": row.contact_global_id, "sender_type": row.sender_type,
            "message_type": row.message_type, "private": row.private,
            "content_snippet": (row.content or "")[:SNIPPET_CHARS], "created_at": row.created_at,
            "updated_at": row.updated_at}
