"""kag v1 tables

Revision ID: 0004
Revises: 0003

kag.md §18.1 (graph: kag_nodes, kag_edges, kag_events, kag_provenance_refs, kag_ingest_cursors),
§18.2 (kag_signal_state, kag_signals, kag_signal_history, kag_scores, kag_score_history,
kag_recommendations, kag_templates), §18.3 ``kag_event_log`` and §18.4 (signals, next_best_actions),
plus the read indexes KAG's ingest / event-log sync need on the connector tables of 0002
(``coalesce(updated_at, created_at)`` resp. the Linear vendor times).

PostgreSQL also gets ``gen_random_uuid()`` id defaults, the GIN (jsonb_path_ops) indexes on the
evidence columns, ``jsonb_array_length(evidence_refs) > 0`` on kag_recommendations, the functional
unique index of kag_provenance_refs (``coalesce(rag_chunk_id::text, '')``) and the scope trigger.
SQLite gets the same tables with ``json_array_length`` and a ``coalesce(rag_chunk_id, '')`` index,
without the GIN indexes and the trigger (UUIDs come from Python; the ORM listener guards the scope).

``signals.account_id`` / ``opportunity_id`` and ``next_best_actions.account_id`` / ``opportunity_id``
are plain uuid columns here: the tables they reference (crm_accounts, crm_opportunities) are created
by 0005, which must add the four ``ON DELETE SET NULL`` foreign keys after creating them.
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

TABLES = ('kag_nodes', 'kag_edges', 'kag_events', 'kag_provenance_refs', 'kag_ingest_cursors', 'kag_signal_state',
          'kag_signals', 'kag_signal_history', 'kag_scores', 'kag_score_history', 'kag_recommendations',
          'kag_templates', 'kag_event_log', 'signals', 'next_best_actions')
JSONB = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')
BIGINT = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')

NODE_TYPES = ('project', 'client', 'person', 'stage', 'deliverable', 'conversation', 'message', 'task', 'blocker',
              'deal', 'finance_entry', 'agreement', 'decision', 'risk', 'offer')
EDGE_RELATIONS = tuple(f'project_has_{k}' for k in (
    'client', 'stage', 'deliverable', 'task', 'blocker', 'deal', 'finance_entry', 'agreement', 'decision', 'risk',
    'offer', 'conversation')) + (
    'conversation_has_message', 'message_authored_by_person', 'task_blocked_by_blocker',
    'deliverable_depends_on_task', 'deal_for_client', 'agreement_for_deal', 'decision_about_stage',
    'risk_impacts_deliverable', 'offer_targets_client')
GRAPH_EVENT_TYPES = ('message_sent', 'decision_made', 'agreement_created', 'approval_approved', 'stage_started',
                     'stage_completed', 'task_created', 'task_blocked', 'blocker_resolved', 'deal_updated',
                     'finance_entry_created', 'risk_detected', 'scope_change_requested', 'need_detected',
                     'offer_created')
SIGNAL_KEYS = ('waiting_on_client_days', 'response_time_avg', 'blockers_age', 'stage_overdue',
               'agreement_overdue_count', 'sentiment_trend', 'scope_creep_rate', 'budget_burn_rate', 'margin_risk',
               'activity_drop')
SIGNAL_STATUSES = ('ok', 'warn', 'critical')
SCORE_TYPES = ('project_health', 'risk', 'client_value', 'upsell_likelihood')
SCORE_LEVELS = ('low', 'medium', 'high', 'critical')
V1_CATEGORIES = ('waiting_on_client', 'scope_creep_change_request', 'delivery_risk', 'finance_risk',
                 'upsell_opportunity')
PROPOSAL_STATUSES = ('proposed', 'accepted', 'dismissed', 'done')
EVENT_LOG_TYPES = (
    'message_sent', 'approval_requested', 'scope_change_detected', 'client_silent_started', 'issue_created',
    'issue_blocked', 'issue_unblocked', 'deal_stage_changed', 'invoice_paid', 'invoice_sent', 'note_logged',
    'activity_logged', 'approval_approved', 'stage_started', 'stage_completed', 'contact_updated',
    'process_started', 'process_finished', 'process_failed', 'process_warning')


def _uuid_pk() -> sa.Column:
    default = sa.text('gen_random_uuid()') if is_postgres() else None
    return sa.Column('id', sa.Uuid(), server_default=default, nullable=False)


def _big_pk() -> sa.Column:
    return sa.Column('id', BIGINT, sa.Identity(always=False), nullable=False)


def _text(name: str, nullable: bool = False, default: str | None = None) -> sa.Column:
    return sa.Column(name, sa.Text(), server_default=default, nullable=nullable)


def _ts(name: str, nullable: bool = True, now: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), server_default=sa.func.now() if now else None,
                     nullable=nullable)


def _json(name: str, empty: str) -> sa.Column:
    return sa.Column(name, JSONB, server_default=sa.text(f"'{empty}'"), nullable=False)


def _scope(table: str, project_fk: bool = True) -> list:
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


def _check(table: str, name: str, sql: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(sql, name=op.f(f'ck_{table}_{name}'))


def _pk(table: str, *columns: str) -> sa.PrimaryKeyConstraint:
    return sa.PrimaryKeyConstraint(*(columns or ('id',)), name=op.f(f'pk_{table}'))


def _desc(column: str) -> sa.sql.elements.ColumnClause:
    return sa.literal_column(f'{column} DESC')


def _gin(name: str, table: str, column: str) -> None:
    if is_postgres():
        op.execute(f'CREATE INDEX {name} ON {table} USING gin ({column} jsonb_path_ops)')


def _graph() -> None:
    op.create_table('kag_nodes',
    _uuid_pk(),
    _text('node_type'),
    _text('node_key'),
    _text('status', default='active'),
    _text('title', nullable=True),
    _json('payload', '{}'),
    _json('numeric_fields', '{}'),
    _json('source_refs', '[]'),
    _json('rag_chunk_refs', '[]'),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_nodes'),
    _check('kag_nodes', 'node_type', _in('node_type', NODE_TYPES)),
    _check('kag_nodes', 'status', _in('status', ('active', 'inactive', 'archived'))),
    _pk('kag_nodes'),
    sa.UniqueConstraint('project_id', 'node_type', 'node_key', name='uq_kag_nodes_identity'),
    )
    op.create_index('ix_kag_nodes_project_type_status_updated', 'kag_nodes',
                    ['project_id', 'node_type', 'status', _desc('updated_at')])
    _gin('ix_kag_nodes_source_refs', 'kag_nodes', 'source_refs')

    op.create_table('kag_edges',
    _uuid_pk(),
    sa.Column('from_node_id', sa.Uuid(), nullable=False),
    sa.Column('to_node_id', sa.Uuid(), nullable=False),
    _text('relation_type'),
    _text('status', default='active'),
    sa.Column('weight', sa.Numeric(7, 4), server_default=sa.text('1'), nullable=False),
    _json('payload', '{}'),
    _json('source_refs', '[]'),
    _json('rag_chunk_refs', '[]'),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_edges'),
    sa.ForeignKeyConstraint(['from_node_id'], ['kag_nodes.id'], name=op.f('fk_kag_edges_from_node_id'),
                            ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['to_node_id'], ['kag_nodes.id'], name=op.f('fk_kag_edges_to_node_id'),
                            ondelete='CASCADE'),
    _check('kag_edges', 'relation_type', _in('relation_type', EDGE_RELATIONS)),
    _check('kag_edges', 'status', _in('status', ('active', 'inactive'))),
    _check('kag_edges', 'weight', 'weight >= 0 AND weight <= 1'),
    _pk('kag_edges'),
    sa.UniqueConstraint('project_id', 'from_node_id', 'to_node_id', 'relation_type', name='uq_kag_edges_identity'),
    )
    op.create_index('ix_kag_edges_project_relation_status_updated', 'kag_edges',
                    ['project_id', 'relation_type', 'status', _desc('updated_at')])
    _gin('ix_kag_edges_source_refs', 'kag_edges', 'source_refs')

    op.create_table('kag_events',
    _big_pk(),
    _text('event_type'),
    _ts('event_ts', nullable=False, now=True),
    sa.Column('actor_node_id', sa.Uuid(), nullable=True),
    sa.Column('subject_node_id', sa.Uuid(), nullable=True),
    _text('status', default='open'),
    _json('payload', '{}'),
    _json('source_refs', '[]'),
    _json('rag_chunk_refs', '[]'),
    _text('dedupe_key'),
    _ts('processed_at'),
    _ts('created_at', nullable=False, now=True),
    *_scope('kag_events'),
    sa.ForeignKeyConstraint(['actor_node_id'], ['kag_nodes.id'], name=op.f('fk_kag_events_actor_node_id'),
                            ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['subject_node_id'], ['kag_nodes.id'], name=op.f('fk_kag_events_subject_node_id'),
                            ondelete='SET NULL'),
    _check('kag_events', 'event_type', _in('event_type', GRAPH_EVENT_TYPES)),
    _check('kag_events', 'status', _in('status', ('open', 'processed', 'ignored'))),
    _pk('kag_events'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_kag_events_project_dedupe'),
    )
    op.create_index('ix_kag_events_project_type_ts', 'kag_events', ['project_id', 'event_type', _desc('event_ts')])
    op.create_index('ix_kag_events_project_status_id', 'kag_events', ['project_id', 'status', 'id'])
    op.create_index('ix_kag_events_project_id', 'kag_events', ['project_id', 'id'])
    _gin('ix_kag_events_source_refs', 'kag_events', 'source_refs')

    op.create_table('kag_provenance_refs',
    _uuid_pk(),
    _text('object_kind'),
    _text('object_id'),
    _text('source_kind'),
    _text('message_id', nullable=True),
    _text('linear_issue_id', nullable=True),
    _text('attio_record_id', nullable=True),
    _text('doc_url', nullable=True),
    sa.Column('rag_chunk_id', sa.Uuid(), nullable=True),
    _text('source_table', nullable=True),
    _text('source_pk', nullable=True),
    _json('metadata', '{}'),
    _ts('created_at', nullable=False, now=True),
    *_scope('kag_provenance_refs'),
    sa.ForeignKeyConstraint(['rag_chunk_id'], ['rag_chunks.id'], name=op.f('fk_kag_provenance_refs_rag_chunk_id'),
                            ondelete='SET NULL'),
    _check('kag_provenance_refs', 'object_kind',
           _in('object_kind', ('node', 'edge', 'event', 'signal', 'score', 'recommendation'))),
    _check('kag_provenance_refs', 'source_kind',
           _in('source_kind', ('chatwoot_message', 'linear_issue', 'attio_record', 'document', 'rag_chunk',
                               'manual', 'system'))),
    _check('kag_provenance_refs', 'has_id',
           'message_id IS NOT NULL OR linear_issue_id IS NOT NULL OR attio_record_id IS NOT NULL '
           'OR doc_url IS NOT NULL OR rag_chunk_id IS NOT NULL'),
    _pk('kag_provenance_refs'),
    )
    chunk = "rag_chunk_id::text" if is_postgres() else "rag_chunk_id"
    op.execute(
        "CREATE UNIQUE INDEX uq_kag_provenance_refs_identity ON kag_provenance_refs (project_id, object_kind, "
        "object_id, source_kind, coalesce(message_id, ''), coalesce(linear_issue_id, ''), "
        f"coalesce(attio_record_id, ''), coalesce(doc_url, ''), coalesce({chunk}, ''))")
    op.create_index('ix_kag_provenance_refs_object', 'kag_provenance_refs',
                    ['project_id', 'object_kind', 'object_id', _desc('created_at')])
    for name, column in (('message', 'message_id'), ('linear', 'linear_issue_id'), ('attio', 'attio_record_id')):
        where = sa.text(f'{column} IS NOT NULL')
        op.create_index(f'ix_kag_provenance_refs_{name}', 'kag_provenance_refs', ['project_id', column],
                        postgresql_where=where, sqlite_where=where)

    op.create_table('kag_ingest_cursors',
    _text('source'),
    _ts('cursor_ts'),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_ingest_cursors'),
    _check('kag_ingest_cursors', 'source', _in('source', ('chatwoot_messages', 'linear_issues', 'attio_deals'))),
    _pk('kag_ingest_cursors', 'project_id', 'source'),
    )


def _signals_scores() -> None:
    array_length = 'jsonb_array_length' if is_postgres() else 'json_array_length'

    op.create_table('kag_signal_state',
    sa.Column('last_event_id', BIGINT, server_default=sa.text('0'), nullable=False),
    _json('state_payload', '{}'),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_signal_state'),
    _pk('kag_signal_state', 'project_id'),
    )

    op.create_table('kag_signals',
    _uuid_pk(),
    _text('signal_key'),
    sa.Column('value', sa.Numeric(14, 4), nullable=False),
    _text('status'),
    sa.Column('threshold_warn', sa.Numeric(14, 4), nullable=True),
    sa.Column('threshold_critical', sa.Numeric(14, 4), nullable=True),
    _json('details', '{}'),
    _json('evidence_refs', '[]'),
    _ts('computed_at', nullable=False),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_signals'),
    _check('kag_signals', 'signal_key', _in('signal_key', SIGNAL_KEYS)),
    _check('kag_signals', 'status', _in('status', SIGNAL_STATUSES)),
    _pk('kag_signals'),
    sa.UniqueConstraint('project_id', 'signal_key', name='uq_kag_signals_project_key'),
    )
    op.create_index('ix_kag_signals_project_status_updated', 'kag_signals',
                    ['project_id', 'status', _desc('updated_at')])

    op.create_table('kag_signal_history',
    _big_pk(),
    _text('signal_key'),
    sa.Column('value', sa.Numeric(14, 4), nullable=False),
    _text('status'),
    _json('details', '{}'),
    _json('evidence_refs', '[]'),
    _ts('computed_at', nullable=False),
    *_scope('kag_signal_history'),
    _check('kag_signal_history', 'status', _in('status', SIGNAL_STATUSES)),
    _pk('kag_signal_history'),
    )
    op.create_index('ix_kag_signal_history_project_key_computed', 'kag_signal_history',
                    ['project_id', 'signal_key', _desc('computed_at')])
    op.create_index('ix_kag_signal_history_computed', 'kag_signal_history', ['computed_at'])

    op.create_table('kag_scores',
    _uuid_pk(),
    _text('score_type'),
    sa.Column('score', sa.Numeric(6, 2), nullable=False),
    _text('level'),
    _json('weights', '{}'),
    _json('thresholds', '{}'),
    _json('factors', '[]'),
    _json('evidence_refs', '[]'),
    _ts('computed_at', nullable=False),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_scores'),
    _check('kag_scores', 'score_type', _in('score_type', SCORE_TYPES)),
    _check('kag_scores', 'score', 'score >= 0 AND score <= 100'),
    _check('kag_scores', 'level', _in('level', SCORE_LEVELS)),
    _pk('kag_scores'),
    sa.UniqueConstraint('project_id', 'score_type', name='uq_kag_scores_project_type'),
    )
    op.create_index('ix_kag_scores_project_type_updated', 'kag_scores',
                    ['project_id', 'score_type', _desc('updated_at')])

    op.create_table('kag_score_history',
    _big_pk(),
    _text('score_type'),
    sa.Column('score', sa.Numeric(6, 2), nullable=False),
    _text('level'),
    _json('factors', '[]'),
    _json('evidence_refs', '[]'),
    _ts('computed_at', nullable=False),
    *_scope('kag_score_history'),
    _check('kag_score_history', 'score_type', _in('score_type', SCORE_TYPES)),
    _check('kag_score_history', 'score', 'score >= 0 AND score <= 100'),
    _check('kag_score_history', 'level', _in('level', SCORE_LEVELS)),
    _pk('kag_score_history'),
    )
    op.create_index('ix_kag_score_history_project_type_computed', 'kag_score_history',
                    ['project_id', 'score_type', _desc('computed_at')])
    op.create_index('ix_kag_score_history_computed', 'kag_score_history', ['computed_at'])

    op.create_table('kag_recommendations',
    _uuid_pk(),
    _text('category'),
    sa.Column('priority', sa.Integer(), nullable=False),
    _text('status', default='proposed'),
    _text('title'),
    _text('rationale'),
    _text('suggested_template_key'),
    _text('suggested_template'),
    _json('evidence_refs', '[]'),
    _json('signal_snapshot', '{}'),
    _json('score_snapshot', '{}'),
    _text('dedupe_key'),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_recommendations'),
    _check('kag_recommendations', 'category', _in('category', V1_CATEGORIES)),
    _check('kag_recommendations', 'priority', 'priority >= 1 AND priority <= 5'),
    _check('kag_recommendations', 'status', _in('status', PROPOSAL_STATUSES)),
    _check('kag_recommendations', 'evidence_required', f'{array_length}(evidence_refs) > 0'),
    _pk('kag_recommendations'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_kag_recommendations_project_dedupe'),
    )
    op.create_index('ix_kag_recommendations_project_status_priority', 'kag_recommendations',
                    ['project_id', 'status', _desc('priority'), _desc('updated_at')])
    op.create_index('ix_kag_recommendations_project_priority', 'kag_recommendations',
                    ['project_id', _desc('priority'), _desc('updated_at')])
    _gin('ix_kag_recommendations_evidence_refs', 'kag_recommendations', 'evidence_refs')

    op.create_table('kag_templates',
    _uuid_pk(),
    _text('template_key'),
    _text('category'),
    _text('language', default='ru'),
    _text('channel', default='email'),
    _text('body'),
    _text('source', default='system'),
    sa.Column('version', sa.Integer(), server_default=sa.text('1'), nullable=False),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('kag_templates'),
    _check('kag_templates', 'source', _in('source', ('system', 'llm'))),
    _pk('kag_templates'),
    sa.UniqueConstraint('project_id', 'template_key', 'language', 'channel', 'version',
                        name='uq_kag_templates_version'),
    )
    op.create_index('ix_kag_templates_lookup', 'kag_templates',
                    ['project_id', 'template_key', 'language', 'channel', _desc('version')])


def _event_log() -> None:
    op.create_table('kag_event_log',
    _big_pk(),
    _text('event_type'),
    _ts('occurred_at', nullable=False),
    _text('actor', default='system'),
    _text('source'),
    _text('source_ref'),
    _text('source_url', nullable=True),
    _text('source_message_id', nullable=True),
    _text('source_linear_issue_id', nullable=True),
    _text('source_attio_record_id', nullable=True),
    _json('payload_json', '{}'),
    _text('dedupe_key'),
    _ts('created_at', nullable=False, now=True),
    *_scope('kag_event_log'),
    _check('kag_event_log', 'event_type', _in('event_type', EVENT_LOG_TYPES)),
    _check('kag_event_log', 'actor', _in('actor', ('client', 'team', 'system'))),
    _check('kag_event_log', 'source', _in('source', ('chatwoot', 'linear', 'attio', 'system'))),
    _pk('kag_event_log'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_kag_event_log_project_dedupe'),
    )
    op.create_index('ix_kag_event_log_project_occurred', 'kag_event_log', ['project_id', _desc('occurred_at')])
    op.create_index('ix_kag_event_log_project_source_ref', 'kag_event_log', ['project_id', 'source', 'source_ref'])
    op.create_index('ix_kag_event_log_project_type_occurred', 'kag_event_log',
                    ['project_id', 'event_type', _desc('occurred_at')])
    op.create_index('ix_kag_event_log_project_source_occurred', 'kag_event_log',
                    ['project_id', 'source', _desc('occurred_at'), _desc('id')])


def _legacy() -> None:
    op.create_table('signals',
    _uuid_pk(),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('opportunity_id', sa.Uuid(), nullable=True),
    _text('signal_type'),
    sa.Column('severity', sa.Integer(), server_default=sa.text('2'), nullable=False),
    sa.Column('confidence', sa.Numeric(5, 4), server_default=sa.text('0.5'), nullable=False),
    _text('summary'),
    _text('dedupe_key'),
    _json('evidence_refs', '[]'),
    _text('status', default='proposed'),
    _text('source_kind', default='conversation'),
    _ts('created_at', nullable=False, now=True),
    *_scope('signals'),
    _check('signals', 'severity', 'severity >= 1 AND severity <= 5'),
    _check('signals', 'confidence', 'confidence >= 0 AND confidence <= 1'),
    _check('signals', 'status', _in('status', PROPOSAL_STATUSES)),
    _check('signals', 'source_kind', _in('source_kind', ('conversation', 'crm', 'linear', 'campaign', 'system'))),
    _pk('signals'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_signals_project_dedupe'),
    )
    op.create_index('ix_signals_project_created', 'signals', ['project_id', _desc('created_at')])
    op.create_index('ix_signals_project_severity_confidence', 'signals',
                    ['project_id', _desc('severity'), _desc('confidence')])

    op.create_table('next_best_actions',
    _uuid_pk(),
    sa.Column('signal_id', sa.Uuid(), nullable=True),
    sa.Column('account_id', sa.Uuid(), nullable=True),
    sa.Column('opportunity_id', sa.Uuid(), nullable=True),
    _text('action_type'),
    sa.Column('priority', sa.Integer(), server_default=sa.text('3'), nullable=False),
    _text('status', default='proposed'),
    _text('summary'),
    sa.Column('due_date', sa.Date(), nullable=True),
    _text('owner_username', nullable=True),
    _json('evidence_refs', '[]'),
    _text('dedupe_key'),
    _ts('created_at', nullable=False, now=True),
    _ts('updated_at', nullable=False, now=True),
    *_scope('next_best_actions'),
    sa.ForeignKeyConstraint(['signal_id'], ['signals.id'], name=op.f('fk_next_best_actions_signal_id'),
                            ondelete='SET NULL'),
    _check('next_best_actions', 'priority', 'priority >= 1 AND priority <= 5'),
    _check('next_best_actions', 'status', _in('status', PROPOSAL_STATUSES + ('cancelled',))),
    _pk('next_best_actions'),
    sa.UniqueConstraint('project_id', 'dedupe_key', name='uq_next_best_actions_project_dedupe'),
    )
    op.create_index('ix_next_best_actions_project_status_priority', 'next_best_actions',
                    ['project_id', 'status', _desc('priority')])
    op.create_index('ix_next_best_actions_project_priority_updated', 'next_best_actions',
                    ['project_id', _desc('priority'), _desc('updated_at')])


def _read_indexes() -> None:
    """Indexes KAG's ingest and event-log sync scan the connector tables (0002) with."""
    op.create_index('ix_cw_messages_project_changed', 'cw_messages',
                    ['project_id', sa.literal_column('coalesce(updated_at, created_at)')])
    op.create_index('ix_attio_opportunities_raw_project_changed', 'attio_opportunities_raw',
                    ['project_id', sa.literal_column('coalesce(updated_at, created_at)')])
    op.create_index('ix_linear_issues_raw_project_vendor_changed', 'linear_issues_raw',
                    ['project_id', sa.literal_column('coalesce(vendor_updated_at, vendor_created_at)')])


def upgrade() -> None:
    _graph()
    _signals_scores()
    _event_log()
    _legacy()
    _read_indexes()
    attach_scope_guard(*TABLES)


def downgrade() -> None:
    for name, table in (('ix_linear_issues_raw_project_vendor_changed', 'linear_issues_raw'),
                        ('ix_attio_opportunities_raw_project_changed', 'attio_opportunities_raw'),
                        ('ix_cw_messages_project_changed', 'cw_messages')):
        op.drop_index(name, table_name=table)
    detach_scope_guard(*TABLES)
    for table in reversed(TABLES):
        op.drop_table(table)
