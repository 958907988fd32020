"""kag v2 tables

Revision ID: 0007
Revises: 0006

kag.md §18.3 (v2 part): project_snapshots, past_case_outcomes, case_signatures, kag_risk_forecasts,
recommendations_v2. PostgreSQL also gets ``gen_random_uuid()`` id defaults, the GIN index on
``recommendations_v2.evidence_refs``, ``jsonb_array_length(evidence_refs) > 0`` and the scope
trigger; SQLite gets the same tables with ``json_array_length`` and without the GIN index and
trigger (UUIDs come from Python there; the ORM listener guards the scope).
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

TABLES = ('project_snapshots', 'past_case_outcomes', 'case_signatures', 'kag_risk_forecasts', 'recommendations_v2')
JSONB = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def _uuid_pk() -> sa.Column:
    default = sa.text('gen_random_uuid()') if is_postgres() else None
    return sa.Column('id', sa.Uuid(), server_default=default, nullable=False)


def _ts(name: str, nullable: bool = True, now: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now() if now else None,
                     nullable=nullable)


def _json(name: str, empty: str) -> sa.Column:
    return sa.Column(name, JSONB, server_default=sa.text(f"'{empty}'"), nullable=False)


def _prob(name: str) -> sa.Column:
    return sa.Column(name, sa.Numeric(6, 4), nullable=False)


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


def _desc(column: str) -> sa.sql.elements.ColumnClause:
    return sa.literal_column(f'{column} DESC')


def upgrade() -> None:
    array_length = 'jsonb_array_length' if is_postgres() else 'json_array_length'

    op.create_table('project_snapshots',
    sa.Column('id', BIGINT, sa.Identity(always=False), nullable=False),
    sa.Column('snapshot_date', sa.Date(), nullable=False),
    _json('signals_json', '{}'),
    _json('normalized_signals_json', '{}'),
    _json('scores_json', '{}'),
    _json('key_aggregates_json', '{}'),
    sa.Column('publishable', sa.Boolean(), server_default=sa.false(), nullable=False),
    _ts('created_at', nullable=False, now=True),
    *_scope('project_snapshots'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_project_snapshots')),
    sa.UniqueConstraint('project_id', 'snapshot_date', name='uq_project_snapshots_project_date'),
    )
    op.create_index('ix_project_snapshots_project_date', 'project_snapshots',
                    ['project_id', _desc('snapshot_date')], unique=False)

    op.create_table('past_case_outcomes',
    _uuid_pk(),
    sa.Column('outcome_type', sa.Text(), nullable=False),
    _ts('occurred_at', nullable=False),
    sa.Column('severity', sa.Integer(), server_default='3', nullable=False),
    sa.Column('notes', sa.Text(), nullable=True),
    _json('evidence_refs', '[]'),
    sa.Column('source_event_id', BIGINT, nullable=True),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    _ts('created_at', nullable=False, now=True),
    *_scope('past_case_outcomes'),
    sa.ForeignKeyConstraint(['source_event_id'], ['kag_event_log.id'],
                            name=op.f('fk_past_case_outcomes_source_event_id'), ondelete='SET NULL'),
    sa.CheckConstraint('severity >= 1 AND severity <= 5', name=op.f('ck_past_case_outcomes_severity')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_past_case_outcomes')),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_past_case_outcomes_project_dedupe'),
    )
    op.create_index('ix_past_case_outcomes_project_type_occurred', 'past_case_outcomes',
                    ['project_id', 'outcome_type', _desc('occurred_at')], unique=False)
    op.create_index('ix_past_case_outcomes_project_occurred', 'past_case_outcomes',
                    ['project_id', _desc('occurred_at')], unique=False)

    op.create_table('case_signatures',
    _uuid_pk(),
    sa.Column('window_days', sa.Integer(), nullable=False),
    _json('signature_vector', '[]'),
    sa.Column('signature_hash', sa.Text(), nullable=False),
    _json('features_json', '{}'),
    _json('context_json', '{}'),
    _ts('computed_at', nullable=False),
    _ts('updated_at', nullable=False, now=True),
    *_scope('case_signatures'),
    sa.CheckConstraint(_in('window_days', (7, 14, 30)), name=op.f('ck_case_signatures_window_days')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_case_signatures')),
    sa.UniqueConstraint('project_id', 'window_days', name='uq_case_signatures_project_window'),
    )
    op.create_index('ix_case_signatures_project_computed', 'case_signatures',
                    ['project_id', _desc('computed_at')], unique=False)
    op.create_index('ix_case_signatures_hash', 'case_signatures', ['signature_hash'], unique=False)
    op.create_index('ix_case_signatures_scope_window_updated', 'case_signatures',
                    ['account_scope_id', 'window_days', _desc('updated_at')], unique=False)

    op.create_table('kag_risk_forecasts',
    _uuid_pk(),
    sa.Column('risk_type', sa.Text(), nullable=False),
    _prob('probability_7d'),
    _prob('probability_14d'),
    _prob('probability_30d'),
    sa.Column('expected_time_to_risk_days', sa.Numeric(8, 2), nullable=True),
    sa.Column('confidence', sa.Numeric(6, 4), server_default=sa.text('0.5'), nullable=False),
    _json('top_drivers', '[]'),
    _json('similar_cases', '[]'),
    _json('evidence_refs', '[]'),
    sa.Column('publishable', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('model', sa.Text(), server_default='rules_v1', nullable=False),
    _ts('generated_at', nullable=False),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_risk_forecasts'),
    sa.CheckConstraint(_in('risk_type', ('delivery_risk', 'finance_risk', 'client_risk', 'scope_risk')),
                       name=op.f('ck_kag_risk_forecasts_risk_type')),
    *[sa.CheckConstraint(f'{c} >= 0 AND {c} <= 1', name=op.f(f'ck_kag_risk_forecasts_{c}'))
      for c in ('probability_7d', 'probability_14d', 'probability_30d', 'confidence')],
    sa.CheckConstraint(_in('model', ('rules_v1', 'logit_v1')), name=op.f('ck_kag_risk_forecasts_model')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_kag_risk_forecasts')),
    sa.UniqueConstraint('project_id', 'risk_type', name='uq_kag_risk_forecasts_project_type'),
    )
    op.create_index('ix_kag_risk_forecasts_project_generated', 'kag_risk_forecasts',
                    ['project_id', _desc('generated_at')], unique=False)

    op.create_table('recommendations_v2',
    _uuid_pk(),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('owner_role', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='new', nullable=False),
    sa.Column('title', sa.Text(), nullable=False),
    sa.Column('rationale', sa.Text(), nullable=False),
    sa.Column('why_now', sa.Text(), nullable=True),
    sa.Column('expected_impact', sa.Text(), nullable=True),
    _json('evidence_refs', '[]'),
    _json('links', '[]'),
    sa.Column('suggested_template_key', sa.Text(), nullable=False),
    sa.Column('suggested_template', sa.Text(), nullable=False),
    _json('signal_snapshot', '{}'),
    _json('forecast_snapshot', '{}'),
    sa.Column('helpful_feedback', sa.Text(), server_default='unknown', nullable=False),
    sa.Column('feedback_note', sa.Text(), nullable=True),
    sa.Column('shown_count', sa.Integer(), server_default='0', nullable=False),
    _ts('first_shown_at'),
    _ts('last_shown_at'),
    sa.Column('dedupe_key', sa.Text(), nullable=False),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    _ts('completed_at'),
    *_scope('recommendations_v2'),
    sa.CheckConstraint(_in('category', ('waiting_on_client', 'scope_creep_change_request', 'delivery_risk',
                                        'finance_risk', 'upsell_opportunity', 'winback')),
                       name=op.f('ck_recommendations_v2_category')),
    sa.CheckConstraint('priority >= 1 AND priority <= 5', name=op.f('ck_recommendations_v2_priority')),
    sa.CheckConstraint(_in('status', ('new', 'acknowledged', 'done', 'dismissed')),
                       name=op.f('ck_recommendations_v2_status')),
    sa.CheckConstraint(_in('helpful_feedback', ('unknown', 'helpful', 'not_helpful')),
                       name=op.f('ck_recommendations_v2_helpful_feedback')),
    sa.CheckConstraint("owner_role IS NULL OR " + _in('owner_role', ('pm', 'finance_lead', 'account_manager')),
                       name=op.f('ck_recommendations_v2_owner_role')),
    sa.CheckConstraint(f'{array_length}(evidence_refs) > 0', name=op.f('ck_recommendations_v2_evidence_required')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recommendations_v2')),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_recommendations_v2_project_dedupe'),
    )
    op.create_index('ix_recommendations_v2_project_status_priority', 'recommendations_v2',
                    ['project_id', 'status', _desc('priority'), _desc('updated_at')], unique=False)
    op.create_index('ix_recommendations_v2_scope_status_priority', 'recommendations_v2',
                    ['account_scope_id', 'status', _desc('priority'), _desc('updated_at')], unique=False)
    op.create_index('ix_recommendations_v2_status_feedback_updated', 'recommendations_v2',
                    ['status', 'helpful_feedback', _desc('updated_at')], unique=False)
    if is_postgres():
        op.create_index('ix_recommendations_v2_evidence_refs', 'recommendations_v2', ['evidence_refs'],
                        unique=False, postgresql_using='gin', postgresql_ops={'evidence_refs': 'jsonb_path_ops'})

    attach_scope_guard(*TABLES)


def downgrade() -> None:
    detach_scope_guard(*TABLES)
    for table in reversed(TABLES):
        op.drop_table(table)
