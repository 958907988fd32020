"""Chatwoot application API emulator (spec connectors-rag §3.2, §17).

Served under `/chatwoot`: inboxes, conversations (page size 25, `status` defaults to `open`,
`all` returns every status, most recent activity first) and messages (`before`/`after` id cursors).
Fixture items are stored and served verbatim; the builders below produce the vendor's shapes.
"""

from __future__ import annotations

import math
import uuid
from typing import Any, Protocol

from flask import Blueprint, Response, abort, current_app, jsonify, request

from .state import EmulatorState, sort_time, to_datetime, utc_now

PAGE_SIZE = 25
LATEST, BEFORE, AFTER, BETWEEN = 20, 20, 100, 1000
MESSAGE_TYPES = {"incoming": 0, "outgoing": 1, "activity": 2, "template": 3}
DELETED_TEXT = "This message was deleted"

bp = Blueprint("chatwoot", __name__, url_prefix="/chatwoot")


# ----------------------------------------------------------------------------------------------
# Builders (vendor shapes)


def inbox(inbox_id: int, name: str, channel_type: str = "Channel::WebWidget") -> dict[str, Any]:
    return {
        "id": inbox_id,
        "name": name,
        "channel_type": channel_type,
        "channel_id": inbox_id,
        "avatar_url": "",
        "greeting_enabled": False,
        "enable_auto_assignment": True,
        "working_hours_enabled": False,
    }


def contact(contact_id: int, name: str, *, email: str | None = None, phone_number: str | None = None,
            identifier: str | None = None, custom_attributes: dict[str, Any] | None = None,
            additional_attributes: dict[str, Any] | None = None, created_at: int | None = None,
            last_activity_at: int | None = None) -> dict[str, Any]:
    return {
        "id": contact_id,
        "name": name,
        "email": email,
        "phone_number": phone_number,
        "identifier": identifier,
        "thumbnail": "",
        "availability_status": "offline",
        "type": "contact",
        "custom_attributes": custom_attributes or {},
        "additional_attributes": additional_attributes or {},
        "created_at": created_at,
        "last_activity_at": last_activity_at,
    }


def agent(user_id: int, name: str, email: str | None = None) -> dict[str, Any]:
    return {
        "id": user_id,
        "name": name,
        "available_name": name,
        "email": email,
        "avatar_url": "",
        "thumbnail": "",
        "availability_status": "online",
        "type": "user",
    }


def attachment(attachment_id: int, message_id: int, account_id: int, *, file_type: str = "image",
               extension: str = "png", file_size: int = 48_213) -> dict[str, Any]:
    url = f"https://chatwoot.example/rails/active_storage/blobs/{attachment_id}/file.{extension}"
    return {
        "id": attachment_id,
        "message_id": message_id,
        "account_id": account_id,
        "file_type": file_type,
        "extension": extension,
        "data_url": url,
        "thumb_url": url + "?thumb=1" if file_type == "image" else "",
        "file_size": file_size,
        "width": 1280 if file_type == "image" else None,
        "height": 720 if file_type == "image" else None,
    }


def message(message_id: int, conversation_id: int, *, content: str | None, message_type: int | str,
            created_at: int, sender: dict[str, Any] | None = None, private: bool = False,
            account_id: int = 1, inbox_id: int | None = None,
            attachments: list[dict[str, Any]] | None = None,
            content_attributes: dict[str, Any] | None = None, updated_at: int | None = None) -> dict[str, Any]:
    kind = MESSAGE_TYPES.get(message_type, message_type) if isinstance(message_type, str) else message_type
    sender_type = {"contact": "Contact", "user": "User", "agent_bot": "AgentBot"}.get(
        (sender or {}).get("type", ""))
    out = {
        "id": message_id,
        "content": content,
        "account_id": account_id,
        "inbox_id": inbox_id,
        "conversation_id": conversation_id,
        "message_type": kind,
        "content_type": "text",
        "status": "sent",
        "content_attributes": content_attributes or {},
        "created_at": created_at,
        "updated_at": updated_at if updated_at is not None else created_at,
        "private": private,
        "source_id": None,
        "sender_type": sender_type,
        "sender_id": sender["id"] if sender else None,
    }
    if sender:
        out["sender"] = sender
    if attachments:
        out["attachments"] = attachments
    return out


def conversation(conversation_id: int, *, inbox_id: int, status: str, sender: dict[str, Any],
                 last_activity_at: int, created_at: int, account_id: int = 1,
                 assignee: dict[str, Any] | None = None, labels: list[str] | None = None,
                 channel: str = "Channel::WebWidget", priority: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"sender": sender, "channel": channel, "hmac_verified": False}
    if assignee:
        meta["assignee"] = assignee
    return {
        "meta": meta,
        "id": conversation_id,
        "account_id": account_id,
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"chatwoot:{account_id}:{conversation_id}")),
        "additional_attributes": {},
        "custom_attributes": {},
        "inbox_id": inbox_id,
        "labels": labels or [],
        "muted": False,
        "snoozed_until": None,
        "status": status,
        "can_reply": True,
        "created_at": created_at,
        "updated_at": last_activity_at,
        "timestamp": last_activity_at,
        "last_activity_at": last_activity_at,
        "agent_last_seen_at": last_activity_at,
        "contact_last_seen_at": 0,
        "first_reply_created_at": 0,
        "unread_count": 0,
        "priority": priority,
        "waiting_since": 0,
        "sla_policy_id": None,
    }


