"""``sync_watermarks`` rows (platform §14.11, connectors-rag §3.4, §4.5, §5.5). Callers own the transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.models.platform import SyncWatermark
from shared.db.service.projects import dialect_insert
from shared.scope import Scope
from shared.timeutil import as_utc, utcnow


@dataclass(frozen=True)
class Watermark:
    """A watermark as plain values (leaves the session)."""

    source: str
    cursor_ts: datetime | None = None
    cursor_id: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def get_watermark(*, session: Session, scope: Scope, source: str) -> Watermark:
    row = session.scalar(select(SyncWatermark).filter_by(source=source, **scope.as_filter()))
    if row is None:
        return Watermark(source)
    return Watermark(source, as_utc(row.cursor_ts), row.cursor_id, dict(row.meta or {}))


def save_watermark(*, session: Session, scope: Scope, source: str, cursor_ts: datetime | None,
                   cursor_id: str | None, meta: dict[str, Any]) -> None:
    """Insert or replace the (project, source) watermark."""
    insert = dialect_insert(session)
    values = {"cursor_ts": cursor_ts, "cursor_id": cursor_id, "meta": meta, "updated_at": utcnow()}
    stmt = insert(SyncWatermark).values(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                                        source=source, **values)
    session.execute(stmt.on_conflict_do_update(index_elements=["project_id", "source"], set_=values))


def update_watermark_meta(*, session: Session, scope: Scope, source: str, **changes: Any) -> None:
    """Merge ``changes`` into the watermark's ``meta`` (cursor untouched); creates the row if needed."""
    current = get_watermark(session=session, scope=scope, source=source)
    save_watermark(session=session, scope=scope, source=source, cursor_ts=current.cursor_ts,
                   cursor_id=current.cursor_id, meta={**current.meta, **changes})
