"""KAG v1 storage (kag.md §4–§10, §16, §18): graph, event log, signal state, signals, scores,
v1 recommendations, legacy signals and next best actions — plus the connector-table reads the stages need.

Keyword-only functions, ``session`` and ``scope`` first; the caller owns the transaction (functions
flush, never commit). Every query filters on the scope. Upserts are ``INSERT … ON CONFLICT`` on the
natural keys of §18, in chunks of ``CHUNK`` rows (PostgreSQL's bind-parameter limit), so re-running a
stage never duplicates rows.

User decisions are never overwritten by a regeneration: v1 recommendations, legacy signals and NBAs
keep ``status`` (and ``created_at``) on conflict. ``updated_at`` of signals, scores and v1
recommendations moves only when the stored content changes (``computed_at`` says when it was last
recomputed), so a recompute with unchanged inputs changes nothing a reader orders by.

Status vocabulary (one for the three "proposal" artifacts, §9/§10): ``proposed, accepted, dismissed,
done``; NBAs add ``cancelled``. Setting the current status again returns the row untouched (a legacy
signal) or only refreshes ``updated_at`` (an NBA, §19); both are audited.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import case, func, or_, select, update
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

CHUNK = 1000  # rows per statement; counts come from RETURNING (a multi-row upsert's rowcount is not reliable)
SIGNAL_CONTENT = ("value", "status", "threshold_warn", "threshold_critical", "details", "evidence_refs")
SCORE_CONTENT = ("score", "level", "weights", "thresholds", "factors", "evidence_refs")
V1_CONTENT = ("category", "priority", "title", "rationale", "suggested_template_key", "suggested_template",
              "evidence_refs", "signal_snapshot", "score_snapshot")


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
    changed = or_(*(getattr(table, c).is_distinct_from(stmt.excluded[c]) for c in columns))
    return case((changed, stmt.excluded.updated_at), else_=table.updated_at)


def _changed_ts(model: Any) -> Any:
    return func.coalesce(model.updated_at, model.created_at)


# --- ingest (§4.2): reads -----------------------------------------------------------------------------
def ingest_cursors(*, session: Session, scope: Scope) -> dict[str, datetime | None]:
    rows = session.execute(select(KagIngestCursor.source, KagIngestCursor.cursor_ts).filter_by(**scope.as_filter()))
    return {source: ts for source, ts in rows}


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
    ids: dict[str, uuid.UUID] = {}
    content = ("status", "title", "payload", "numeric_fields", "source_refs", "rag_chunk_refs")
    for part in _chunks(rows):
        values = _scoped([{**r, "id": uuid.uuid4(), "created_at": now, "updated_at": now} for r in part], scope)
        stmt = dialect_insert(session)(KagNode).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "node_type", "node_key"],
            set_={**{c: stmt.excluded[c] for c in content}, "updated_at": _touch_if_changed(KagNode, stmt, content)})
        for node_id, node_type, node_key in session.execute(
                stmt.returning(KagNode.id, KagNode.node_type, KagNode.node_key)):
            ids[f"{node_type}:{node_key}"] = node_id
    return ids


def upsert_edges(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                 now: datetime) -> list[uuid.UUID]:
    """Upsert on (project_id, from_node_id, to_node_id, relation_type); returns the written ids in row order."""
    ids: list[uuid.UUID] = []
    content = ("status", "weight", "payload", "source_refs", "rag_chunk_refs")
    for part in _chunks(rows):
        values = _scoped([{**r, "id": uuid.uuid4(), "created_at": now, "updated_at": now} for r in part], scope)
        stmt = dialect_insert(session)(KagEdge).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "from_node_id", "to_node_id", "relation_type"],
            set_={**{c: stmt.excluded[c] for c in content}, "updated_at": _touch_if_changed(KagEdge, stmt, content)})
        by_identity = {(f, t, r): i for i, f, t, r in session.execute(
            stmt.returning(KagEdge.id, KagEdge.from_node_id, KagEdge.to_node_id, KagEdge.relation_type))}
        ids.extend(by_identity[(r["from_node_id"], r["to_node_id"], r["relation_type"])] for r in part)
    return ids


def insert_events(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                  now: datetime) -> dict[str, int]:
    """Insert graph events ``ON CONFLICT (project_id, dedupe_key) DO NOTHING``; dedupe_key → new id."""
    inserted: dict[str, int] = {}
    for part in _chunks(rows):
        values = _scoped([{**r, "created_at": now} for r in part], scope)
        stmt = dialect_insert(session)(KagEvent).values(values).on_conflict_do_nothing(
            index_elements=["project_id", "dedupe_key"])
        for event_id, key in session.execute(stmt.returning(KagEvent.id, KagEvent.dedupe_key)):
            inserted[key] = event_id
    return inserted


def insert_provenance(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """One row per (object, evidence ref), conflicts (the functional unique index) ignored.

    ``rag_chunk_id`` must name a stored chunk (FK): ids that are not UUIDs of this project's chunks
    are dropped from the row (and a row left without any id is skipped).
    """
    if not rows:
        return 0
    wanted = {str(r["rag_chunk_id"]) for r in rows if r.get("rag_chunk_id")}
    known: set[str] = set()
    parsed = []
    for raw in wanted:
        try:
            parsed.append(uuid.UUID(raw))
        except ValueError:
            continue
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
        row["metadata_"] = row.pop("metadata", None) or {}
        values.append({**row, "id": uuid.uuid4(), "created_at": now})
    written = 0
    for part in _chunks(values):
        stmt = dialect_insert(session)(KagProvenanceRef).values(_scoped(part, scope)).on_conflict_do_nothing()
        written += len(session.execute(stmt.returning(KagProvenanceRef.id)).all())
    return written


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
    touched = 0
    if signals:
        values = _scoped([{**r, "id": uuid.uuid4(), "updated_at": now} for r in signals], scope)
        stmt = dialect_insert(session)(KagSignal).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "signal_key"],
            set_={**{c: stmt.excluded[c] for c in SIGNAL_CONTENT}, "computed_at": stmt.excluded.computed_at,
                  "updated_at": _touch_if_changed(KagSignal, stmt, SIGNAL_CONTENT)})
        touched = len(session.execute(stmt.returning(KagSignal.id)).all())
    if history:
        session.execute(dialect_insert(session)(KagSignalHistory).values(_scoped(history, scope)))
    for part in _chunks(list(processed_event_ids), 5000):
        session.execute(update(KagEvent).filter_by(**scope.as_filter()).where(KagEvent.id.in_(part))
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
    values = _scoped([{**r, "id": uuid.uuid4(), "updated_at": now} for r in scores], scope)
    stmt = dialect_insert(session)(KagScore).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "score_type"],
        set_={**{c: stmt.excluded[c] for c in SCORE_CONTENT}, "computed_at": stmt.excluded.computed_at,
              "updated_at": _touch_if_changed(KagScore, stmt, SCORE_CONTENT)})
    touched = len(session.execute(stmt.returning(KagScore.id)).all())
    if history:
        session.execute(dialect_insert(session)(KagScoreHistory).values(_scoped(history, scope)))
    return touched


# --- v1 recommendations (§9) ----------------------------------------------------------------------------
def upsert_recommendations(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                           now: datetime) -> int:
    """Upsert on (project_id, dedupe_key): content replaced, ``status`` and ``created_at`` never written."""
    if not rows:
        return 0
    values = _scoped([{**{k: r[k] for k in (*V1_CONTENT, "dedupe_key")}, "id": uuid.uuid4(), "status": "proposed",
                       "created_at": now, "updated_at": now} for r in rows], scope)
    stmt = dialect_insert(session)(KagRecommendation).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "dedupe_key"],
        set_={**{c: stmt.excluded[c] for c in V1_CONTENT},
              "updated_at": _touch_if_changed(KagRecommendation, stmt, V1_CONTENT)})
    return len(session.execute(stmt.returning(KagRecommendation.id)).all())


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
    return session.scalar(select(ConnectorSyncState.cursor_ts).filter_by(connector=connector, **scope.as_filter()))


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
    inserted = 0
    for part in _chunks(list(rows)):
        stmt = dialect_insert(session)(KagEventLog).values(_scoped([{**r, "created_at": now} for r in part], scope))
        stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "dedupe_key"])
        inserted += len(session.execute(stmt.returning(KagEventLog.id)).all())
    return inserted


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
    out: list[Any] = []
    t = LegacySignal
    for part in _chunks(list(rows)):
        values = _scoped([{**r, "id": uuid.uuid4(), "status": "proposed", "created_at": now} for r in part], scope)
        stmt = dialect_insert(session)(t).values(values)
        set_ = {"severity": _greatest(session, t.severity, stmt.excluded.severity),
                "confidence": _greatest(session, t.confidence, stmt.excluded.confidence),
                "summary": stmt.excluded.summary, "evidence_refs": stmt.excluded.evidence_refs,
                "source_kind": stmt.excluded.source_kind}
        for column in ("account_id", "opportunity_id"):
            set_[column] = func.coalesce(stmt.excluded[column], getattr(t, column))
        stmt = stmt.on_conflict_do_update(index_elements=["project_id", "dedupe_key"], set_=set_)
        out.extend(session.execute(stmt.returning(t.id, t.signal_type, t.summary, t.evidence_refs, t.account_id,
                                                  t.opportunity_id)))
    return out


def upsert_nbas(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Upsert on (project_id, dedupe_key): priority = max, summary/evidence replaced, ``updated_at = now``,
    ``status`` kept (new rows ``proposed``)."""
    touched = 0
    t = NextBestAction
    for part in _chunks(list(rows)):
        values = _scoped([{**r, "id": uuid.uuid4(), "status": "proposed", "created_at": now, "updated_at": now}
                          for r in part], scope)
        stmt = dialect_insert(session)(t).values(values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["project_id", "dedupe_key"],
            set_={"priority": _greatest(session, t.priority, stmt.excluded.priority), "summary": stmt.excluded.summary,
                  "evidence_refs": stmt.excluded.evidence_refs, "signal_id": stmt.excluded.signal_id,
                  "updated_at": stmt.excluded.updated_at})
        touched += len(session.execute(stmt.returning(t.id)).all())
    return touched


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