# ----------------------------------------------------------------------------------------------
# Store


def as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class MessageSource(Protocol):
    def select(self, before: int | None, after: int | None) -> list[dict[str, Any]]: ...
    def last(self) -> dict[str, Any] | None: ...
    def all(self) -> list[dict[str, Any]]: ...
    def max_id(self) -> int: ...


class MessageList:
    """Explicit messages, ordered as Chatwoot orders them (created_at, then id)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = list(items)

    def all(self) -> list[dict[str, Any]]:
        return sorted(self.items, key=lambda m: (sort_time(m.get("created_at")), as_int(m.get("id")) or 0))

    def select(self, before: int | None, after: int | None) -> list[dict[str, Any]]:
        ordered = self.all()

        def mid(m: dict[str, Any]) -> int:
            return as_int(m.get("id")) or 0

        if before is not None and after is not None:
            return [m for m in ordered if after <= mid(m) < before][:BETWEEN]
        if before is not None:
            return [m for m in ordered if mid(m) < before][-BEFORE:]
        if after is not None:
            return [m for m in ordered if mid(m) > after][:AFTER]
        return ordered[-LATEST:]

    def last(self) -> dict[str, Any] | None:
        ordered = self.all()
        return ordered[-1] if ordered else None

    def max_id(self) -> int:
        return max((as_int(m.get("id")) or 0 for m in self.items), default=0)


class Account:
    def __init__(self, account_id: int, inboxes: list[dict[str, Any]], conversations: list[dict[str, Any]],
                 messages: dict[int, MessageSource]) -> None:
        self.id = account_id
        self.inboxes = inboxes
        self.conversations = conversations
        self.messages = messages
        self.by_id = {as_int(c.get("id")): c for c in conversations if as_int(c.get("id")) is not None}

    def message_list(self, cid: int) -> MessageList:
        """The conversation's messages as an editable list (materialises generated ones)."""
        source = self.messages.get(cid)
        if not isinstance(source, MessageList):
            source = MessageList(source.all() if source is not None else [])
            self.messages[cid] = source
        return source

    def next_message_id(self) -> int:
        return max((s.max_id() for s in self.messages.values()), default=0) + 1


class ChatwootStore:
    def __init__(self, token: str | None, accounts: dict[int, Account], user_id: int = 1) -> None:
        self.token = token
        self.accounts = accounts
        self.user_id = user_id

    @classmethod
    def from_fixture(cls, fixture: dict[str, Any]) -> ChatwootStore:
        from .synthetic import generate_account

        accounts: dict[int, Account] = {}
        for acc_id, acc in (fixture.get("accounts") or {}).items():
            messages: dict[int, MessageSource] = {
                int(cid): MessageList(items) for cid, items in (acc.get("messages") or {}).items()
            }
            accounts[int(acc_id)] = Account(int(acc_id), list(acc.get("inboxes") or []),
                                            list(acc.get("conversations") or []), messages)
        specs = fixture.get("generate") or []
        for spec in [specs] if isinstance(specs, dict) else specs:
            account = generate_account(spec)
            accounts[account.id] = account
        return cls(fixture.get("token"), accounts, int(fixture.get("user_id", 1)))

    def summary(self) -> dict[str, Any]:
        return {str(a.id): {"inboxes": len(a.inboxes), "conversations": len(a.conversations)}
                for a in self.accounts.values()}


# ----------------------------------------------------------------------------------------------
# Routes


def _state() -> EmulatorState:
    return current_app.extensions["emulator"]


def _error(status: int, text: str) -> Response:
    response = jsonify({"error": text})
    response.status_code = status
    return response


def error_response(status: int, message: str | None = None) -> Response:
    return _error(status, message or {401: "Invalid Access Token", 404: "Resource could not be found"}
                  .get(status, "Internal Server Error"))


def rate_limit_response(retry_after: float) -> Response:
    """rack-attack's throttled answer."""
    return Response("Retry later\n", status=429, mimetype="text/plain",
                    headers={"Retry-After": str(math.ceil(retry_after))})


def _account(account_id: int) -> Account:
    store: ChatwootStore | None = _state().stores.get("chatwoot")
    token = request.headers.get("api_access_token")
    if store is None or not store.token or token != store.token:
        abort(error_response(401))
    account = store.accounts.get(account_id)
    if account is None:
        abort(error_response(404))
    return account


@bp.get("/api/v1/accounts/<int:account_id>/inboxes")
def list_inboxes(account_id: int) -> Response:
    with _state().lock:
        return jsonify({"payload": _account(account_id).inboxes})


def _assignee_id(conv: dict[str, Any]) -> int | None:
    return as_int(conv.get("assignee_id") or ((conv.get("meta") or {}).get("assignee") or {}).get("id"))


