"""rag tables

Revision ID: 0003
Revises: 0002

``rag_chunks`` (connectors-rag §15). On PostgreSQL the lexical index of §9.3: a generated
``search_tsv = to_tsvector('simple', search_text)`` (``search_text`` holds the ru/en stemmed
terms of ``shared.lexical.normalize_for_index``) with a GIN index; it follows every text update and
delete in the same transaction. SQLite has neither (search falls back to a substring match).
``rag_term_stats``: per-project document frequencies of the index terms (IDF weights of that search).
"""

from alembic import op
import sqlalchemy as sa

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('rag_chunks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('source_type', sa.Text(), nullable=False),
    sa.Column('source_table', sa.Text(), nullable=False),
    sa.Column('source_pk', sa.Text(), nullable=False),
    sa.Column('conversation_global_id', sa.Text(), nullable=True),
    sa.Column('message_global_id', sa.Text(), nullable=True),
    sa.Column('contact_global_id', sa.Text(), nullable=True),
    sa.Column('chunk_index', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.CHAR(length=64), nullable=False),
    sa.Column('content_tokens', sa.Integer(), nullable=False),
    sa.Column('search_text', sa.Text(), server_default='', nullable=False),
    sa.Column('source_ts', sa.DateTime(timezone=True), nullable=True),
    sa.Column('embedding_status', sa.Text(), server_default='pending', nullable=False),
    sa.Column('embedding_provider', sa.Text(), nullable=True),
    sa.Column('embedding_model', sa.Text(), nullable=True),
    sa.Column('embedding_dim', sa.Integer(), nullable=True),
    sa.Column('embedding_attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('embedding_error', sa.Text(), nullable=True),
    sa.Column('last_embedded_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("embedding_status IN ('pending', 'processing', 'ready', 'failed')", name=op.f('ck_rag_chunks_embedding_status')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_rag_chunks_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_rag_chunks_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_rag_chunks')),
    sa.UniqueConstraint('project_id', 'source_table', 'source_pk', 'chunk_index', name='uq_rag_chunks_source_chunk')
    )
    op.create_index('ix_rag_chunks_project_status_created', 'rag_chunks', ['project_id', 'embedding_status', 'created_at'], unique=False)
    op.create_index('ix_rag_chunks_project_status_embedded', 'rag_chunks', ['project_id', 'embedding_status', 'last_embedded_at'], unique=False)
    op.create_index('ix_rag_chunks_project_message', 'rag_chunks', ['project_id', 'message_global_id'], unique=False)
    op.create_index('ix_rag_chunks_project_conversation', 'rag_chunks', ['project_id', 'conversation_global_id'], unique=False)
    op.create_index('ix_rag_chunks_text_hash', 'rag_chunks', ['text_hash'], unique=False)
    if is_postgres():
        op.execute("ALTER TABLE rag_chunks ADD COLUMN search_tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED")
        op.execute("CREATE INDEX ix_rag_chunks_search_tsv ON rag_chunks USING gin (search_tsv)")
    op.create_table('rag_term_stats',
    sa.Column('term', sa.Text(), nullable=False),
    sa.Column('df', sa.Integer(), nullable=False),
    sa.Column('refreshed_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_rag_term_stats_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_rag_term_stats_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'term', name='pk_rag_term_stats')
    )
    attach_scope_guard('rag_chunks', 'rag_term_stats')


def downgrade() -> None:
    detach_scope_guard('rag_chunks', 'rag_term_stats')
    op.drop_table('rag_term_stats')
    op.drop_table('rag_chunks')
