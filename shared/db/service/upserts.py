"""Bulk ``INSERT … ON CONFLICT DO UPDATE … WHERE <changed>`` for the connectors' raw tables (§15).

One statement per batch of at most ``BATCH`` rows. The update fires only when a compared column
``IS DISTINCT FROM`` the incoming value, so the statement's row count (and ``RETURNING``) means
"inserted or changed": a re-sync of unchanged data touches nothing. Works on PostgreSQL and SQLite
(3.35+ for ``RETURNING``). Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, any_, func, literal_column, or_, select
from sqlalchemy.orm import Session

from shared.db.service.projects import dialect_insert
from shared.scope import Scope

BATCH = 200
SCOPE_COLUMNS = ("project_id", "account_scope_id")


def scoped_rows(scope: Scope, rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Rows with the scope's ``project_id`` and ``account_scope_id`` (whatever they carried)."""
    return [{**row, "project_id": scope.project_id, "account_scope_id": scope.account_scope_id} for row in rows]


@dataclass(frozen=True)
class Upserted:
    """What one upsert did: the ids of the rows inserted or changed, and how many were inserted."""

    ids: list[Any]
    inserted_ids: frozenset[Any] = frozenset()

    @property
    def inserted(self) -> int:
        return len(self.inserted_ids)

    @property
    def touched(self) -> int:
        return len(self.ids)

    @property
    def updated(self) -> int:
        return len(self.ids) - self.inserted

    def __add__(self, other: Upserted) -> Upserted:
        return Upserted(self.ids + other.ids, self.inserted_ids | other.inserted_ids)


def upsert_rows(
    session: Session,
    model: Any,
    scope: Scope,
    rows: Sequence[Mapping[str, Any]],
    *,
    compare: Sequence[str],
    conflict: Sequence[str] = ("id",),
    keep: Sequence[str] = ("created_at",),
    coalesce_existing: Sequence[str] = (),
    on_change: Mapping[str, Any] | None = None,
    guard: Any = None,
    marker: str | None = None,
    none_present: bool = False,
) -> Upserted:
    """Upsert ``rows`` (dicts of column values) of one scope: the rows inserted or changed, from ``RETURNING``
    (driver row counts of multi-row upserts are not reliable).

    ``compare``: columns whose difference triggers the update. ``keep``: columns never overwritten.
    ``coalesce_existing``: columns that keep an existing non-null value. ``on_change``: extra values
    written on insert and on every changing update (e.g. ``synced_at=now()``). ``guard(table,
    excluded)`` adds a condition to the update (e.g. "not older"). Inserts are told from updates by
    ``xmax = 0`` on PostgreSQL and by a look-up of the batch's ids elsewhere.

    ``marker`` names an ``on_change`` column whose value is unique to this call (``synced_at``): on
    PostgreSQL the rows then go through the driver's pipelined ``executemany`` (one short prepared
    statement) instead of ``RETURNING`` over a multi-row ``VALUES``, and the changed rows are read back
    by the marker — several times faster for large batches (connector messages). ``none_present``: the
    caller knows none of the ids is stored yet (spares the look-up that tells inserts from updates).
    """
    if not rows:
        return Upserted([])
    table = model.__table__
    key = table.c[conflict[0]]
    extra = dict(on_change or {})
    prepared = [{**row, **extra} for row in scoped_rows(scope, rows)]
    postgres = session.get_bind().dialect.name == "postgresql"
    stmt = dialect_insert(session)(table)
    excluded = stmt.excluded
    columns = [c for c in prepared[0] if c not in conflict and c not in keep and c not in SCOPE_COLUMNS]
    set_: dict[str, Any] = {
        name: func.coalesce(table.c[name], excluded[name]) if name in coalesce_existing else excluded[name]
        for name in columns
    }
    changed: ColumnElement[bool] = or_(*(table.c[c].is_distinct_from(excluded[c]) for c in compare))
    # a row of another project is never touched (global ids of §0.2 without the project id: Attio, Linear)
    owned = and_(table.c.project_id == excluded.project_id, table.c.account_scope_id == excluded.account_scope_id)
    where = and_(owned, changed, guard(table, excluded)) if guard is not None else and_(owned, changed)
    stmt = stmt.on_conflict_do_update(index_elements=list(conflict), set_=set_, where=where)
    if postgres and marker is not None:
        return _upsert_marked(session, table, key, stmt, prepared, marker, extra[marker], none_present)
    stmt = stmt.returning(key, literal_column("xmax = 0")) if postgres else stmt.returning(key)
    out = Upserted([])
    for start in range(0, len(prepared), BATCH):  # executemany: batched multi-row VALUES, one cached statement
        batch = prepared[start:start + BATCH]
        if postgres:
            got = session.execute(stmt, batch).all()
            out = out + Upserted([r[0] for r in got], frozenset(r[0] for r in got if r[1]))
            continue
        present = set(session.scalars(select(key).where(key.in_([r[conflict[0]] for r in batch]))))
        got_ids = list(session.execute(stmt, batch).scalars())
        out = out + Upserted(got_ids, frozenset(i for i in got_ids if i not in present))
    return out


def _upsert_marked(session: Session, table: Any, key: Any, stmt: Any, rows: list[dict[str, Any]], marker: str,
                   stamp: Any, none_present: bool) -> Upserted:
    """PostgreSQL: which ids exist, the pipelined upsert, then the rows carrying this call's marker."""
    ids = [r[key.name] for r in rows]
    project_id = rows[0]["project_id"]
    present = set() if none_present else set(session.scalars(select(key).where(key == any_(ids))))
    session.execute(stmt, rows)
    changed = list(session.scalars(select(key).where(key == any_(ids), table.c.project_id == project_id,
                                                     table.c[marker] == stamp)))
    return Upserted(changed, frozenset(i for i in changed if i not in present))
