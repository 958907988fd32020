"""Chatwoot list routes (connectors-rag §10): contacts, conversations, messages of the active project.

Read-only, offset-paged (``limit + 1`` rows fill ``page.next_offset``). Attachment URLs, raw
``data`` and ``custom_attributes`` are never returned.
"""

from __future__ import annotations

from flask import Response

from shared.db.service import chatwoot as svc
from shared.scope import Scope
from web.api import route
from web.context import db
from web.envelope import ok
from web.inbox import bp
from web.inbox.schemas import (
    ContactsQuery,
    ConversationsQuery,
    MessagesQuery,
    contact_json,
    conversation_json,
    message_json,
)


@route(bp, "/contacts", query=ContactsQuery, summary="Chatwoot contacts, most recently updated first")
def list_contacts(scope: Scope, q: ContactsQuery) -> Response:
    page = svc.list_contacts(session=db(), scope=scope, q=q.q, limit=q.limit, offset=q.offset)
    return ok({"contacts": [contact_json(r) for r in page.items], "page": page.as_json()})


@route(bp, "/conversations", query=ConversationsQuery, summary="Chatwoot conversations, latest activity first")
def list_conversations(scope: Scope, q: ConversationsQuery) -> Response:
    page = svc.list_conversations(session=db(), scope=scope, status=q.status, contact_global_id=q.contact_global_id,
                                  limit=q.limit, offset=q.offset)
    return ok({"conversations": [conversation_json(r) for r in page.items], "page": page.as_json()})


@route(bp, "/messages", query=MessagesQuery, summary="Chatwoot messages, newest first")
def list_messages(scope: Scope, q: MessagesQuery) -> Response:
    page = svc.list_messages(session=db(), scope=scope, conversation_global_id=q.conversation_global_id,
                             limit=q.limit, offset=q.offset)
    return ok({"messages": [message_json(r) for r in page.items], "page": page.as_json()})
