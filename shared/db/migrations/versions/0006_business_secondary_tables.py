"""business secondary tables

Revision ID: 0006
Revises: 0005

Part B of business.md §D.3: upsell_opportunities, continuity_actions, identity_link_suggestions,
identity_links, outbound_messages, outbound_attempts, contact_channel_policies. PostgreSQL also gets
``gen_random_uuid()`` id defaults, the GIN index on ``outbound_messages.evidence_refs`` and the scope
trigger; SQLite gets the same tables without them (UUIDs come from Python there).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

SCOPED = (
    'upsell_opportunities', 'continuity_actions', 'identity_link_suggestions', 'identity_links',
    'outbound_messages', 'outbound_attempts', 'contact_channel_policies',
)
JSONB = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def _uuid_pk() -> sa.Column:
    default = sa.text('gen_random_uuid()') if is_postgres() else None
    return sa.Column('id', sa.Uuid(), server_default=default, nullable=False)


def _ts(name: str, nullable: bool = True, now: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now() if now else None,
                     nullable=nullable)


def _json(name: str, empty: str) -> sa.Column:
    return sa.Column(name, JSONB, server_default=sa.text(f"'{empty}'"), nullable=False)


def _scope(table: str) -> list:
    return [
        sa.Column('project_id', sa.Uuid(), nullable=False),
        sa.Column('account_scope_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'],
                                name=op.f(f'fk_{table}_account_scope_id'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f(f'fk_{table}_project_id'),
                                ondelete='CASCADE'),
    ]


def _in(column: str, values: tuple) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    op.create_table('upsell_opportunities',
    _uuid_pk(),
    sa.Column('account_external_id', sa.Text(), nullable=True),
    sa.Column('source_ref', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=True),
    sa.Column('score', sa.Numeric(5, 4), server_default=sa.text('0.5'), nullable=False),
    sa.Column('status', sa.Text(), server_default='proposed', nullable=False),
    _json('suggested_offer_payload', '{}'),
    _json('suggested_outbound_payload', '{}'),
    _json('evidence_refs', '[]'),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('upsell_opportunities'),
    sa.CheckConstraint('score >= 0 AND score <= 1', name=op.f('ck_upsell_opportunities_score')),
    sa.CheckConstraint(_in('status', ('proposed', 'accepted', 'dismissed', 'converted')),
                       name=op.f('ck_upsell_opportunities_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_upsell_opportunities')),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_upsell_opportunities_project_dedupe'),
    )
    op.create_index('ix_upsell_opportunities_project_status_score', 'upsell_opportunities',
                    ['project_id', 'status', sa.literal_column('score DESC')], unique=False)

    op.create_table('continuity_actions',
    _uuid_pk(),
    sa.Column('source_type', sa.Text(), nullable=False),
    sa.Column('source_ref', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    _json('preview_payload', '{}'),
    sa.Column('linear_issue_external_id', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='previewed', nullable=False),
    _json('evidence_refs', '[]'),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=True),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('continuity_actions'),
    sa.CheckConstraint(_in('source_type', ('crm', 'attio', 'chatwoot', 'hybrid')),
                       name=op.f('ck_continuity_actions_source_type')),
    sa.CheckConstraint(_in('status', ('previewed', 'applied', 'dismissed', 'failed')),
                       name=op.f('ck_continuity_actions_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_continuity_actions')),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_continuity_actions_project_dedupe'),
    )
    op.create_index('ix_continuity_actions_project_status_created', 'continuity_actions',
                    ['project_id', 'status', sa.literal_column('created_at DESC')], unique=False)

    op.create_table('identity_link_suggestions',
    _uuid_pk(),
    sa.Column('left_entity_type', sa.Text(), nullable=False),
    sa.Column('left_entity_id', sa.Text(), nullable=False),
    sa.Column('right_entity_type', sa.Text(), nullable=False),
    sa.Column('right_entity_id', sa.Text(), nullable=False),
    sa.Column('confidence', sa.Numeric(5, 4), server_default=sa.text('0.5'), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='proposed', nullable=False),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    _json('evidence_refs', '[]'),
    _json('meta', '{}'),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('identity_link_suggestions'),
    sa.CheckConstraint('confidence >= 0 AND confidence <= 1', name=op.f('ck_identity_link_suggestions_confidence')),
    sa.CheckConstraint(_in('status', ('proposed', 'applied', 'dismissed')),
                       name=op.f('ck_identity_link_suggestions_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_link_suggestions')),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_identity_link_suggestions_project_dedupe'),
    )
    op.create_index('ix_identity_link_suggestions_project_status_conf', 'identity_link_suggestions',
                    ['project_id', 'status', sa.literal_column('confidence DESC')], unique=False)

    op.create_table('identity_links',
    _uuid_pk(),
    sa.Column('left_entity_type', sa.Text(), nullable=False),
    sa.Column('left_entity_id', sa.Text(), nullable=False),
    sa.Column('right_entity_type', sa.Text(), nullable=False),
    sa.Column('right_entity_id', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), server_default='active', nullable=False),
    sa.Column('source', sa.Text(), server_default='manual', nullable=False),
    _json('evidence_refs', '[]'),
    sa.Column('created_by', sa.Text(), nullable=True),
    _ts('created_at', nullable=False, now=True),
    *_scope('identity_links'),
    sa.CheckConstraint(_in('status', ('active', 'inactive')), name=op.f('ck_identity_links_status')),
    sa.CheckConstraint(_in('source', ('manual', 'suggestion', 'system')), name=op.f('ck_identity_links_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_identity_links')),
    sa.UniqueConstraint('project_id', 'left_entity_type', 'left_entity_id', 'right_entity_type', 'right_entity_id',
                        name='uq_identity_links_pair'),
    )
    op.create_index('ix_identity_links_project_status_created', 'identity_links',
                    ['project_id', 'status', sa.literal_column('created_at DESC')], unique=False)

    op.create_table('outbound_messages',
    _uuid_pk(),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('recipient_ref', sa.Text(), nullable=False),
    _json('payload', '{}'),
    _json('evidence_refs', '[]'),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('idempotency_key', sa.Text(), nullable=False),
    sa.Column('dedupe_key', sa.Text(), nullable=True),
    sa.Column('retry_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('max_retries', sa.Integer(), server_default='5', nullable=False),
    _ts('next_attempt_at'),
    sa.Column('approved_by', sa.Text(), nullable=True),
    _ts('approved_at'),
    _ts('sent_at'),
    sa.Column('last_error', sa.Text(), nullable=True),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('outbound_messages'),
    sa.CheckConstraint(_in('channel', ('email', 'chatwoot', 'telegram')), name=op.f('ck_outbound_messages_channel')),
    sa.CheckConstraint(_in('status', ('draft', 'approved', 'sent', 'failed', 'cancelled', 'blocked_opt_out')),
                       name=op.f('ck_outbound_messages_status')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_messages')),
    sa.UniqueConstraint('project_id', 'idempotency_key', name='uq_outbound_messages_project_idempotency'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_outbound_messages_project_dedupe'),
    )
    op.create_index('ix_outbound_messages_project_status_next', 'outbound_messages',
                    ['project_id', 'status', 'next_attempt_at'], unique=False)
    op.create_index('ix_outbound_messages_project_created', 'outbound_messages',
                    ['project_id', sa.literal_column('created_at DESC')], unique=False)
    if is_postgres():
        op.create_index('ix_outbound_messages_evidence_refs', 'outbound_messages', ['evidence_refs'], unique=False,
                        postgresql_using='gin', postgresql_ops={'evidence_refs': 'jsonb_path_ops'})

    op.create_table('outbound_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), sa.Identity(always=False), nullable=False),
    sa.Column('outbound_id', sa.Uuid(), nullable=False),
    sa.Column('attempt_no', sa.Integer(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('provider_message_id', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    _ts('created_at', nullable=False, now=True),
    *_scope('outbound_attempts'),
    sa.CheckConstraint(_in('status', ('sent', 'failed')), name=op.f('ck_outbound_attempts_status')),
    sa.ForeignKeyConstraint(['outbound_id'], ['outbound_messages.id'], name=op.f('fk_outbound_attempts_outbound_id'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbound_attempts')),
    sa.UniqueConstraint('outbound_id', 'attempt_no', name='uq_outbound_attempts_outbound_attempt'),
    )
    op.create_index('ix_outbound_attempts_project_created', 'outbound_attempts',
                    ['project_id', sa.literal_column('created_at DESC')], unique=False)

    op.create_table('contact_channel_policies',
    _uuid_pk(),
    sa.Column('contact_global_id', sa.Text(), nullable=False),
    sa.Column('channel', sa.Text(), nullable=False),
    sa.Column('opted_out', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('stop_on_reply', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('frequency_window_hours', sa.Integer(), server_default='24', nullable=False),
    sa.Column('frequency_cap', sa.Integer(), server_default='3', nullable=False),
    sa.Column('sent_in_window', sa.Integer(), server_default='0', nullable=False),
    _ts('window_started_at'),
    _ts('last_outbound_at'),
    _ts('last_inbound_at'),
    _ts('updated_at', nullable=False, now=True),
    *_scope('contact_channel_policies'),
    sa.CheckConstraint(_in('channel', ('email', 'chatwoot', 'telegram')),
                       name=op.f('ck_contact_channel_policies_channel')),
    sa.CheckConstraint('frequency_window_hours BETWEEN 1 AND 720',
                       name=op.f('ck_contact_channel_policies_frequency_window_hours')),
    sa.CheckConstraint('frequency_cap BETWEEN 1 AND 200', name=op.f('ck_contact_channel_policies_frequency_cap')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contact_channel_policies')),
    sa.UniqueConstraint('project_id', 'contact_global_id', 'channel', name='uq_contact_channel_policies_contact'),
    )
    attach_scope_guard(*SCOPED)


def downgrade() -> None:
    detach_scope_guard(*SCOPED)
    op.drop_table('contact_channel_policies')
    op.drop_index('ix_outbound_attempts_project_created', table_name='outbound_attempts')
    op.drop_table('outbound_attempts')
    if is_postgres():
        op.drop_index('ix_outbound_messages_evidence_refs', table_name='outbound_messages')
    op.drop_index('ix_outbound_messages_project_created', table_name='outbound_messages')
    op.drop_index('ix_outbound_messages_project_status_next', table_name='outbound_messages')
    op.drop_table('outbound_messages')
    op.drop_index('ix_identity_links_project_status_created', table_name='identity_links')
    op.drop_table('identity_links')
    op.drop_index('ix_identity_link_suggestions_project_status_conf', table_name='identity_link_suggestions')
    op.drop_table('identity_link_suggestions')
    op.drop_index('ix_continuity_actions_project_status_created', table_name='continuity_actions')
    op.drop_table('continuity_actions')
    op.drop_index('ix_upsell_opportunities_project_status_score', table_name='upsell_opportunities')
    op.drop_table('upsell_opportunities')
