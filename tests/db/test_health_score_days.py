"""``health_score_days`` (migration 0009): the per-day roll-up the portfolio's health chart reads follows
every insert, update and delete of project-level health scores, on PostgreSQL and (re-run from
``tests/sqlite``) on SQLite."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import delete, select, update

from shared.config import Settings
from shared.db.migrate import upgrade
from shared.db.models.business import CrmAccount, HealthScore, HealthScoreDay
from shared.runtime import Runtime
from shared.scope import Scope
from shared.timeutil import as_utc
from tests.conftest import base_env
from tests.db.test_rag_chunks import make_scope
from tests.support import create_pg_database, drop_pg_database

MIDNIGHT = datetime(2026, 11, 20, tzinfo=UTC)


def add_scores(rt: Runtime, scope: Scope, *scores: tuple[datetime, str], account_id: object = None) -> list:
    with rt.transaction() as s:
        rows = [HealthScore(project_id=scope.project_id, account_scope_id=scope.account_scope_id, account_id=account_id,
                            score=Decimal(score), generated_at=at) for at, score in scores]
        s.add_all(rows)
    return [r.id for r in rows]


def from_scores(rt: Runtime, scope: Scope) -> dict[date, tuple[Decimal, int]]:
    """What the roll-up must hold, computed from the scores themselves."""
    out: dict[date, list] = defaultdict(lambda: [Decimal(0), 0])
    with rt.session() as s:
        for at, score in s.execute(select(HealthScore.generated_at, HealthScore.score)
                                   .filter_by(account_id=None, **scope.as_filter())):
            day = out[as_utc(at).date()]
            day[0] += Decimal(score)
            day[1] += 1
    return {d: (total, n) for d, (total, n) in out.items()}


def rolled_up(rt: Runtime, scope: Scope) -> dict[date, tuple[Decimal, int]]:
    with rt.session() as s:
        return {r.day: (Decimal(r.score_sum), r.score_count)
                for r in s.scalars(select(HealthScoreDay).filter_by(**scope.as_filter()))}


def test_roll_up_follows_every_write(clean: Runtime) -> None:
    scope, other = make_scope(clean, "Rolled"), make_scope(clean, "Other")
    ids = add_scores(clean, scope, (MIDNIGHT - timedelta(minutes=30), "70.50"), (MIDNIGHT - timedelta(hours=5), "60"),
                     (MIDNIGHT + timedelta(minutes=10), "80.25"), (MIDNIGHT + timedelta(hours=3), "90"))
    add_scores(clean, other, (MIDNIGHT, "10"))
    with clean.transaction() as s:
        account = CrmAccount(project_id=scope.project_id, account_scope_id=scope.account_scope_id, name="Client")
        s.add(account)
    add_scores(clean, scope, (MIDNIGHT, "5"), account_id=account.id)  # account level: not in the project chart
    assert rolled_up(clean, scope) == from_scores(clean, scope) == {
        date(2026, 11, 19): (Decimal("130.50"), 2), date(2026, 11, 20): (Decimal("170.25"), 2)}

    with clean.transaction() as s:
        s.execute(update(HealthScore).where(HealthScore.id == ids[0]).values(score=Decimal("71")))
        s.execute(update(HealthScore).where(HealthScore.id == ids[1]).values(generated_at=MIDNIGHT + timedelta(days=1)))
    assert rolled_up(clean, scope) == from_scores(clean, scope)
    assert rolled_up(clean, scope)[date(2026, 11, 19)] == (Decimal("71.00"), 1)

    with clean.transaction() as s:
        s.execute(delete(HealthScore).where(HealthScore.id == ids[0]))
    assert date(2026, 11, 19) not in rolled_up(clean, scope)  # a day without scores has no row
    assert rolled_up(clean, scope) == from_scores(clean, scope)
    assert rolled_up(clean, other) == {date(2026, 11, 20): (Decimal("10.00"), 1)}


def test_the_migration_sums_the_scores_already_stored(redis_url: str) -> None:
    name, url = create_pg_database(durable_commits=False)
    engine = sa.create_engine(url)
    try:
        upgrade(engine, "0008")
        rt = Runtime(Settings.from_env(base_env(url, redis_url)))
        try:
            scope = make_scope(rt, "Before 0009")
            add_scores(rt, scope, (MIDNIGHT, "50"), (MIDNIGHT + timedelta(hours=1), "70"),
                       (MIDNIGHT + timedelta(days=1), "90"))
            upgrade(engine)
            assert rolled_up(rt, scope) == from_scores(rt, scope) == {
                date(2026, 11, 20): (Decimal("120.00"), 2), date(2026, 11, 21): (Decimal("90.00"), 1)}
            add_scores(rt, scope, (MIDNIGHT, "30"))  # and the triggers carry on from there
            assert rolled_up(rt, scope)[date(2026, 11, 20)] == (Decimal("150.00"), 3)
        finally:
            rt.close()
    finally:
        engine.dispose()
        drop_pg_database(name)
