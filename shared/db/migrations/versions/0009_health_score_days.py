"""health score days

Revision ID: 0009
Revises: 0008

``health_score_days``: project-level health scores (``account_id IS NULL``) summed and counted per UTC
day, for the portfolio's 60-day health chart (business.md §A7), which otherwise aggregates every
half-hourly score of the selection on each request. Kept by row triggers on ``health_scores`` on both
dialects (insert adds, delete subtracts, an update does both; a day whose count reaches 0 is removed),
so it is exact whoever writes or deletes the scores; the scores already present are summed in here.
"""

from alembic import op
import sqlalchemy as sa

from shared.db.migrations.helpers import attach_scope_guard, detach_scope_guard, is_postgres

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

PG_DAY = "(({row}.generated_at AT TIME ZONE 'UTC')::date)"
SQLITE_DAY = "date({row}.generated_at)"

PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION health_score_days_apply() RETURNS trigger AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.account_id IS NULL THEN
    UPDATE health_score_days SET score_sum = score_sum - OLD.score, score_count = score_count - 1
     WHERE project_id = OLD.project_id AND day = {PG_DAY.format(row='OLD')};
    DELETE FROM health_score_days
     WHERE project_id = OLD.project_id AND day = {PG_DAY.format(row='OLD')} AND score_count <= 0;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.account_id IS NULL THEN
    INSERT INTO health_score_days (project_id, account_scope_id, day, score_sum, score_count)
    VALUES (NEW.project_id, NEW.account_scope_id, {PG_DAY.format(row='NEW')}, NEW.score, 1)
    ON CONFLICT (project_id, day) DO UPDATE
      SET score_sum = health_score_days.score_sum + EXCLUDED.score_sum,
          score_count = health_score_days.score_count + 1;
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;
"""


def _sqlite_subtract(row: str) -> str:
    day = SQLITE_DAY.format(row=row)
    return (f"UPDATE health_score_days SET score_sum = score_sum - {row}.score, score_count = score_count - 1 "
            f"WHERE project_id = {row}.project_id AND day = {day} AND {row}.account_id IS NULL; "
            f"DELETE FROM health_score_days WHERE project_id = {row}.project_id AND day = {day} "
            f"AND score_count <= 0;")


def _sqlite_add(row: str) -> str:
    return (f"INSERT INTO health_score_days (project_id, account_scope_id, day, score_sum, score_count) "
            f"SELECT {row}.project_id, {row}.account_scope_id, {SQLITE_DAY.format(row=row)}, {row}.score, 1 "
            f"WHERE {row}.account_id IS NULL "
            f"ON CONFLICT (project_id, day) DO UPDATE SET score_sum = score_sum + excluded.score_sum, "
            f"score_count = score_count + 1;")


SQLITE_TRIGGERS = {
    "trg_health_scores_days_insert": f"AFTER INSERT ON health_scores BEGIN {_sqlite_add('NEW')} END",
    "trg_health_scores_days_delete": f"AFTER DELETE ON health_scores BEGIN {_sqlite_subtract('OLD')} END",
    "trg_health_scores_days_update": ("AFTER UPDATE OF project_id, account_id, score, generated_at ON health_scores "
                                      f"BEGIN {_sqlite_subtract('OLD')} {_sqlite_add('NEW')} END"),
}


def upgrade() -> None:
    op.create_table(
        'health_score_days',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('score_sum', sa.Numeric(precision=16, scale=2), nullable=False),
        sa.Column('score_count', sa.Integer(), nullable=False),
        sa.Column('project_id', sa.Uuid(), nullable=False),
        sa.Column('account_scope_id', sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(['account_scope_id'], ['account_scopes.id'],
                                name=op.f('fk_health_score_days_account_scope_id'), ondelete='RESTRICT'),
        sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_health_score_days_project_id'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('project_id', 'day', name='pk_health_score_days'),
    )
    attach_scope_guard('health_score_days')
    if is_postgres():  # no score may land between the sums below and the trigger (it would be missed)
        op.execute("LOCK TABLE health_scores IN SHARE ROW EXCLUSIVE MODE")
    day = (PG_DAY if is_postgres() else SQLITE_DAY).format(row='health_scores')
    op.execute(
        "INSERT INTO health_score_days (project_id, account_scope_id, day, score_sum, score_count) "
        f"SELECT project_id, account_scope_id, {day}, sum(score), count(*) FROM health_scores "
        f"WHERE account_id IS NULL GROUP BY project_id, account_scope_id, {day}"
    )
    if is_postgres():
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER trg_health_scores_days AFTER INSERT OR DELETE OR UPDATE OF "
                   "project_id, account_id, score, generated_at ON health_scores "
                   "FOR EACH ROW EXECUTE FUNCTION health_score_days_apply()")
    else:
        for name, body in SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")


def downgrade() -> None:
    if is_postgres():
        op.execute("DROP TRIGGER IF EXISTS trg_health_scores_days ON health_scores")
        op.execute("DROP FUNCTION IF EXISTS health_score_days_apply()")
    else:
        for name in SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    detach_scope_guard('health_score_days')
    op.drop_table('health_score_days')
