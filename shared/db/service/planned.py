"""Upsert of planned candidates on ``(project_id, dedupe_key)``: the shared loop of the business
detectors (identity suggestions, upsell radar, continuity previews).

A pure ``plan(state, candidate)`` decides ``insert`` / ``update`` / skip for each candidate from the
stored row's state; this module locks the existing rows and carries the decisions out. Callers own
the transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.scope import Scope


def upsert_planned(*, session: Session, scope: Scope, model: Any, keyed: Sequence[tuple[str, Any]],
                   state: Callable[[Any], Any], plan: Callable[[Any, Any], Any], now: datetime,
                   once_per_key: bool = False) -> list[Any]:
    """Carry out ``plan(state(row) or None, candidate)`` for each ``(dedupe_key, candidate)``; the rows
    inserted or updated, in candidate order. ``once_per_key``: a key repeated in one run counts once."""
    keys = [key for key, _ in keyed]
    locked = select(model).filter_by(**scope.as_filter()).where(model.dedupe_key.in_(keys)).with_for_update()
    existing = {row.dedupe_key: row for row in session.scalars(locked)} if keys else {}
    touched: list[Any] = []
    for key, candidate in keyed:
        row = existing.get(key)
        if once_per_key and row is not None and row in touched:
            continue
        decision = plan(state(row) if row is not None else None, candidate)
        if decision.action == "insert":
            row = model(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                        created_at=now, updated_at=now, **decision.values)
            session.add(row)
            existing[key] = row
        elif decision.action == "update":
            for column, value in decision.values.items():
                setattr(row, column, value)
            row.updated_at = now
        else:
            continue
        touched.append(row)
    session.flush()
    return touched
