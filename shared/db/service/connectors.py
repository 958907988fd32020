"""Connector bookkeeping owned by the platform (platform §9): bindings, sync state, errors, DLQ.

Callers own the transaction; functions flush but never commit.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.config import Settings
from shared.db.models.platform import (
    OPEN_ERROR_STATUSES,
    ConnectorError,
    ConnectorSyncState,
    ProjectSource,
)
from shared.db.service.projects import dialect_insert
from shared.errors import Conflict
from shared.scope import Scope
from shared.timeutil import as_utc, utcnow

CONNECTORS = ("chatwoot", "linear", "attio")  # name order of the API
SOURCE_KIND = {"chatwoot": "chatwoot_account", "attio": "attio_workspace", "linear": "linear_workspace"}
REQUIRED_SETTINGS = {
    "chatwoot": ("CHATWOOT_BASE_URL", "CHATWOOT_API_TOKEN"),
    "attio": ("ATTIO_API_TOKEN",),
    "linear": ("LINEAR_API_TOKEN",),
}
SUGGESTED_ID_ENV = {"chatwoot": "CHATWOOT_ACCOUNT_ID", "attio": "ATTIO_WORKSPACE_ID", "linear": "LINEAR_WORKSPACE_ID"}
RQ_RETRY_DELAYS = (30, 120)
MAX_ATTEMPTS = 3


@dataclass(frozen=True)
class EffectiveMode:
    mode: str  # "http" | "mcp" | "skip" | "disabled"
    reason: str | None = None
    missing: tuple[str, ...] = ()

    @property
    def runs(self) -> bool:
        return self.mode in ("http", "mcp")


def effective_mode(settings: Settings, connector: str, *, bound: bool) -> EffectiveMode:
    """connectors-rag §1.2: disabled → missing credentials → unbound → the configured mode."""
    if not settings.connector_enabled[connector]:
        return EffectiveMode("disabled", "disabled")
    env: Mapping[str, str] = settings.environ
    missing = tuple(name for name in REQUIRED_SETTINGS[connector] if not (env.get(name) or "").strip())
    if missing:
        return EffectiveMode("skip", "missing_credentials", missing)
    if not bound:
        return EffectiveMode("skip", "source_not_bound")
    return EffectiveMode(settings.connector_mode_for(connector))


# --- bindings (platform §6.6, §9.3) -----------------------------------------------------------------
def get_binding(*, session: Session, scope: Scope, connector: str) -> ProjectSource | None:
    return session.scalar(select(ProjectSource).filter_by(source_kind=SOURCE_KIND[connector], **scope.as_filter()))


def is_bound(*, session: Session, scope: Scope, connector: str) -> bool:
    """Whether the project has a binding for ``connector`` (one Core row check, no entity: every trigger asks)."""
    stmt = select(ProjectSource.id).filter_by(source_kind=SOURCE_KIND[connector], **scope.as_filter()).limit(1)
    return session.connection().execute(stmt).first() is not None


def bound_connectors(*, session: Session, scope: Scope) -> set[str]:
    kinds = set(session.scalars(select(ProjectSource.source_kind).filter_by(**scope.as_filter())))
    return {c for c, kind in SOURCE_KIND.items() if kind in kinds}


def create_binding(*, session: Session, scope: Scope, connector: str, external_id: str) -> tuple[ProjectSource, bool]:
    """Returns (binding, created). Conflicts raise ``409 <connector>_source_binding_error``."""
    kind = SOURCE_KIND[connector]
    existing = get_binding(session=session, scope=scope, connector=connector)
    if existing is not None:
        if existing.external_id == external_id:
            return existing, False
        raise Conflict(f"{connector}_source_binding_error", "This project is already bound to another source",
                       details={"reason": f"{kind}_already_bound"})
    other = session.scalar(select(ProjectSource).filter_by(source_kind=kind, external_id=external_id))
    if other is not None:
        raise _bound_elsewhere(connector, kind)
    binding = ProjectSource(project_id=scope.project_id, account_scope_id=scope.account_scope_id, source_kind=kind,
                            external_id=external_id, meta={"source": "manual"})
    try:
        with session.begin_nested():
            session.add(binding)
            session.flush()
    except IntegrityError:
        raise _bound_elsewhere(connector, kind) from None
    return binding, True


def _bound_elsewhere(connector: str, kind: str) -> Conflict:
    return Conflict(f"{connector}_source_binding_error", "This source is bound to another project",
                    details={"reason": f"{kind}_source_bound_to_another_project"})


# --- sync state (platform §9.1, §9.2) ---------------------------------------------------------------
def get_state(*, session: Session, scope: Scope, connector: str) -> ConnectorSyncState | None:
    return session.scalar(select(ConnectorSyncState).filter_by(connector=connector, **scope.as_filter()))


def upsert_state(*, session: Session, scope: Scope, connector: str, **values: Any) -> ConnectorSyncState:
    state = get_state(session=session, scope=scope, connector=connector)
    if state is None:
        insert = dialect_insert(session)
        session.execute(insert(ConnectorSyncState).values(
            project_id=scope.project_id, account_scope_id=scope.account_scope_id, connector=connector,
            mode="http", status="idle", retry_count=0, meta={}, updated_at=utcnow(),
        ).on_conflict_do_nothing(index_elements=["project_id", "connector"]))
        state = get_state(session=session, scope=scope, connector=connector)
        session.refresh(state, with_for_update=True)
    for key, value in values.items():
        setattr(state, key, value)
    state.updated_at = utcnow()
    session.flush()
    return state


# --- errors and the DLQ (platform §9.4, §9.5) -------------------------------------------------------
def dedupe_key(connector: str, mode: str, operation: str, source_ref: str | None, error_kind: str | None) -> str:
    raw = f"{connector}:{mode}:{operation}:{source_ref or ''}:{error_kind or ''}"
    return hashlib.sha1(raw.encode()).hexdigest()


def register_error(
    *, session: Session, scope: Scope, connector: str, mode: str, message: str, permanent: bool,
    retries_left: bool, operation: str = "sync", source_ref: str | None = None,
    error_kind: str = "connector_error", payload: dict[str, Any] | None = None, rq_job_id: str | None = None,
    job_run_id: int | None = None,
) -> ConnectorError:
    operation, error_kind = (operation or "sync")[:200], (error_kind or "connector_error")[:200]
    source_ref = source_ref[:500] if source_ref else None
    key = dedupe_key(connector, mode, operation, source_ref, error_kind)
    now = utcnow()
    row = session.scalar(
        select(ConnectorError).filter_by(connector=connector, dedupe_key=key, **scope.as_filter())
        .where(ConnectorError.status.in_(OPEN_ERROR_STATUSES)).with_for_update()
    )
    attempt = row.attempt + 1 if row is not None else 1
    if permanent or not retries_left or (row is not None and row.status == "dead_letter"):
        status, next_retry = "dead_letter", now
    else:
        status = "retrying" if attempt > 1 else "pending"
        delay = RQ_RETRY_DELAYS[min(attempt, len(RQ_RETRY_DELAYS)) - 1]
        next_retry = now + timedelta(seconds=delay)
    values = dict(mode=mode, operation=operation, source_ref=source_ref, error_kind=error_kind,
                  error_message=message[:4000], payload_json=payload or {}, attempt=attempt,
                  next_retry_at=next_retry, status=status, rq_job_id=rq_job_id, job_run_id=job_run_id,
                  updated_at=now)
    if row is None:
        row = ConnectorError(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                             connector=connector, dedupe_key=key, created_at=now, **values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    session.flush()
    return row


def resolve_errors(*, session: Session, scope: Scope, connector: str) -> int:
    now = utcnow()
    return session.execute(
        update(ConnectorError).filter_by(connector=connector, **scope.as_filter())
        .where(ConnectorError.status.in_(OPEN_ERROR_STATUSES))
        .values(status="resolved", resolved_at=now, updated_at=now).execution_options(synchronize_session=False)
    ).rowcount


def error_counts(*, session: Session, scope: Scope) -> dict[str, dict[str, int]]:
    rows = session.execute(
        select(ConnectorError.connector, ConnectorError.status, func.count())
        .filter_by(**scope.as_filter()).where(ConnectorError.status.in_(OPEN_ERROR_STATUSES))
        .group_by(ConnectorError.connector, ConnectorError.status)
    ).all()
    out: dict[str, dict[str, int]] = {c: {} for c in CONNECTORS}
    for connector, status, count in rows:
        out[connector][status] = count
    return out


# --- reads behind /connectors/* (platform §6.6) -----------------------------------------------------
ERROR_FIELDS = ("id", "connector", "mode", "operation", "source_ref", "error_kind", "error_message", "attempt",
                "next_retry_at", "status", "payload_json", "rq_job_id", "job_run_id", "created_at", "updated_at",
                "resolved_at")
STATE_FIELDS = ("connector", "mode", "status", "cursor_ts", "cursor_id", "page_cursor", "last_success_at",
                "last_attempt_at", "retry_count", "last_error", "meta", "updated_at")


def state_overview(*, session: Session, scope: Scope, settings: Settings,
                   in_flight: Mapping[str, int]) -> list[dict[str, Any]]:
    """All three connectors in name order; a missing row is synthesized as ``idle`` (platform §6.6)."""
    rows = {s.connector: s for s in session.scalars(select(ConnectorSyncState).filter_by(**scope.as_filter()))}
    counts = error_counts(session=session, scope=scope)
    now = utcnow()
    out = []
    for connector in CONNECTORS:
        row = rows.get(connector)
        if row is None:
            item: dict[str, Any] = dict.fromkeys(STATE_FIELDS)
            item.update(connector=connector, mode=settings.connector_mode_for(connector), status="idle",
                        retry_count=0, meta={})
        else:
            item = {name: getattr(row, name) for name in STATE_FIELDS}
        cursor = as_utc(item["cursor_ts"])
        item["lag_seconds"] = max(0, int((now - cursor).total_seconds())) if cursor else None
        item["open_errors"] = counts[connector].get("pending", 0) + counts[connector].get("retrying", 0)
        item["dead_letter_errors"] = counts[connector].get("dead_letter", 0)
        item["in_flight_job_id"] = in_flight.get(f"{connector}_sync")
        out.append(item)
    return out


def list_errors(*, session: Session, scope: Scope, status: str | None, connector: str | None,
                limit: int) -> list[ConnectorError]:
    stmt = select(ConnectorError).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(ConnectorError.status == status)
    if connector:
        stmt = stmt.where(ConnectorError.connector == connector)
    return list(session.scalars(stmt.order_by(ConnectorError.updated_at.desc(), ConnectorError.id.desc()).limit(limit)))


def error_to_json(row: ConnectorError) -> dict[str, Any]:
    out = {name: getattr(row, name) for name in ERROR_FIELDS}
    out["max_attempts"] = MAX_ATTEMPTS
    return out


def list_bindings(*, session: Session, scope: Scope, settings: Settings) -> list[dict[str, Any]]:
    rows = {b.source_kind: b for b in session.scalars(select(ProjectSource).filter_by(**scope.as_filter()))}
    states = {s.connector: s for s in session.scalars(select(ConnectorSyncState).filter_by(**scope.as_filter()))}
    out = []
    for connector in CONNECTORS:
        kind = SOURCE_KIND[connector]
        row = rows.get(kind)
        state = states.get(connector)
        discovered = (state.meta or {}).get("discovered_external_id") if state is not None else None
        suggested = (settings.environ.get(SUGGESTED_ID_ENV[connector]) or "").strip() or discovered or None
        out.append({**binding_to_json(connector, row), "suggested_external_id": suggested})
    return out


def binding_to_json(connector: str, row: ProjectSource | None) -> dict[str, Any]:
    return {"connector": connector, "source_kind": SOURCE_KIND[connector],
            "external_id": row.external_id if row else None, "meta": row.meta if row else None,
            "created_at": row.created_at if row else None}


# --- manual re-drive of error rows (platform §6.6) --------------------------------------------------
def errors_by_ids(*, session: Session, scope: Scope, error_ids: list[int],
                  connector: str | None) -> list[ConnectorError]:
    stmt = select(ConnectorError).filter_by(**scope.as_filter()).where(ConnectorError.id.in_(error_ids))
    if connector:
        stmt = stmt.where(ConnectorError.connector == connector)
    return list(session.scalars(stmt.order_by(ConnectorError.id).with_for_update()))


def open_errors(*, session: Session, scope: Scope, connector: str | None,
                include_dead_letter: bool) -> list[ConnectorError]:
    statuses = ("pending", "retrying", "dead_letter") if include_dead_letter else ("pending", "retrying")
    stmt = select(ConnectorError).filter_by(**scope.as_filter()).where(ConnectorError.status.in_(statuses))
    if connector:
        stmt = stmt.where(ConnectorError.connector == connector)
    return list(session.scalars(stmt.order_by(ConnectorError.id).with_for_update()))


def mark_for_retry(rows: list[ConnectorError], *, reset_attempts: bool) -> None:
    """Selected rows are retried now: ``dead_letter`` → ``retrying`` (or all → ``pending``/0 with reset)."""
    now = utcnow()
    for row in rows:
        if reset_attempts:
            row.attempt, row.status = 0, "pending"
        elif row.status == "dead_letter":
            row.status = "retrying"
        row.next_retry_at = row.updated_at = now


def record_redrive(*, session: Session, scope: Scope, error_ids: list[int], rq_job_id: str | None,
                   job_run_id: int) -> None:
    if error_ids:
        session.execute(update(ConnectorError).filter_by(**scope.as_filter()).where(ConnectorError.id.in_(error_ids))
                        .values(rq_job_id=rq_job_id, job_run_id=job_run_id)
                        .execution_options(synchronize_session=False))
