"""connector tables: Chatwoot, Attio and Linear raw data (connectors-rag §15)

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

SCOPED = (
    'cw_contacts', 'cw_conversations', 'cw_messages', 'cw_inboxes_raw', 'cw_attachments_raw',
    'attio_accounts_raw', 'attio_opportunities_raw', 'attio_people_raw', 'attio_activities_raw',
    'linear_projects_raw', 'linear_states_raw', 'linear_cycles_raw', 'linear_issues_raw',
)


def upgrade() -> None:
    nulls_last = ' NULLS LAST' if is_postgres() else ''  # SQLite indexes reject NULLS LAST
    op.create_table('attio_accounts_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('domain', sa.Text(), nullable=True),
    sa.Column('stage', sa.Text(), nullable=True),
    sa.Column('annual_revenue', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_attio_accounts_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_attio_accounts_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attio_accounts_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_attio_accounts_raw_external')
    )
    op.create_index('ix_attio_accounts_raw_project_updated', 'attio_accounts_raw', ['project_id', sa.literal_column('updated_at DESC')], unique=False)
    op.create_table('attio_activities_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('record_external_id', sa.Text(), nullable=True),
    sa.Column('activity_type', sa.Text(), server_default='note', nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor_name', sa.Text(), nullable=True),
    sa.Column('occurred_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_attio_activities_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_attio_activities_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attio_activities_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_attio_activities_raw_external')
    )
    op.create_index('ix_attio_activities_raw_project_occurred', 'attio_activities_raw', ['project_id', sa.literal_column('occurred_at DESC')], unique=False)
    op.create_table('attio_opportunities_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('account_external_id', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), server_default='0', nullable=False),
    sa.Column('probability', sa.Numeric(precision=5, scale=4), server_default='0.1', nullable=False),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('next_step', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('probability >= 0 AND probability <= 1', name=op.f('ck_attio_opportunities_raw_probability_range')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_attio_opportunities_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_attio_opportunities_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attio_opportunities_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_attio_opportunities_raw_external')
    )
    op.create_index('ix_attio_opportunities_raw_project_stage', 'attio_opportunities_raw', ['project_id', 'stage', 'expected_close_date'], unique=False)
    op.create_table('attio_people_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('account_external_id', sa.Text(), nullable=True),
    sa.Column('full_name', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('role', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_attio_people_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_attio_people_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_attio_people_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_attio_people_raw_external')
    )
    op.create_table('cw_contacts',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('contact_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('email', sa.Text(), nullable=True),
    sa.Column('phone_number', sa.Text(), nullable=True),
    sa.Column('identifier', sa.Text(), nullable=True),
    sa.Column('custom_attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_cw_contacts_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cw_contacts_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cw_contacts')),
    sa.UniqueConstraint('project_id', 'account_id', 'contact_id', name='uq_cw_contacts_natural')
    )
    op.create_index('ix_cw_contacts_project_updated', 'cw_contacts', ['project_id', sa.literal_column('updated_at DESC' + nulls_last)], unique=False)
    op.create_table('cw_conversations',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=False),
    sa.Column('contact_global_id', sa.Text(), nullable=True),
    sa.Column('inbox_id', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.Text(), nullable=True),
    sa.Column('assignee_id', sa.BigInteger(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_cw_conversations_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cw_conversations_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cw_conversations')),
    sa.UniqueConstraint('project_id', 'account_id', 'conversation_id', name='uq_cw_conversations_natural')
    )
    op.create_index('ix_cw_conversations_project_activity', 'cw_conversations', ['project_id', sa.literal_column('coalesce(updated_at, created_at) DESC')], unique=False)
    op.create_table('cw_inboxes_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('inbox_id', sa.BigInteger(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('channel_type', sa.Text(), nullable=True),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_cw_inboxes_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cw_inboxes_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cw_inboxes_raw')),
    sa.UniqueConstraint('project_id', 'account_id', 'inbox_id', name='uq_cw_inboxes_raw_natural')
    )
    op.create_table('cw_messages',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('message_id', sa.BigInteger(), nullable=False),
    sa.Column('conversation_id', sa.BigInteger(), nullable=True),
    sa.Column('sender_id', sa.BigInteger(), nullable=True),
    sa.Column('conversation_global_id', sa.Text(), nullable=True),
    sa.Column('contact_global_id', sa.Text(), nullable=True),
    sa.Column('sender_type', sa.Text(), nullable=True),
    sa.Column('message_type', sa.Text(), nullable=True),
    sa.Column('private', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('deleted', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('content', sa.Text(), server_default='', nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('synced_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_cw_messages_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cw_messages_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cw_messages')),
    sa.UniqueConstraint('project_id', 'account_id', 'message_id', name='uq_cw_messages_natural')
    )
    op.create_index('ix_cw_messages_project_contact', 'cw_messages', ['project_id', 'contact_global_id'], unique=False)
    op.create_index('ix_cw_messages_project_conversation', 'cw_messages', ['project_id', 'conversation_global_id', 'message_id'], unique=False)
    op.create_index('ix_cw_messages_project_created', 'cw_messages', ['project_id', sa.literal_column('created_at DESC' + nulls_last)], unique=False)
    op.create_table('linear_cycles_raw',
    sa.Column('team_external_id', sa.Text(), nullable=True),
    sa.Column('number', sa.Integer(), nullable=True),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('progress', sa.Numeric(precision=6, scale=3), nullable=True),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_linear_cycles_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_linear_cycles_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linear_cycles_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_linear_cycles_raw_external')
    )
    op.create_table('linear_issues_raw',
    sa.Column('identifier', sa.Text(), nullable=True),
    sa.Column('linear_project_external_id', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('state_external_id', sa.Text(), nullable=True),
    sa.Column('state_type', sa.Text(), nullable=True),
    sa.Column('cycle_external_id', sa.Text(), nullable=True),
    sa.Column('cycle_name', sa.Text(), nullable=True),
    sa.Column('labels', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('blocked', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('blocked_by_count', sa.Integer(), server_default='0', nullable=False),
    sa.Column('priority', sa.Integer(), nullable=True),
    sa.Column('assignee_name', sa.Text(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('vendor_created_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('vendor_updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_linear_issues_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_linear_issues_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linear_issues_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_linear_issues_raw_external')
    )
    op.create_index('ix_linear_issues_raw_project_blocked', 'linear_issues_raw', ['project_id', 'blocked', 'due_date', sa.literal_column('updated_at DESC')], unique=False)
    op.create_index('ix_linear_issues_raw_project_state_due', 'linear_issues_raw', ['project_id', 'state', 'due_date'], unique=False)
    op.create_index('ix_linear_issues_raw_project_vendor_updated', 'linear_issues_raw', ['project_id', 'vendor_updated_at'], unique=False)
    op.create_table('linear_projects_raw',
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('state', sa.Text(), nullable=True),
    sa.Column('lead_name', sa.Text(), nullable=True),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_linear_projects_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_linear_projects_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linear_projects_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_linear_projects_raw_external')
    )
    op.create_table('linear_states_raw',
    sa.Column('team_external_id', sa.Text(), nullable=True),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=True),
    sa.Column('position', sa.Double(), nullable=True),
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('workspace_id', sa.Text(), nullable=False),
    sa.Column('external_id', sa.Text(), nullable=False),
    sa.Column('data', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_linear_states_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_linear_states_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_linear_states_raw')),
    sa.UniqueConstraint('project_id', 'external_id', name='uq_linear_states_raw_external')
    )
    op.create_table('cw_attachments_raw',
    sa.Column('id', sa.Text(), nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('message_global_id', sa.Text(), nullable=True),
    sa.Column('conversation_global_id', sa.Text(), nullable=True),
    sa.Column('content_type', sa.Text(), nullable=True),
    sa.Column('file_size', sa.BigInteger(), nullable=True),
    sa.Column('file_url', sa.Text(), nullable=True),
    sa.Column('thumb_url', sa.Text(), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_cw_attachments_raw_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['conversation_global_id'], ['cw_conversations.id'], name=op.f('fk_cw_attachments_raw_conversation_global_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_global_id'], ['cw_messages.id'], name=op.f('fk_cw_attachments_raw_message_global_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cw_attachments_raw_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cw_attachments_raw'))
    )
    op.create_index('ix_cw_attachments_raw_project_message', 'cw_attachments_raw', ['project_id', 'message_global_id'], unique=False)

    attach_scope_guard(*SCOPED)


def downgrade() -> None:
    detach_scope_guard(*SCOPED)
    op.drop_index('ix_cw_attachments_raw_project_message', table_name='cw_attachments_raw')
    op.drop_table('cw_attachments_raw')
    op.drop_table('linear_states_raw')
    op.drop_table('linear_projects_raw')
    op.drop_index('ix_linear_issues_raw_project_vendor_updated', table_name='linear_issues_raw')
    op.drop_index('ix_linear_issues_raw_project_state_due', table_name='linear_issues_raw')
    op.drop_index('ix_linear_issues_raw_project_blocked', table_name='linear_issues_raw')
    op.drop_table('linear_issues_raw')
    op.drop_table('linear_cycles_raw')
    op.drop_index('ix_cw_messages_project_created', table_name='cw_messages')
    op.drop_index('ix_cw_messages_project_conversation', table_name='cw_messages')
    op.drop_index('ix_cw_messages_project_contact', table_name='cw_messages')
    op.drop_table('cw_messages')
    op.drop_table('cw_inboxes_raw')
    op.drop_index('ix_cw_conversations_project_activity', table_name='cw_conversations')
    op.drop_table('cw_conversations')
    op.drop_index('ix_cw_contacts_project_updated', table_name='cw_contacts')
    op.drop_table('cw_contacts')
    op.drop_table('attio_people_raw')
    op.drop_index('ix_attio_opportunities_raw_project_stage', table_name='attio_opportunities_raw')
    op.drop_table('attio_opportunities_raw')
    op.drop_index('ix_attio_activities_raw_project_occurred', table_name='attio_activities_raw')
    op.drop_table('attio_activities_raw')
    op.drop_index('ix_attio_accounts_raw_project_updated', table_name='attio_accounts_raw')
    op.drop_table('attio_accounts_raw')
