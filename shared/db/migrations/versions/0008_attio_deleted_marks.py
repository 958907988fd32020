"""attio deleted marks

Revision ID: 0008
Revises: 0007

connectors-rag §16 (a record deleted upstream: raw rows are kept, no hard deletes): the Attio raw tables
get ``seen_cycle`` (the scan cycle that last returned the record) and ``deleted_at`` (marked when a
completed cycle no longer returned it). Both nullable: rows synced before this revision have
``seen_cycle`` NULL until the next scan sees them. Plain ``ADD COLUMN`` on PostgreSQL and SQLite.
"""

from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

TABLES = ('attio_accounts_raw', 'attio_opportunities_raw', 'attio_people_raw', 'attio_activities_raw')


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column('seen_cycle', sa.Integer(), nullable=True))
        op.add_column(table, sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    # plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would lose the expression index of 0004
    for table in TABLES:
        op.drop_column(table, 'deleted_at')
        op.drop_column(table, 'seen_cycle')
