"""Chatwoot tables (connectors-rag §15): contacts, conversations, messages, inboxes, attachments.

Ids are the deterministic global ids of §0.2. ``cw_messages.created_at`` is the vendor's time;
every other ``created_at`` here is the first-insert time of the row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Text, UniqueConstraint, false, func, text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, JSONType, ScopedMixin, TZDateTime, created_col
from shared.timeutil import utcnow


class CwContact(ScopedMixin, Base):
    __tablename__ = "cw_contacts"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    contact_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(Text)
    phone_number: Mapped[str | None] = mapped_column(Text)
    identifier: Mapped[str | None] = mapped_column(Text)
    custom_attributes: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "account_id", "contact_id", name="uq_cw_contacts_natural"),
        Index("ix_cw_contacts_project_updated", "project_id", text("updated_at DESC NULLS LAST")).ddl_if(
            dialect="postgresql"),  # SQLite: the migration creates it without NULLS LAST
    )


class CwConversation(ScopedMixin, Base):
    __tablename__ = "cw_conversations"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    conversation_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    contact_global_id: Mapped[str | None] = mapped_column(Text)
    inbox_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str | None] = mapped_column(Text)
    assignee_id: Mapped[int | None] = mapped_column(BigInteger)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "account_id", "conversation_id", name="uq_cw_conversations_natural"),
        Index("ix_cw_conversations_project_activity", "project_id",
              text("coalesce(updated_at, created_at) DESC")),
    )


class CwMessage(ScopedMixin, Base):
    __tablename__ = "cw_messages"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    message_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    conversation_id: Mapped[int | None] = mapped_column(BigInteger)
    sender_id: Mapped[int | None] = mapped_column(BigInteger)
    conversation_global_id: Mapped[str | None] = mapped_column(Text)
    contact_global_id: Mapped[str | None] = mapped_column(Text)
    sender_type: Mapped[str | None] = mapped_column(Text)
    message_type: Mapped[str | None] = mapped_column(Text)
    private: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    deleted: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    content: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    created_at: Mapped[datetime | None] = mapped_column(TZDateTime)  # the vendor's time
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    synced_at: Mapped[datetime] = mapped_column(TZDateTime, nullable=False, server_default=func.now(),
                                                default=utcnow)
    __table_args__ = (
        UniqueConstraint("project_id", "account_id", "message_id", name="uq_cw_messages_natural"),
        Index("ix_cw_messages_project_created", "project_id", text("created_at DESC NULLS LAST")).ddl_if(
            dialect="postgresql"),  # SQLite: the migration creates it without NULLS LAST
        Index("ix_cw_messages_project_conversation", "project_id", "conversation_global_id", "message_id"),
        Index("ix_cw_messages_project_contact", "project_id", "contact_global_id"),
    )


class CwInboxRaw(ScopedMixin, Base):
    __tablename__ = "cw_inboxes_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    inbox_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    name: Mapped[str | None] = mapped_column(Text)
    channel_type: Mapped[str | None] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (
        UniqueConstraint("project_id", "account_id", "inbox_id", name="uq_cw_inboxes_raw_natural"),
    )


class CwAttachmentRaw(ScopedMixin, Base):
    __tablename__ = "cw_attachments_raw"
    id: Mapped[str] = mapped_column(Text, primary_key=True)
    account_id: Mapped[int] = mapped_column(BigInteger, nullable=False)
    message_global_id: Mapped[str | None] = mapped_column(Text, ForeignKey("cw_messages.id", ondelete="CASCADE"))
    conversation_global_id: Mapped[str | None] = mapped_column(
        Text, ForeignKey("cw_conversations.id", ondelete="SET NULL"))
    content_type: Mapped[str | None] = mapped_column(Text)
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    file_url: Mapped[str | None] = mapped_column(Text)
    thumb_url: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType, nullable=False, default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    __table_args__ = (Index("ix_cw_attachments_raw_project_message", "project_id", "message_global_id"),)


TABLES = ("cw_contacts", "cw_conversations", "cw_messages", "cw_inboxes_raw", "cw_attachments_raw")