@bp.get("/api/v1/accounts/<int:account_id>/conversations")
def list_conversations(account_id: int) -> Response:
    with _state().lock:
        account = _account(account_id)
        store: ChatwootStore = _state().stores["chatwoot"]
        status = request.args.get("status") or "open"
        items = [c for c in account.conversations if status == "all" or c.get("status") == status]
        counts = {
            "mine_count": sum(1 for c in items if _assignee_id(c) == store.user_id),
            "assigned_count": sum(1 for c in items if _assignee_id(c) is not None),
            "unassigned_count": sum(1 for c in items if _assignee_id(c) is None),
            "all_count": len(items),
        }
        assignee_type = request.args.get("assignee_type") or "all"
        if assignee_type == "me":
            items = [c for c in items if _assignee_id(c) == store.user_id]
        elif assignee_type == "assigned":
            items = [c for c in items if _assignee_id(c) is not None]
        elif assignee_type == "unassigned":
            items = [c for c in items if _assignee_id(c) is None]
        sort_by = request.args.get("sort_by") or "last_activity_at_desc"
        field = "created_at" if sort_by.startswith("created_at") else "last_activity_at"
        items.sort(key=lambda c: (sort_time(c.get(field) or c.get("timestamp")), as_int(c.get("id")) or 0),
                   reverse=not sort_by.endswith("_asc"))
        page = max(1, as_int(request.args.get("page")) or 1)
        payload = [_render_conversation(account, c) for c in items[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]]
        return jsonify({"data": {"meta": counts, "payload": payload}})


def _render_conversation(account: Account, conv: dict[str, Any]) -> dict[str, Any]:
    if "messages" in conv:
        return conv
    source = account.messages.get(as_int(conv.get("id")) or 0)
    last = source.last() if source is not None else None
    return {**conv, "messages": [last] if last else []}


@bp.get("/api/v1/accounts/<int:account_id>/conversations/<int:conversation_id>/messages")
def list_messages(account_id: int, conversation_id: int) -> Response:
    with _state().lock:
        account = _account(account_id)
        conv = account.by_id.get(conversation_id)
        source = account.messages.get(conversation_id)
        if conv is None and source is None:
            return error_response(404)
        before, after = as_int(request.args.get("before")), as_int(request.args.get("after"))
        payload = source.select(before, after) if source is not None else []
        meta: dict[str, Any] = {"labels": [], "additional_attributes": {}}
        if conv is not None:
            conv_meta = conv.get("meta") or {}
            meta.update(labels=conv.get("labels") or [], contact=conv_meta.get("sender"),
                        assignee=conv_meta.get("assignee"),
                        additional_attributes=conv.get("additional_attributes") or {})
        return jsonify({"meta": meta, "payload": payload})


# ----------------------------------------------------------------------------------------------
# Mutations (POST /__emu/mutate with vendor "chatwoot")


def _bump(conv: dict[str, Any] | None, at: int) -> None:
    if conv is not None:
        conv.update(last_activity_at=at, timestamp=at, updated_at=at)


def mutate(store: ChatwootStore, op: dict[str, Any]) -> dict[str, Any]:
    """Ops: add_message, update_message, delete_message, update_conversation, delete_conversation.

    Every op except delete_conversation bumps the conversation's activity to `at` (default now)
    unless `"bump": false`.
    """
    at_dt = to_datetime(op.get("at")) or utc_now()
    at = int(at_dt.timestamp())
    account = store.accounts.get(int(op["account_id"]))
    if account is None:
        raise KeyError(f"unknown account {op['account_id']}")
    cid = int(op["conversation_id"])
    conv = account.by_id.get(cid)
    name = op["op"]
    if name == "delete_conversation":
        account.conversations = [c for c in account.conversations if c is not conv]
        account.by_id.pop(cid, None)
        account.messages.pop(cid, None)
        return {"deleted": cid}
    if name == "update_conversation":
        if conv is None:
            raise KeyError(f"unknown conversation {cid}")
        conv.update(op.get("set") or {})
        result: dict[str, Any] = conv
    else:
        messages = account.message_list(cid)
        if name == "add_message":
            fields = dict(op.get("message") or {})
            fields.setdefault("id", account.next_message_id())
            fields.setdefault("conversation_id", cid)
            fields.setdefault("created_at", at)
            fields.setdefault("updated_at", at)
            result = fields
            messages.items.append(result)
        else:
            mid = int(op["message_id"])
            result = next((m for m in messages.items if as_int(m.get("id")) == mid), None)
            if result is None:
                raise KeyError(f"unknown message {mid}")
            if name == "update_message":
                result.update(op.get("set") or {})
            elif name == "delete_message":
                result.update(content=DELETED_TEXT,
                              content_attributes={**(result.get("content_attributes") or {}), "deleted": True})
                result.pop("attachments", None)
            else:
                raise ValueError(f"unknown chatwoot op {name!r}")
            result["updated_at"] = at
    if op.get("bump", True):
        _bump(conv, at)
    return result
