"""KAG v1 storage (kag.md §4–§10, §16, §18): graph, event log, signal state, signals, scores,
v1 recommendations, legacy signals and next best actions — plus the connector-table reads the stages need.

Keyword-only functions, ``session`` and ``scope`` first; the caller owns the transaction (functions
flush, never commit). Every query filters on the scope. Upserts are ``INSERT … ON CONFLICT`` on the
natural keys of §18, compiled once and executed for all rows (``_bulk``), so re-running a stage never
duplicates rows.

User decisions are never overwritten by a regeneration: v1 recommendations, legacy signals and NBAs
keep ``status`` (and ``created_at``) on conflict. ``updated_at`` of signals, scores and v1
recommendations moves only when the stored content changes (``computed_at`` says when it was last
recomputed), so a recompute with unchanged inputs changes nothing a reader orders by.

Status vocabulary (one for the three "proposal" artifacts, §9/§10): ``proposed, accepted, dismissed,
done``; NBAs add ``cancelled``. Setting the current status again returns the row untouched (a legacy
signal) or only refreshes ``updated_at`` (an NBA, §19); both are audited.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Table, Text, bindparam, case, cast, column, func, or_, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from shared.audit import write_audit_event
from shared.db.models.attio import AttioActivityRaw, AttioOpportunityRaw
from shared.db.models.business import CrmOpportunity
from shared.db.models.chatwoot import CwMessage
from shared.db.models.kag import (
    NBA_STATUSES,
    PROPOSAL_STATUSES,
    KagEdge,
    KagEvent,
    KagEventLog,
    KagIngestCursor,
    KagNode,
    KagProvenanceRef,
    KagRecommendation,
    KagScore,
    KagScoreHistory,
    KagSignal,
    KagSignalHistory,
    KagSignalState,
    LegacySignal,
    NextBestAction,
)
from shared.db.models.linear import LinearIssueRaw
from shared.db.models.platform import ConnectorSyncState
from shared.db.models.rag import RagChunk
from shared.db.service.projects import dialect_insert
from shared.errors import NotFound
from shared.kag.lifecycle import parse_status
from shared.scope import Scope
from shared.timeutil import as_utc

BULK_JSON_MIN = 20  # rows from which PostgreSQL inserts travel as one JSON parameter (`_bulk`)
CHUNK = 1000  # ids per IN list; counts come from RETURNING (a multi-row upsert's rowcount is not reliable)
SIGNAL_CONTENT = ("value", "status", "threshold_warn", "threshold_critical", "details", "evidence_refs")
SCORE_CONTENT = ("score", "level", "weights", "thresholds", "factors", "evidence_refs")
V1_CONTENT = ("category", "priority", "title", "rationale", "suggested_template_key", "suggested_template",
              "evidence_refs", "signal_snapshot", "score_snapshot")


def new_id() -> uuid.UUID:
    """A time-ordered UUID (version 7: 48-bit Unix milliseconds, then random bits).

    KAG writes hundreds of thousands of graph and provenance rows; with random (v4) keys every insert
    dirties a random page of the primary-key index, which costs more the bigger the table gets. v7 keys of
    one run sort together, so their index entries land on the same few right-hand pages.
    """
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return uuid.UUID(int=value)


def _scoped(rows: Iterable[Mapping[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    return [{**row, "project_id": scope.project_id, "account_scope_id": scope.account_scope_id} for row in rows]


def _chunks(rows: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start:start + size]


def _postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _greatest(session: Session, a: Any, b: Any) -> Any:
    return func.greatest(a, b) if _postgres(session) else func.max(a, b)


def _touch_if_changed(table: Any, stmt: Any, columns: Sequence[str]) -> Any:
    """``updated_at``: the new value when any content column differs, else the stored one."""
    changed = or_(*(table.c[c].is_distinct_from(stmt.excluded[c]) for c in columns))
    return case((changed, stmt.excluded.updated_at), else_=table.c.updated_at)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _bulk(session: Session, table: Table, rows: Sequence[Mapping[str, Any]],
          build: Callable[[Any], Any] = lambda stmt: stmt) -> list[Any]:
    """``INSERT`` many rows with one statement compiled once; ``build`` adds ON CONFLICT / RETURNING.

    PostgreSQL, from ``BULK_JSON_MIN`` rows: ``INSERT … SELECT … FROM jsonb_to_recordset(:rows)`` — the rows
    travel as one JSON parameter, so neither SQLAlchemy nor the driver renders and parses a statement with
    thousands of placeholders. Otherwise (SQLite, small batches) an executemany ("insertmanyvalues").
    Every row must have the same keys.
    """
    if not rows:
        return []
    rows = [dict(r) for r in rows]
    insert = dialect_insert(session)
    connection = session.connection()
    if _postgres(session) and len(rows) >= BULK_JSON_MIN:
        columns = list(rows[0])
        source = (func.jsonb_to_recordset(cast(bindparam("bulk_rows", type_=Text), JSONB))
                  .table_valued(*(column(c, table.c[c].type) for c in columns)).render_derived(with_types=True))
        stmt = build(insert(table).from_select(columns, select(*(source.c[c] for c in columns))))
        result = connection.execute(stmt, {"bulk_rows": json.dumps(rows, default=_json_default)})
    else:
        result = connection.execute(build(insert(table)), rows)
    return result.all() if result.returns_rows else []


def _changed_ts(model: Any) -> Any:
    return func.coalesce(model.updated_at, model.created_at)


# --- ingest (§4.2): reads -----------------------------------------------------------------------------
def ingest_cursors(*, session: Session, scope: Scope) -> dict[str, datetime | None]:
    rows = session.execute(select(KagIngestCursor.source, KagIngestCursor.cursor_ts).filter_by(**scope.as_filter()))
    return {source: as_utc(ts) for source, ts in rows}


def changed_messages(*, session: Session, scope: Scope, since: datetime, limit: int) -> list[Any]:
    """Non-private, non-deleted messages with ``coalesce(updated_at, created_at) >= since``, ascending."""
    m = CwMessage
    stmt = (select(m.id, m.message_id, m.account_id, m.conversation_id, m.conversation_global_id, m.sender_type,
                   m.private, m.message_type, m.content, m.data, m.created_at, m.updated_at)
            .filter_by(**scope.as_filter())
            .where(_changed_ts(m) >= since, m.private.is_(False), m.deleted.is_(False))
            .order_by(_changed_ts(m), m.id).limit(limit))
    return list(session.execute(stmt))


def chunk_ids_by_message(*, session: Session, scope: Scope, message_ids: Sequence[str]) -> dict[str, list[str]]:
    """``rag_chunks.id`` per ``message_global_id``, ordered by ``chunk_index``."""
    out: dict[str, list[str]] = {}
    for part in _chunks(list(message_ids), 5000):
        stmt = (select(RagChunk.message_global_id, RagChunk.id).filter_by(**scope.as_filter())
                .where(RagChunk.message_global_id.in_(part))
                .order_by(RagChunk.message_global_id, RagChunk.chunk_index))
        for message_id, chunk_id in session.execute(stmt):
            out.setdefault(str(message_id), []).append(str(chunk_id))
    return out


def changed_issues(*, session: Session, scope: Scope, since: datetime, limit: int) -> list[Any]:
    """Linear issues by the vendor times (``coalesce(vendor_updated_at, vendor_created_at) >= since``)."""
    i = LinearIssueRaw
    ts = func.coalesce(i.vendor_updated_at, i.vendor_created_at)
    stmt = (select(i.id, i.external_id, i.title, i.state, i.blocked, i.due_date, i.completed_at,
                   i.vendor_created_at, i.vendor_updated_at)
            .filter_by(**scope.as_filter()).where(ts >= since).order_by(ts, i.id).limit(limit))
    return list(session.execute(stmt))


def changed_deals(*, session: Session, scope: Scope, since: datetime, limit: int) -> list[Any]:
    o = AttioOpportunityRaw
    stmt = (select(o.id, o.external_id, o.title, o.stage, o.amount, o.probability, o.created_at, o.updated_at)
            .filter_by(**scope.as_filter()).where(_changed_ts(o) >= since).order_by(_changed_ts(o), o.id)
            .limit(limit))
    return list(session.execute(stmt))


def nodes_by_ref(*, session: Session, scope: Scope, refs: Iterable[str]) -> dict[str, KagNode]:
    """Stored nodes for ``"<node_type>:<node_key>"`` references (split on the first colon)."""
    wanted: dict[str, set[str]] = {}
    for ref in refs:
        node_type, _, node_key = ref.partition(":")
        wanted.setdefault(node_type, set()).add(node_key)
    out: dict[str, KagNode] = {}
    for node_type, keys in wanted.items():
        for part in _chunks(sorted(keys), 5000):
            stmt = select(KagNode).filter_by(node_type=node_type, **scope.as_filter()).where(KagNode.node_key.in_(part))
            for node in session.scalars(stmt):
                out[f"{node.node_type}:{node.node_key}"] = node
    return out


# --- ingest (§4.2): writes ----------------------------------------------------------------------------
def upsert_nodes(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                 now: datetime) -> dict[str, uuid.UUID]:
    """Upsert on (project_id, node_type, node_key): payload, numeric_fields, refs, title, status replaced."""
    t = KagNode.__table__
    content = ("status", "title", "payload", "numeric_fields", "source_refs", "rag_chunk_refs")

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["project_id", "node_type", "node_key"],
            set_={**{c: ins.excluded[c] for c in content}, "updated_at": _touch_if_changed(t, ins, content)},
        ).returning(t.c.id, t.c.node_type, t.c.node_key)

    values = _scoped([{**r, "id": new_id(), "created_at": now, "updated_at": now} for r in rows], scope)
    return {f"{node_type}:{node_key}": node_id for node_id, node_type, node_key in _bulk(session, t, values, build)}


def upsert_edges(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                 now: datetime) -> list[uuid.UUID]:
    """Upsert on (project_id, from_node_id, to_node_id, relation_type); returns the written ids in row order."""
    t = KagEdge.__table__
    content = ("status", "weight", "payload", "source_refs", "rag_chunk_refs")

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["project_id", "from_node_id", "to_node_id", "relation_type"],
            set_={**{c: ins.excluded[c] for c in content}, "updated_at": _touch_if_changed(t, ins, content)},
        ).returning(t.c.id, t.c.from_node_id, t.c.to_node_id, t.c.relation_type)

    values = _scoped([{**r, "id": new_id(), "created_at": now, "updated_at": now} for r in rows], scope)
    by_identity = {(f, to, r): i for i, f, to, r in _bulk(session, t, values, build)}
    return [by_identity[(r["from_node_id"], r["to_node_id"], r["relation_type"])] for r in rows]


def insert_events(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                  now: datetime) -> dict[str, int]:
    """Insert graph events ``ON CONFLICT (project_id, dedupe_key) DO NOTHING``; dedupe_key → new id."""
    t = KagEvent.__table__

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_nothing(index_elements=["project_id", "dedupe_key"]).returning(t.c.id,
                                                                                                 t.c.dedupe_key)

    values = _scoped([{**r, "created_at": now} for r in rows], scope)
    return {key: event_id for event_id, key in _bulk(session, t, values, build)}


def insert_provenance(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """One row per (object, evidence ref), conflicts (the functional unique index) ignored.

    ``rag_chunk_id`` must name a stored chunk (FK): ids that are not UUIDs of this project's chunks
    are dropped from the row (and a row left without any id is skipped).
    """
    if not rows:
        return 0
    parsed = []
    for raw in {str(r["rag_chunk_id"]) for r in rows if r.get("rag_chunk_id")}:
        try:
            parsed.append(uuid.UUID(raw))
        except ValueError:
            continue
    known: set[str] = set()
    for part in _chunks(parsed, 5000):
        known |= {str(i) for i in session.scalars(select(RagChunk.id).filter_by(**scope.as_filter())
                                                  .where(RagChunk.id.in_(part)))}
    ids = ("message_id", "linear_issue_id", "attio_record_id", "doc_url", "rag_chunk_id")
    values = []
    for r in rows:
        row = dict(r)
        chunk = row.get("rag_chunk_id")
        row["rag_chunk_id"] = uuid.UUID(str(chunk)) if chunk and str(chunk) in known else None
        if not any(row.get(k) for k in ids):
            continue
        row["metadata"] = row.get("metadata") or {}
        values.append({**row, "id": new_id(), "created_at": now})
    if not values:
        return 0
    t = KagProvenanceRef.__table__
    return len(_bulk(session, t, _scoped(values, scope), lambda ins: ins.on_conflict_do_nothing().returning(t.c.id)))


def save_ingest_cursors(*, session: Session, scope: Scope, cursors: Mapping[str, datetime | None],
                        now: datetime) -> None:
    rows = [{"source": k, "cursor_ts": v, "updated_at": now} for k, v in cursors.items() if v is not None]
    if not rows:
        return
    stmt = dialect_insert(session)(KagIngestCursor).values(_scoped(rows, scope))
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "source"],
        set_={"cursor_ts": stmt.excluded.cursor_ts, "updated_at": stmt.excluded.updated_at})
    session.execute(stmt)


# --- signal engine (§6) ---------------------------------------------------------------------------------
def signal_state(*, session: Session, scope: Scope) -> tuple[int, dict[str, Any]]:
    """``(last_event_id, state_payload)``; ``(0, {})`` before the first run."""
    row = session.execute(select(KagSignalState.last_event_id, KagSignalState.state_payload)
                          .filter_by(**scope.as_filter())).one_or_none()
    return (0, {}) if row is None else (int(row[0] or 0), dict(row[1] or {}))


def pending_events(*, session: Session, scope: Scope, after_id: int, limit: int) -> list[Any]:
    """Graph events with ``id > after_id`` in id order (the signal stage's batches)."""
    e = KagEvent
    stmt = (select(e.id, e.event_type, e.event_ts, e.subject_node_id, e.payload, e.source_refs, e.rag_chunk_refs)
            .filter_by(**scope.as_filter()).where(e.id > after_id).order_by(e.id).limit(limit))
    return list(session.execute(stmt))


def count_pending_events(*, session: Session, scope: Scope, after_id: int) -> int:
    stmt = select(func.count()).select_from(KagEvent).filter_by(**scope.as_filter()).where(KagEvent.id > after_id)
    return int(session.scalar(stmt) or 0)


def save_signal_run(*, session: Session, scope: Scope, state_payload: Mapping[str, Any], last_event_id: int,
                    signals: Sequence[Mapping[str, Any]], history: Sequence[Mapping[str, Any]],
                    processed_event_ids: Sequence[int], now: datetime) -> int:
    """State, the ten signals (upsert + history) and the consumed events' status, in the caller's transaction."""
    state = dialect_insert(session)(KagSignalState).values(_scoped(
        [{"last_event_id": last_event_id, "state_payload": dict(state_payload), "updated_at": now}], scope))
    session.execute(state.on_conflict_do_update(
        index_elements=["project_id"],
        set_={"last_event_id": state.excluded.last_event_id, "state_payload": state.excluded.state_payload,
              "updated_at": state.excluded.updated_at}))
    touched = _upsert_current(session, scope, KagSignal.__table__, "signal_key", SIGNAL_CONTENT, signals, now)
    _bulk(session, KagSignalHistory.__table__, _scoped(history, scope))
    if processed_event_ids:  # consumed in id order from `id > last_event_id`: a contiguous id range
        session.execute(update(KagEvent).filter_by(**scope.as_filter())
                        .where(KagEvent.id >= min(processed_event_ids), KagEvent.id <= max(processed_event_ids))
                        .values(status="processed", processed_at=now).execution_options(synchronize_session=False))
    return touched


def stored_signals(*, session: Session, scope: Scope) -> list[KagSignal]:
    return list(session.scalars(select(KagSignal).filter_by(**scope.as_filter()).order_by(KagSignal.signal_key)))


def stored_scores(*, session: Session, scope: Scope) -> list[KagScore]:
    return list(session.scalars(select(KagScore).filter_by(**scope.as_filter()).order_by(KagScore.score_type)))


# --- scores (§7) ------------------------------------------------------------------------------------------
def save_scores(*, session: Session, scope: Scope, scores: Sequence[Mapping[str, Any]],
                history: Sequence[Mapping[str, Any]], now: datetime) -> int:
    if not scores:
        return 0
    touched = _upsert_current(session, scope, KagScore.__table__, "score_type", SCORE_CONTENT, scores, now)
    _bulk(session, KagScoreHistory.__table__, _scoped(history, scope))
    return touched


def _upsert_current(session: Session, scope: Scope, table: Any, key: str, content: Sequence[str],
                    rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Upsert the current value per ``(project_id, key)`` (signals, scores); ``updated_at`` moves only when
    a ``content`` column changed. Returns the rows written."""
    if not rows:
        return 0

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["project_id", key],
            set_={**{c: ins.excluded[c] for c in content}, "computed_at": ins.excluded.computed_at,
                  "updated_at": _touch_if_changed(table, ins, content)}).returning(table.c.id)

    values = _scoped([{**r, "id": new_id(), "updated_at": now} for r in rows], scope)
    return len(_bulk(session, table, values, build))


# --- v1 recommendations (§9) ----------------------------------------------------------------------------
def upsert_recommendations(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                           now: datetime) -> int:
    """Upsert on (project_id, dedupe_key): content replaced, ``status`` and ``created_at`` never written."""
    if not rows:
        return 0
    t = KagRecommendation.__table__

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["project_id", "dedupe_key"],
            set_={**{c: ins.excluded[c] for c in V1_CONTENT}, "updated_at": _touch_if_changed(t, ins, V1_CONTENT)},
        ).returning(t.c.id)

    values = _scoped([{**{k: r[k] for k in (*V1_CONTENT, "dedupe_key")}, "id": new_id(), "status": "proposed",
                       "created_at": now, "updated_at": now} for r in rows], scope)
    return len(_bulk(session, t, values, build))


def list_recommendations(*, session: Session, scope: Scope, status: str | None, limit: int) -> list[KagRecommendation]:
    stmt = select(KagRecommendation).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(KagRecommendation.status == status)
    stmt = stmt.order_by(KagRecommendation.priority.desc(), KagRecommendation.updated_at.desc(), KagRecommendation.id)
    return list(session.scalars(stmt.limit(limit)))


# --- reads for the routes -----------------------------------------------------------------------------------
def list_signals(*, session: Session, scope: Scope, limit: int) -> list[KagSignal]:
    stmt = (select(KagSignal).filter_by(**scope.as_filter())
            .order_by(KagSignal.updated_at.desc(), KagSignal.signal_key).limit(limit))
    return list(session.scalars(stmt))


def list_scores(*, session: Session, scope: Scope, limit: int) -> list[KagScore]:
    stmt = (select(KagScore).filter_by(**scope.as_filter())
            .order_by(KagScore.updated_at.desc(), KagScore.score_type).limit(limit))
    return list(session.scalars(stmt))


def list_events(*, session: Session, scope: Scope, event_type: str | None, source: str | None,
                limit: int) -> list[KagEventLog]:
    stmt = select(KagEventLog).filter_by(**scope.as_filter())
    if event_type:
        stmt = stmt.where(KagEventLog.event_type == event_type)
    if source:
        stmt = stmt.where(KagEventLog.source == source)
    return list(session.scalars(stmt.order_by(KagEventLog.occurred_at.desc(), KagEventLog.id.desc()).limit(limit)))


# --- event log (§5.1) -----------------------------------------------------------------------------------------
def connector_cursor(*, session: Session, scope: Scope, connector: str) -> datetime | None:
    return as_utc(session.scalar(select(ConnectorSyncState.cursor_ts).filter_by(connector=connector,
                                                                                **scope.as_filter())))


def window_messages(*, session: Session, scope: Scope, since: datetime, until: datetime, limit: int) -> list[Any]:
    """Messages (private included) with ``since < coalesce(updated_at, created_at) <= until``, ascending."""
    m = CwMessage
    stmt = (select(m.id, m.message_id, m.account_id, m.conversation_id, m.conversation_global_id, m.sender_type,
                   m.private, m.message_type, m.content, m.created_at, m.updated_at)
            .filter_by(**scope.as_filter()).where(_changed_ts(m) > since, _changed_ts(m) <= until)
            .order_by(_changed_ts(m), m.id).limit(limit))
    return list(session.execute(stmt))


def conversation_senders(*, session: Session, scope: Scope, until: datetime) -> list[Any]:
    """``(conversation_global_id, sender_type, last_at)`` over non-private messages up to ``until``."""
    m = CwMessage
    ts = func.coalesce(m.created_at, m.updated_at)
    stmt = (select(m.conversation_global_id, m.sender_type, func.max(ts).label("last_at"))
            .filter_by(**scope.as_filter())
            .where(m.private.is_(False), m.conversation_global_id.is_not(None), ts <= until)
            .group_by(m.conversation_global_id, m.sender_type))
    return list(session.execute(stmt))


def window_issues(*, session: Session, scope: Scope, since: datetime, until: datetime, limit: int) -> list[Any]:
    i = LinearIssueRaw
    ts = func.coalesce(i.vendor_updated_at, i.vendor_created_at)
    stmt = (select(i.id, i.external_id, i.title, i.state, i.blocked, i.blocked_by_count, i.due_date, i.completed_at,
                   i.vendor_created_at, i.vendor_updated_at)
            .filter_by(**scope.as_filter()).where(ts > since, ts <= until).order_by(ts, i.id).limit(limit))
    return list(session.execute(stmt))


def window_deals(*, session: Session, scope: Scope, since: datetime, until: datetime, limit: int) -> list[Any]:
    o = AttioOpportunityRaw
    stmt = (select(o.id, o.external_id, o.title, o.stage, o.amount, o.probability, o.expected_close_date,
                   o.created_at, o.updated_at)
            .filter_by(**scope.as_filter()).where(_changed_ts(o) > since, _changed_ts(o) <= until)
            .order_by(_changed_ts(o), o.id).limit(limit))
    return list(session.execute(stmt))


def window_activities(*, session: Session, scope: Scope, since: datetime, until: datetime, limit: int) -> list[Any]:
    a = AttioActivityRaw
    stmt = (select(a.id, a.external_id, a.record_external_id, a.activity_type, a.note, a.actor_name, a.occurred_at,
                   a.created_at, a.updated_at)
            .filter_by(**scope.as_filter()).where(_changed_ts(a) > since, _changed_ts(a) <= until)
            .order_by(_changed_ts(a), a.id).limit(limit))
    return list(session.execute(stmt))


def _latest_logged(session: Session, scope: Scope, source: str, event_types: Sequence[str],
                   refs: Sequence[str]) -> list[Any]:
    """The latest event-log row (of ``event_types``) per ``source_ref`` among ``refs``."""
    if not refs:
        return []
    out = []
    for part in _chunks(sorted(set(refs)), 5000):
        rank = func.row_number().over(partition_by=KagEventLog.source_ref,
                                      order_by=(KagEventLog.occurred_at.desc(), KagEventLog.id.desc())).label("rn")
        inner = (select(KagEventLog.source_ref, KagEventLog.event_type, KagEventLog.payload_json, rank)
                 .filter_by(source=source, **scope.as_filter())
                 .where(KagEventLog.event_type.in_(list(event_types)), KagEventLog.source_ref.in_(part)).subquery())
        out.extend(session.execute(select(inner.c.source_ref, inner.c.event_type, inner.c.payload_json)
                                   .where(inner.c.rn == 1)))
    return out


def last_block_state(*, session: Session, scope: Scope, issue_refs: Sequence[str]) -> dict[str, str]:
    rows = _latest_logged(session, scope, "linear", ("issue_blocked", "issue_unblocked"), issue_refs)
    return {ref: event_type for ref, event_type, _ in rows}


def last_deal_stage(*, session: Session, scope: Scope, deal_refs: Sequence[str]) -> dict[str, Any]:
    rows = _latest_logged(session, scope, "attio", ("deal_stage_changed",), deal_refs)
    return {ref: (payload or {}).get("stage") for ref, _, payload in rows}


def insert_event_log(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Append event-log rows ``ON CONFLICT (project_id, dedupe_key) DO NOTHING``; returns how many were new."""
    if not rows:
        return 0
    t = KagEventLog.__table__
    values = _scoped([{**r, "created_at": now} for r in rows], scope)
    return len(_bulk(session, t, values, lambda ins: ins.on_conflict_do_nothing(
        index_elements=["project_id", "dedupe_key"]).returning(t.c.id)))


# --- legacy signals and NBA (§10): reads ------------------------------------------------------------------
def recent_messages(*, session: Session, scope: Scope, since: datetime, limit: int) -> list[Any]:
    """Non-private messages created since ``since``, newest ``limit`` first."""
    m = CwMessage
    stmt = (select(m.id, m.conversation_global_id, m.private, m.content, m.created_at)
            .filter_by(**scope.as_filter())
            .where(m.private.is_(False), m.created_at >= since)
            .order_by(m.created_at.desc(), m.id).limit(limit))
    return list(session.execute(stmt))


def overdue_open_issues(*, session: Session, scope: Scope, today: date) -> list[Any]:
    i = LinearIssueRaw
    stmt = (select(i.id, i.linear_project_external_id, i.due_date, i.completed_at).filter_by(**scope.as_filter())
            .where(i.completed_at.is_(None), i.due_date.is_not(None), i.due_date < today))
    return list(session.execute(stmt))


def opportunities_without_next_step(*, session: Session, scope: Scope) -> list[Any]:
    """CRM opportunities whose ``next_step`` is null or shorter than 6 characters after trimming."""
    o = CrmOpportunity
    stmt = (select(o.id, o.title, o.stage, o.next_step, o.account_id, o.updated_at).filter_by(**scope.as_filter())
            .where(or_(o.next_step.is_(None), func.length(func.trim(o.next_step)) < 6))
            .order_by(o.updated_at.desc(), o.id))
    return list(session.execute(stmt))


# --- legacy signals and NBA (§10): writes -----------------------------------------------------------------
def upsert_legacy_signals(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                          now: datetime) -> list[Any]:
    """Upsert on (project_id, dedupe_key): severity/confidence = max, summary/evidence/source_kind replaced,
    ``status`` and ``created_at`` kept. Returns the written rows (id, type, summary, evidence, crm ids)."""
    if not rows:
        return []
    t = LegacySignal.__table__

    def build(ins: Any) -> Any:
        set_ = {"severity": _greatest(session, t.c.severity, ins.excluded.severity),
                "confidence": _greatest(session, t.c.confidence, ins.excluded.confidence),
                "summary": ins.excluded.summary, "evidence_refs": ins.excluded.evidence_refs,
                "source_kind": ins.excluded.source_kind}
        for name in ("account_id", "opportunity_id"):
            set_[name] = func.coalesce(ins.excluded[name], t.c[name])
        return ins.on_conflict_do_update(index_elements=["project_id", "dedupe_key"], set_=set_).returning(
            t.c.id, t.c.signal_type, t.c.summary, t.c.evidence_refs, t.c.account_id, t.c.opportunity_id)

    values = _scoped([{**r, "id": new_id(), "status": "proposed", "created_at": now} for r in rows], scope)
    return _bulk(session, t, values, build)


def upsert_nbas(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Upsert on (project_id, dedupe_key): priority = max, summary/evidence replaced, ``updated_at = now``,
    ``status`` kept (new rows ``proposed``)."""
    if not rows:
        return 0
    t = NextBestAction.__table__

    def build(ins: Any) -> Any:
        return ins.on_conflict_do_update(
            index_elements=["project_id", "dedupe_key"],
            set_={"priority": _greatest(session, t.c.priority, ins.excluded.priority), "summary": ins.excluded.summary,
                  "evidence_refs": ins.excluded.evidence_refs, "signal_id": ins.excluded.signal_id,
                  "updated_at": ins.excluded.updated_at}).returning(t.c.id)

    values = _scoped([{**r, "id": new_id(), "status": "proposed", "created_at": now, "updated_at": now}
                      for r in rows], scope)
    return len(_bulk(session, t, values, build))


# --- legacy signals and NBA (§10): routes -----------------------------------------------------------------
def list_legacy_signals(*, session: Session, scope: Scope, status: str | None, severity_min: int,
                        limit: int) -> list[LegacySignal]:
    stmt = select(LegacySignal).filter_by(**scope.as_filter()).where(LegacySignal.severity >= severity_min)
    if status:
        stmt = stmt.where(LegacySignal.status == status)
    stmt = stmt.order_by(LegacySignal.severity.desc(), LegacySignal.confidence.desc(), LegacySignal.created_at.desc(),
                         LegacySignal.id)
    return list(session.scalars(stmt.limit(limit)))


def list_nbas(*, session: Session, scope: Scope, status: str | None, limit: int) -> list[NextBestAction]:
    stmt = select(NextBestAction).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(NextBestAction.status == status)
    stmt = stmt.order_by(NextBestAction.priority.desc(), NextBestAction.updated_at.desc(), NextBestAction.id)
    return list(session.scalars(stmt.limit(limit)))


def top_nbas(*, session: Session, scope: Scope, limit: int = 5) -> list[NextBestAction]:
    """"Top NBA" (§10): status proposed/accepted, priority desc, updated_at desc, limit 1..50."""
    stmt = (select(NextBestAction).filter_by(**scope.as_filter())
            .where(NextBestAction.status.in_(("proposed", "accepted")))
            .order_by(NextBestAction.priority.desc(), NextBestAction.updated_at.desc(), NextBestAction.id)
            .limit(max(1, min(50, limit))))
    return list(session.scalars(stmt))


def _get_scoped_or_raise(session: Session, model: Any, scope: Scope, row_id: uuid.UUID, code: str) -> Any:
    row = session.scalar(select(model).filter_by(id=row_id, **scope.as_filter()).with_for_update())
    if row is None:
        raise NotFound(code, code.replace("_", " ").capitalize())
    return row


def set_legacy_signal_status(*, session: Session, scope: Scope, signal_id: uuid.UUID, status: Any,
                             actor: str | None, request_id: str | None) -> LegacySignal:
    """The same status again leaves the row untouched (and unaudited); a change is audited
    (``signals.status_update``)."""
    target = parse_status(status, PROPOSAL_STATUSES)
    row = _get_scoped_or_raise(session, LegacySignal, scope, signal_id, "signal_not_found")
    before = row.status
    if before == target:
        return row
    row.status = target
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="signals.status_update", entity_type="signal",
                      entity_id=str(row.id), request_id=request_id,
                      payload={"from": before, "to": target, "signal_type": row.signal_type},
                      evidence_refs=list(row.evidence_refs or []))
    return row


def set_nba_status(*, session: Session, scope: Scope, nba_id: uuid.UUID, status: Any, now: datetime,
                   actor: str | None, request_id: str | None) -> NextBestAction:
    """Sets the status and ``updated_at = now`` (also when unchanged, §19); audited (``nba.status_update``)."""
    target = parse_status(status, NBA_STATUSES)
    row = _get_scoped_or_raise(session, NextBestAction, scope, nba_id, "nba_not_found")
    before = row.status
    row.status, row.updated_at = target, now
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="nba.status_update", entity_type="nba",
                      entity_id=str(row.id), request_id=request_id,
                      payload={"from": before, "to": target, "changed": before != target,
                               "action_type": row.action_type},
                      evidence_refs=list(row.evidence_refs or []))
    return row

