"""business core tables (business.md §D.2): CRM, offers, digests, health and risk, analytics

Also adds the four ``ON DELETE SET NULL`` foreign keys from ``signals`` / ``next_best_actions``
(created by 0004) to ``crm_accounts`` / ``crm_opportunities`` (PostgreSQL; SQLite cannot add a
foreign key to an existing table).

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

TABLES = (
    'crm_accounts', 'crm_account_contacts', 'crm_opportunities', 'crm_opportunity_stage_events', 'offers',
    'offer_items', 'offer_approvals', 'daily_digests', 'weekly_digests', 'health_scores', 'risk_radar_items',
    'risk_pattern_events', 'analytics_revenue_snapshots', 'analytics_delivery_snapshots',
    'analytics_comms_snapshots',
)


# kag.md §14: signals / next_best_actions (created by 0004) reference the CRM tables created here.
KAG_FOREIGN_KEYS = (
    ('signals', 'account_id', 'crm_accounts'), ('signals', 'opportunity_id', 'crm_opportunities'),
    ('next_best_actions', 'account_id', 'crm_accounts'), ('next_best_actions', 'opportunity_id', 'crm_opportunities'),
)


def _uuid_default():  # noqa: ANN202 - gen_random_uuid() on PostgreSQL; Python uuid4 on SQLite
    return sa.text('gen_random_uuid()') if is_postgres() else None


def _week_start_check() -> sa.CheckConstraint:
    sql = "EXTRACT(ISODOW FROM week_start) = 1" if is_postgres() else "strftime('%w', week_start) = '1'"
    name = 'ck_weekly_digests_week_start_monday' if is_postgres() else 'ck_weekly_digests_week_start_monday_sqlite'
    return sa.CheckConstraint(sql, name=op.f(name))


def upgrade() -> None:
    op.create_table('crm_accounts',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('domain', sa.Text(), nullable=True),
    sa.Column('external_ref', sa.Text(), nullable=True),
    sa.Column('stage', sa.Text(), server_default='prospect', nullable=False),
    sa.Column('owner_username', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("stage IN ('prospect', 'active', 'inactive')", name=op.f('ck_crm_accounts_stage')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_crm_accounts_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_crm_accounts_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_accounts')),
    sa.UniqueConstraint('project_id', 'name', name='uq_crm_accounts_project_name')
    )
    op.create_index('ix_crm_accounts_project_stage_updated', 'crm_accounts', ['project_id', 'stage', sa.literal_column('updated_at DESC')], unique=False)
    op.create_index('uq_crm_accounts_project_external_ref', 'crm_accounts', ['project_id', 'external_ref'], unique=True, postgresql_where=sa.text('external_ref IS NOT NULL'), sqlite_where=sa.text('external_ref IS NOT NULL'))
    op.create_table('crm_account_contacts',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('contact_global_id', sa.Text(), nullable=False),
    sa.Column('role', sa.Text(), nullable=True),
    sa.Column('is_primary', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_crm_account_contacts_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_crm_account_contacts_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_crm_account_contacts_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_account_contacts')),
    sa.UniqueConstraint('project_id', 'account_id', 'contact_global_id', name='uq_crm_account_contacts_contact')
    )
    op.create_table('crm_opportunities',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('stage', sa.Text(), nullable=False),
    sa.Column('amount_estimate', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('probability', sa.Numeric(precision=5, scale=4), server_default=sa.text('0.1'), nullable=False),
    sa.Column('expected_close_date', sa.Date(), nullable=True),
    sa.Column('next_step', sa.Text(), nullable=False),
    sa.Column('external_ref', sa.Text(), nullable=True),
    sa.Column('owner_username', sa.Text(), nullable=True),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("stage IN ('discovery', 'qualified', 'proposal', 'negotiation', 'won', 'lost')", name=op.f('ck_crm_opportunities_stage')),
    sa.CheckConstraint('probability >= 0 AND probability <= 1', name=op.f('ck_crm_opportunities_probability')),
    sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_crm_opportunities_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_crm_opportunities_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_crm_opportunities_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_opportunities'))
    )
    if is_postgres():
        op.create_index('ix_crm_opportunities_evidence_refs', 'crm_opportunities', ['evidence_refs'], unique=False, postgresql_using='gin', postgresql_ops={'evidence_refs': 'jsonb_path_ops'})
    op.create_index('ix_crm_opportunities_project_stage_close', 'crm_opportunities', ['project_id', 'stage', 'expected_close_date'], unique=False)
    op.create_index('ix_crm_opportunities_project_updated', 'crm_opportunities', ['project_id', sa.literal_column('updated_at DESC')], unique=False)
    op.create_index('uq_crm_opportunities_project_external_ref', 'crm_opportunities', ['project_id', 'external_ref'], unique=True, postgresql_where=sa.text('external_ref IS NOT NULL'), sqlite_where=sa.text('external_ref IS NOT NULL'))
    op.create_table('crm_opportunity_stage_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), sa.Identity(always=False), nullable=False),
    sa.Column('opportunity_id', sa.Uuid(), nullable=False),
    sa.Column('from_stage', sa.Text(), nullable=True),
    sa.Column('to_stage', sa.Text(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=True),
    sa.Column('actor_username', sa.Text(), nullable=False),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('audit_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_crm_opportunity_stage_events_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['audit_event_id'], ['audit_events.id'], name=op.f('fk_crm_opportunity_stage_events_audit_event_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['crm_opportunities.id'], name=op.f('fk_crm_opportunity_stage_events_opportunity_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_crm_opportunity_stage_events_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crm_opportunity_stage_events'))
    )
    op.create_index('ix_crm_opportunity_stage_events_opportunity_created', 'crm_opportunity_stage_events', ['opportunity_id', 'created_at'], unique=False)
    op.create_index('ix_crm_opportunity_stage_events_project_created', 'crm_opportunity_stage_events', ['project_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_table('offers',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('opportunity_id', sa.Uuid(), nullable=True),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('currency', sa.Text(), server_default='USD', nullable=False),
    sa.Column('subtotal', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('discount_pct', sa.Numeric(precision=5, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('total', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('status', sa.Text(), server_default='draft', nullable=False),
    sa.Column('generated_doc_url', sa.Text(), nullable=True),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_by', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('draft', 'approved', 'sent', 'signed', 'rejected')", name=op.f('ck_offers_status')),
    sa.CheckConstraint('discount_pct >= 0 AND discount_pct <= 100', name=op.f('ck_offers_discount_pct')),
    sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_offers_account_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_offers_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['crm_opportunities.id'], name=op.f('fk_offers_opportunity_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_offers_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offers'))
    )
    op.create_index('ix_offers_project_status_updated', 'offers', ['project_id', 'status', sa.literal_column('updated_at DESC')], unique=False)
    op.create_table('offer_items',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('offer_id', sa.Uuid(), nullable=False),
    sa.Column('item_kind', sa.Text(), nullable=False),
    sa.Column('item_code', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), server_default=sa.text('1'), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('line_total', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('meta', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("item_kind IN ('package', 'addon', 'discount')", name=op.f('ck_offer_items_item_kind')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_offer_items_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_offer_items_offer_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_offer_items_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_items'))
    )
    op.create_index('ix_offer_items_project_offer', 'offer_items', ['project_id', 'offer_id'], unique=False)
    op.create_table('offer_approvals',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), sa.Identity(always=False), nullable=False),
    sa.Column('offer_id', sa.Uuid(), nullable=False),
    sa.Column('action', sa.Text(), nullable=False),
    sa.Column('actor_username', sa.Text(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=True),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('audit_event_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("action IN ('approve_discount', 'approve_send', 'reject')", name=op.f('ck_offer_approvals_action')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_offer_approvals_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['audit_event_id'], ['audit_events.id'], name=op.f('fk_offer_approvals_audit_event_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['offer_id'], ['offers.id'], name=op.f('fk_offer_approvals_offer_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_offer_approvals_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer_approvals'))
    )
    op.create_index('ix_offer_approvals_offer_created', 'offer_approvals', ['offer_id', 'created_at'], unique=False)
    op.create_table('daily_digests',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('digest_date', sa.Date(), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_daily_digests_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_daily_digests_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_daily_digests')),
    sa.UniqueConstraint('project_id', 'digest_date', name='uq_daily_digests_project_date')
    )
    op.create_table('weekly_digests',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('week_start', sa.Date(), nullable=False),
    sa.Column('summary', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    _week_start_check(),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_weekly_digests_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_weekly_digests_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_weekly_digests')),
    sa.UniqueConstraint('project_id', 'week_start', name='uq_weekly_digests_project_week')
    )
    op.create_table('health_scores',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('score', sa.Numeric(precision=6, scale=2), nullable=False),
    sa.Column('factors', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('score >= 0 AND score <= 100', name=op.f('ck_health_scores_score')),
    sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_health_scores_account_id'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_health_scores_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_health_scores_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_health_scores'))
    )
    op.create_index('ix_health_scores_project_generated', 'health_scores', ['project_id', sa.literal_column('generated_at DESC')], unique=False, postgresql_include=['score', 'account_id'])
    op.create_table('risk_radar_items',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('opportunity_id', sa.Uuid(), nullable=True),
    sa.Column('radar_key', sa.Text(), nullable=True),
    sa.Column('severity', sa.Integer(), nullable=False),
    sa.Column('probability', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('mitigation_action', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'mitigating', 'closed')", name=op.f('ck_risk_radar_items_status')),
    sa.CheckConstraint('probability >= 0 AND probability <= 1', name=op.f('ck_risk_radar_items_probability')),
    sa.CheckConstraint('severity >= 1 AND severity <= 5', name=op.f('ck_risk_radar_items_severity')),
    sa.ForeignKeyConstraint(['account_id'], ['crm_accounts.id'], name=op.f('fk_risk_radar_items_account_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_risk_radar_items_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['opportunity_id'], ['crm_opportunities.id'], name=op.f('fk_risk_radar_items_opportunity_id'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_risk_radar_items_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_radar_items'))
    )
    op.create_index('ix_risk_radar_items_project_status_severity', 'risk_radar_items', ['project_id', 'status', sa.literal_column('severity DESC')], unique=False)
    op.create_index('uq_risk_radar_items_project_key_open', 'risk_radar_items', ['project_id', 'radar_key'], unique=True, postgresql_where=sa.text("radar_key IS NOT NULL AND status <> 'closed'"), sqlite_where=sa.text("radar_key IS NOT NULL AND status <> 'closed'"))
    op.create_table('risk_pattern_events',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('pattern_key', sa.Text(), nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('weight', sa.Numeric(precision=5, scale=4), server_default=sa.text('0.5'), nullable=False),
    sa.Column('status', sa.Text(), server_default='open', nullable=False),
    sa.Column('mitigation_playbook', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('evidence_refs', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'[]'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint("status IN ('open', 'mitigated', 'ignored')", name=op.f('ck_risk_pattern_events_status')),
    sa.CheckConstraint('weight >= 0 AND weight <= 1', name=op.f('ck_risk_pattern_events_weight')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_risk_pattern_events_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_risk_pattern_events_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_risk_pattern_events')),
    sa.UniqueConstraint('project_id', 'pattern_key', name='uq_risk_pattern_events_project_key')
    )
    op.create_index('ix_risk_pattern_events_project_status_weight', 'risk_pattern_events', ['project_id', 'status', sa.literal_column('weight DESC')], unique=False)
    op.create_table('analytics_revenue_snapshots',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('horizon_days', sa.Integer(), nullable=False),
    sa.Column('pipeline_amount', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('commit_amount', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('won_amount', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('expected_revenue', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('costs_amount', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('gross_margin', sa.Numeric(precision=14, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('attribution', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('generated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.CheckConstraint('horizon_days IN (30, 60, 90)', name=op.f('ck_analytics_revenue_snapshots_horizon_days')),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_analytics_revenue_snapshots_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_analytics_revenue_snapshots_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_revenue_snapshots')),
    sa.UniqueConstraint('project_id', 'period_start', 'horizon_days', name='uq_analytics_revenue_snapshots_period')
    )
    op.create_index('ix_analytics_revenue_snapshots_project_generated', 'analytics_revenue_snapshots', ['project_id', sa.literal_column('generated_at DESC')], unique=False)
    op.create_table('analytics_delivery_snapshots',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('open_issues', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('overdue_issues', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('completed_issues', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('throughput', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('lead_time_days', sa.Numeric(precision=8, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_analytics_delivery_snapshots_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_analytics_delivery_snapshots_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_delivery_snapshots')),
    sa.UniqueConstraint('project_id', 'period_start', 'period_end', name='uq_analytics_delivery_snapshots_period')
    )
    op.create_index('ix_analytics_delivery_snapshots_project_created', 'analytics_delivery_snapshots', ['project_id', sa.literal_column('created_at DESC')], unique=False)
    op.create_table('analytics_comms_snapshots',
    sa.Column('id', sa.Uuid(), server_default=_uuid_default(), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('inbound_messages', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('outbound_messages', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('unique_contacts', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('avg_response_minutes', sa.Numeric(precision=10, scale=2), server_default=sa.text('0'), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), server_default=sa.text("'{}'"), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('project_id', sa.Uuid(), nullable=False),
    sa.Column('account_scope_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'], name=op.f('fk_analytics_comms_snapshots_account_scope_id'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_analytics_comms_snapshots_project_id'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analytics_comms_snapshots')),
    sa.UniqueConstraint('project_id', 'period_start', 'period_end', name='uq_analytics_comms_snapshots_period')
    )
    op.create_index('ix_analytics_comms_snapshots_project_created', 'analytics_comms_snapshots', ['project_id', sa.literal_column('created_at DESC')], unique=False)
    attach_scope_guard(*TABLES)
    if is_postgres():  # SQLite cannot add a foreign key to an existing table
        for table, column, target in KAG_FOREIGN_KEYS:
            op.create_foreign_key(f'fk_{table}_{column}', table, target, [column], ['id'], ondelete='SET NULL')


def downgrade() -> None:
    if is_postgres():
        for table, column, _ in KAG_FOREIGN_KEYS:
            op.drop_constraint(f'fk_{table}_{column}', table, type_='foreignkey')
    detach_scope_guard(*TABLES)
    for table in reversed(TABLES):
        op.drop_table(table)
