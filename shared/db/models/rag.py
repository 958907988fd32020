"""RAG chunk rows (connectors-rag §6, §15). Vectors live in chromadb, keyed by ``rag_chunks.id``.

``search_text`` is ``shared.lexical.normalize_for_index(text)`` (stemmed ru/en terms), written with
the text in the same statement; on PostgreSQL the migration adds a generated ``search_tsv``
column over it with a GIN index (not mapped here, so the model stays portable).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CHAR, CheckConstraint, Index, Integer, PrimaryKeyConstraint, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, ScopedMixin, TZDateTime, created_col, updated_col, uuid_pk

EMBEDDING_STATUSES = ("pending", "processing", "ready", "failed")


class RagChunk(ScopedMixin, Base):
    __tablename__ = "rag_chunks"
    id: Mapped[uuid.UUID] = uuid_pk()
    source_type: Mapped[str] = mapped_column(Text, nullable=False)
    source_table: Mapped[str] = mapped_column(Text, nullable=False)
    source_pk: Mapped[str] = mapped_column(Text, nullable=False)
    conversation_global_id: Mapped[str | None] = mapped_column(Text)
    message_global_id: Mapped[str | None] = mapped_column(Text)
    contact_global_id: Mapped[str | None] = mapped_column(Text)
    chunk_index: Mapped[int] = mapped_column(Integer, nullable=False)
    text: Mapped[str] = mapped_column(Text, nullable=False)
    text_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    content_tokens: Mapped[int] = mapped_column(Integer, nullable=False)
    search_text: Mapped[str] = mapped_column(Text, nullable=False, default="", server_default="")
    source_ts: Mapped[datetime | None] = mapped_column(TZDateTime)
    embedding_status: Mapped[str] = mapped_column(Text, nullable=False, default="pending",
                                                  server_default="pending")
    embedding_provider: Mapped[str | None] = mapped_column(Text)
    embedding_model: Mapped[str | None] = mapped_column(Text)
    embedding_dim: Mapped[int | None] = mapped_column(Integer)
    embedding_attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    embedding_error: Mapped[str | None] = mapped_column(Text)
    last_embedded_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = created_col()
    updated_at: Mapped[datetime] = updated_col()

    __table_args__ = (
        UniqueConstraint("project_id", "source_table", "source_pk", "chunk_index", name="uq_rag_chunks_source_chunk"),
        CheckConstraint("embedding_status IN ('pending', 'processing', 'ready', 'failed')",
                        name="embedding_status"),
        Index("ix_rag_chunks_project_status_created", "project_id", "embedding_status", "created_at"),
        Index("ix_rag_chunks_project_message", "project_id", "message_global_id"),
        Index("ix_rag_chunks_project_conversation", "project_id", "conversation_global_id"),
        Index("ix_rag_chunks_text_hash", "text_hash"),
        Index("ix_rag_chunks_project_status_embedded", "project_id", "embedding_status", "last_embedded_at"),
    )


class RagTermStat(ScopedMixin, Base):
    """Document frequency of each index term over a project's ``ready`` chunks (PostgreSQL lexical search).

    Refreshed from ``ts_stat`` by the embeddings job when the corpus has changed noticeably (the IDF
    weights tolerate staleness); the row with ``term = ''`` holds the corpus size.
    """

    __tablename__ = "rag_term_stats"
    term: Mapped[str] = mapped_column(Text, nullable=False)
    df: Mapped[int] = mapped_column(Integer, nullable=False)
    refreshed_at: Mapped[datetime] = created_col()
    __table_args__ = (PrimaryKeyConstraint("project_id", "term", name="pk_rag_term_stats"),)
