"""KAG v2 storage (kag.md §11–§14, §16): snapshots, outcomes, case signatures, forecasts and
recommendations v2, plus the reads of upstream tables those stages need.

Keyword-only functions, ``session`` (and ``scope``) first. The caller owns the transaction:
functions flush, never commit. Upserts are single ``INSERT … ON CONFLICT`` statements on the natural
keys of §18.3, so re-running a stage never duplicates rows. v2 recommendation upserts replace only
the generated content (``V2_CONTENT_COLUMNS``): status, feedback, shown counters, ``completed_at`` and
``created_at`` belong to the user and are never reset by a regeneration.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import ARRAY, Text, bindparam, delete, func, literal_column, select, text, update
from sqlalchemy.orm import Session

from shared.audit import write_audit_event
from shared.db.models.attio import AttioOpportunityRaw
from shared.db.models.business import CrmAccount
from shared.db.models.kag import KagEventLog, KagScore, KagScoreHistory, KagSignal, KagSignalHistory, KagTemplate
from shared.db.models.kag_v2 import (
    CaseSignature,
    KagRiskForecast,
    PastCaseOutcome,
    ProjectSnapshot,
    RecommendationV2,
)
from shared.db.models.linear import LinearIssueRaw
from shared.db.models.platform import Project
from shared.db.service.projects import dialect_insert
from shared.errors import NotFound
from shared.kag.lifecycle import apply_v2_feedback, apply_v2_status
from shared.kag.similarity import (
    MAX_CANDIDATES,
    OUTCOMES_PER_CASE,
    CaseCandidate,
    SimilarCase,
    attach_outcomes,
    attach_patterns,
    rank_similar_cases,
)
from shared.scope import Scope

log = logging.getLogger(__name__)

MAX_SIGNATURE_EVENTS = 5000
PROCESS_PREFIX = "process_"
V2_CONTENT_COLUMNS: tuple[str, ...] = (
    "category", "priority", "due_date", "owner_role", "title", "rationale", "why_now", "expected_impact",
    "evidence_refs", "links", "suggested_template_key", "suggested_template", "signal_snapshot",
    "forecast_snapshot",
)


def _count(result: Any) -> int:
    """Rows an upsert touched (``RETURNING``; a multi-row statement's ``rowcount`` is not reliable)."""
    return len(result.all())


def _scoped(rows: Iterable[Mapping[str, Any]], scope: Scope) -> list[dict[str, Any]]:
    return [{**row, "project_id": scope.project_id, "account_scope_id": scope.account_scope_id} for row in rows]


# --- reads of upstream stages ---------------------------------------------------------------------
def project_for(*, session: Session, scope: Scope) -> Project | None:
    return session.scalar(select(Project).where(Project.id == scope.project_id,
                                                Project.account_scope_id == scope.account_scope_id))


def project_in_account(*, session: Session, account_scope_id: uuid.UUID, project_id: uuid.UUID) -> Project | None:
    """A project of the caller's account scope (similarity targets, §16.2), else None."""
    return session.scalar(select(Project).where(Project.id == project_id,
                                                Project.account_scope_id == account_scope_id))


def stored_signals(*, session: Session, scope: Scope) -> list[KagSignal]:
    return list(session.scalars(select(KagSignal).filter_by(**scope.as_filter()).order_by(KagSignal.signal_key)))


def stored_scores(*, session: Session, scope: Scope) -> list[KagScore]:
    return list(session.scalars(select(KagScore).filter_by(**scope.as_filter()).order_by(KagScore.score_type)))


def domain_events_since(*, session: Session, scope: Scope, since: datetime,
                        limit: int = MAX_SIGNATURE_EVENTS) -> list[KagEventLog]:
    """Domain event-log rows (never ``process_*``) with ``occurred_at >= since``, by (occurred_at, id)."""
    stmt = (select(KagEventLog).filter_by(**scope.as_filter())
            .where(KagEventLog.occurred_at >= since, ~KagEventLog.event_type.startswith(PROCESS_PREFIX))
            .order_by(KagEventLog.occurred_at, KagEventLog.id).limit(limit))
    return list(session.scalars(stmt))


def linear_issues(*, session: Session, scope: Scope) -> list[Any]:
    stmt = select(LinearIssueRaw.completed_at, LinearIssueRaw.blocked, LinearIssueRaw.due_date).filter_by(
        **scope.as_filter())
    return list(session.execute(stmt))


def attio_deals(*, session: Session, scope: Scope) -> list[Any]:
    stmt = select(AttioOpportunityRaw.stage, AttioOpportunityRaw.amount, AttioOpportunityRaw.updated_at,
                  AttioOpportunityRaw.created_at).filter_by(**scope.as_filter()).where(
        AttioOpportunityRaw.deleted_at.is_(None))  # deals deleted upstream no longer count
    return list(session.execute(stmt))


def crm_accounts(*, session: Session, scope: Scope) -> list[Any]:
    stmt = select(CrmAccount.name, CrmAccount.updated_at).filter_by(**scope.as_filter())
    return list(session.execute(stmt))


def templates(*, session: Session, scope: Scope) -> list[KagTemplate]:
    return list(session.scalars(select(KagTemplate).filter_by(**scope.as_filter())))


# --- snapshots and outcomes (§11) -----------------------------------------------------------------
def upsert_snapshot(*, session: Session, scope: Scope, row: Mapping[str, Any], now: datetime) -> int:
    """Upsert on (project_id, snapshot_date): every field replaced, ``created_at`` rewritten."""
    values = _scoped([{**row, "created_at": now}], scope)[0]
    stmt = dialect_insert(session)(ProjectSnapshot).values(values)
    replaced = {k: stmt.excluded[k] for k in values if k not in ("project_id", "account_scope_id", "snapshot_date")}
    stmt = stmt.on_conflict_do_update(index_elements=["project_id", "snapshot_date"], set_=replaced)
    return session.execute(stmt.returning(ProjectSnapshot.id)).scalar_one()


def upsert_outcomes(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]]) -> int:
    """Upsert on (project_id, dedupe_key) replacing severity, notes, evidence and source_event_id."""
    if not rows:
        return 0
    values = _scoped([{**r, "id": uuid.uuid4()} for r in rows], scope)
    stmt = dialect_insert(session)(PastCaseOutcome).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "dedupe_key"],
        set_={k: stmt.excluded[k] for k in ("severity", "notes", "evidence_refs", "source_event_id")},
    )
    return _count(session.execute(stmt.returning(literal_column("1"))))


def list_snapshots(*, session: Session, scope: Scope, limit: int, include_unpublished: bool) -> list[ProjectSnapshot]:
    stmt = select(ProjectSnapshot).filter_by(**scope.as_filter())
    if not include_unpublished:
        stmt = stmt.where(ProjectSnapshot.publishable.is_(True))
    return list(session.scalars(stmt.order_by(ProjectSnapshot.snapshot_date.desc()).limit(limit)))


def snapshots_since(*, session: Session, scope: Scope, first_day: date) -> list[Any]:
    """What a signature reads of each snapshot (date, signals, scores, aggregates), oldest first."""
    t = ProjectSnapshot
    stmt = (select(t.snapshot_date, t.signals_json, t.scores_json, t.key_aggregates_json)
            .filter_by(**scope.as_filter()).where(t.snapshot_date >= first_day).order_by(t.snapshot_date))
    return list(session.execute(stmt))


def list_outcomes(*, session: Session, scope: Scope, outcome_type: str | None, limit: int) -> list[PastCaseOutcome]:
    stmt = select(PastCaseOutcome).filter_by(**scope.as_filter())
    if outcome_type:
        stmt = stmt.where(PastCaseOutcome.outcome_type == outcome_type)
    return list(session.scalars(stmt.order_by(PastCaseOutcome.occurred_at.desc(), PastCaseOutcome.id).limit(limit)))


def recent_outcomes(*, session: Session, account_scope_id: uuid.UUID, project_ids: Sequence[Any],
                    per_project: int = OUTCOMES_PER_CASE) -> dict[str, list[Any]]:
    """The ``per_project`` most recent outcomes of each project, keyed by ``str(project_id)``."""
    ids = [p if isinstance(p, uuid.UUID) else uuid.UUID(str(p)) for p in project_ids]
    if not ids:
        return {}
    rank = func.row_number().over(partition_by=PastCaseOutcome.project_id,
                                  order_by=(PastCaseOutcome.occurred_at.desc(), PastCaseOutcome.id)).label("rn")
    inner = (select(PastCaseOutcome.project_id, PastCaseOutcome.outcome_type, PastCaseOutcome.occurred_at,
                    PastCaseOutcome.severity, PastCaseOutcome.notes, PastCaseOutcome.evidence_refs, rank)
             .where(PastCaseOutcome.account_scope_id == account_scope_id, PastCaseOutcome.project_id.in_(ids))
             .subquery())
    out: dict[str, list[Any]] = {}
    for row in session.execute(select(inner).where(inner.c.rn <= per_project)):
        out.setdefault(str(row.project_id), []).append(row)
    return out


# --- case signatures and similar cases (§12) ------------------------------------------------------
def upsert_signature(*, session: Session, scope: Scope, row: Mapping[str, Any], now: datetime) -> None:
    values = _scoped([{**row, "id": uuid.uuid4(), "updated_at": now}], scope)[0]
    stmt = dialect_insert(session)(CaseSignature).values(values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "window_days"],
        set_={k: stmt.excluded[k] for k in ("signature_vector", "signature_hash", "features_json", "context_json",
                                            "computed_at", "updated_at")},
    )
    session.execute(stmt)


def get_signature(*, session: Session, scope: Scope, window_days: int) -> CaseSignature | None:
    return session.scalar(select(CaseSignature).filter_by(window_days=window_days, **scope.as_filter()))


_PG_CANDIDATES = text("""
WITH newest AS (
    SELECT cs.id
    FROM case_signatures cs
    WHERE cs.account_scope_id = :account_scope_id AND cs.window_days = :window_days AND cs.project_id <> :project_id
    ORDER BY cs.updated_at DESC, cs.id
    LIMIT :limit
), ranked AS (
    SELECT cs.id, cs.updated_at, cs.project_id, p.name, cs.signature_vector, cs.context_json, o.shared, o.total
    FROM newest n
    JOIN case_signatures cs ON cs.id = n.id
    JOIN projects p ON p.id = cs.project_id
    CROSS JOIN LATERAL (
        SELECT count(DISTINCT g) FILTER (WHERE g = ANY(:source_ngrams)) AS shared, count(DISTINCT g) AS total
        FROM jsonb_array_elements_text(cs.features_json -> 'event_ngrams') AS g
    ) AS o
)
SELECT json_agg(json_build_array(project_id, name, signature_vector, context_json, shared, total)
                ORDER BY updated_at DESC, id)
FROM ranked
""").bindparams(bindparam("source_ngrams", type_=ARRAY(Text)))


def candidate_signatures(*, session: Session, scope: Scope, window_days: int, source_ngrams: Sequence[str] = (),
                         limit: int = MAX_CANDIDATES) -> list[CaseCandidate]:
    """Signatures of the scope's **other** projects (same window), newest ``limit`` by ``updated_at``.

    Only what the ranking reads is fetched. On PostgreSQL the database intersects each candidate's
    n-gram set with ``source_ngrams`` (``shared_ngrams`` / ``distinct_ngrams``) so the n-grams of 300
    candidates never cross the wire (fetching and parsing them was most of a nearest-case query), the
    large ``features_json`` is read only for the 300 newest rows (the CTE picks ids first), and the
    rows come back as one ``json_agg`` document (one parse); the returned cases' n-grams are read
    afterwards (``ngrams_for``). SQLite reads the n-grams directly.
    """
    if session.get_bind().dialect.name == "postgresql":
        rows = session.scalar(_PG_CANDIDATES, {
            "account_scope_id": scope.account_scope_id, "window_days": window_days, "project_id": scope.project_id,
            "limit": limit, "source_ngrams": sorted(set(source_ngrams))})
        return [CaseCandidate(project_id=str(pid), project_name=name, vector=[float(x) for x in (vector or [])],
                              ngrams=[], context=dict(context or {}), shared_ngrams=int(shared),
                              distinct_ngrams=int(total)) for pid, name, vector, context, shared, total in rows or ()]
    t = CaseSignature
    stmt = (select(t.project_id, Project.name, t.signature_vector, t.features_json, t.context_json)
            .join(Project, Project.id == t.project_id)
            .where(t.account_scope_id == scope.account_scope_id, t.window_days == window_days,
                   t.project_id != scope.project_id)
            .order_by(t.updated_at.desc(), t.id).limit(limit))
    return [CaseCandidate(project_id=str(pid), project_name=name, vector=[float(x) for x in (vector or [])],
                          ngrams=[str(g) for g in ((features or {}).get("event_ngrams") or [])],
                          context=dict(context or {}))
            for pid, name, vector, features, context in session.execute(stmt)]


def ngrams_for(*, session: Session, account_scope_id: uuid.UUID, window_days: int,
               project_ids: Sequence[Any]) -> dict[str, list[str]]:
    """``features_json.event_ngrams`` of a few projects' signatures, keyed by ``str(project_id)``."""
    ids = [p if isinstance(p, uuid.UUID) else uuid.UUID(str(p)) for p in project_ids]
    if not ids:
        return {}
    t = CaseSignature
    grams = t.features_json["event_ngrams"] if session.get_bind().dialect.name == "postgresql" else t.features_json
    rows = session.execute(select(t.project_id, grams).where(t.account_scope_id == account_scope_id,
                                                            t.window_days == window_days, t.project_id.in_(ids)))
    out: dict[str, list[str]] = {}
    for project_id, value in rows:
        if isinstance(value, Mapping):  # SQLite: the whole features_json
            value = value.get("event_ngrams")
        out[str(project_id)] = [str(g) for g in (value or [])]
    return out


@dataclass
class SimilarCases:
    """Ranked similar cases of one project and window (``signature`` None = no source signature)."""

    signature: CaseSignature | None
    cases: list[SimilarCase] = field(default_factory=list)


def similar_cases(*, session: Session, scope: Scope, window_days: int, top_k: int, now: datetime,
                  signature: Any = None) -> SimilarCases:
    """§12.2 on stored signatures (read-only: never builds one). ``signature`` overrides the stored one."""
    source = signature if signature is not None else get_signature(session=session, scope=scope,
                                                                   window_days=window_days)
    if source is None:
        return SimilarCases(None)
    source_ngrams = [str(g) for g in ((getattr(source, "features_json", None) or {}).get("event_ngrams") or [])]
    candidates = candidate_signatures(session=session, scope=scope, window_days=window_days,
                                      source_ngrams=source_ngrams)
    ranked = rank_similar_cases({"project_id": str(scope.project_id),
                                 "signature_vector": getattr(source, "signature_vector", None) or [],
                                 "features_json": {"event_ngrams": source_ngrams},
                                 "context_json": getattr(source, "context_json", None) or {}},
                                candidates, now, top_k=top_k)
    ids = [c.case_project_id for c in ranked]
    if any(c.shared_ngrams is not None for c in candidates):
        grams = ngrams_for(session=session, account_scope_id=scope.account_scope_id, window_days=window_days,
                           project_ids=ids)
        ranked = attach_patterns(ranked, grams, source_ngrams)
    outcomes = recent_outcomes(session=session, account_scope_id=scope.account_scope_id, project_ids=ids)
    return SimilarCases(source, attach_outcomes(ranked, outcomes))


# --- forecasts (§13) -------------------------------------------------------------------------------
def upsert_forecasts(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]], now: datetime) -> int:
    if not rows:
        return 0
    values = _scoped([{**r, "id": uuid.uuid4(), "updated_at": now} for r in rows], scope)
    stmt = dialect_insert(session)(KagRiskForecast).values(values)
    keep = ("id", "project_id", "account_scope_id", "risk_type")
    stmt = stmt.on_conflict_do_update(index_elements=["project_id", "risk_type"],
                                      set_={k: stmt.excluded[k] for k in values[0] if k not in keep})
    return _count(session.execute(stmt.returning(literal_column("1"))))


def list_forecasts(*, session: Session, scope: Scope, include_unpublished: bool = True) -> list[KagRiskForecast]:
    stmt = select(KagRiskForecast).filter_by(**scope.as_filter())
    if not include_unpublished:
        stmt = stmt.where(KagRiskForecast.publishable.is_(True))
    return list(session.scalars(stmt.order_by(KagRiskForecast.risk_type)))


def logit_training_rows(*, session: Session, account_scope_id: uuid.UUID,
                        since: date) -> tuple[list[Any], list[Any]]:
    """Snapshots and outcomes of every project of the account scope since ``since`` (§13.5 samples)."""
    t = ProjectSnapshot
    snaps = list(session.execute(select(t.project_id, t.snapshot_date, t.signals_json, t.scores_json)
                                 .where(t.account_scope_id == account_scope_id, t.snapshot_date >= since)))
    outs = list(session.execute(select(PastCaseOutcome.project_id, PastCaseOutcome.outcome_type,
                                       PastCaseOutcome.occurred_at)
                                .where(PastCaseOutcome.account_scope_id == account_scope_id)))
    return snaps, outs


# --- recommendations v2 (§14) ----------------------------------------------------------------------
def upsert_recommendations(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]],
                           now: datetime) -> int:
    """Upsert on (project_id, dedupe_key): content replaced, user-owned columns kept (§14.1)."""
    if not rows:
        return 0
    values = _scoped([{**{k: r[k] for k in (*V2_CONTENT_COLUMNS, "dedupe_key")}, "id": uuid.uuid4(),
                       "status": "new", "helpful_feedback": "unknown", "shown_count": 0, "created_at": now,
                       "updated_at": now} for r in rows], scope)
    stmt = dialect_insert(session)(RecommendationV2).values(values)
    set_ = {k: stmt.excluded[k] for k in V2_CONTENT_COLUMNS} | {"updated_at": stmt.excluded.updated_at}
    stmt = stmt.on_conflict_do_update(index_elements=["project_id", "dedupe_key"], set_=set_)
    return _count(session.execute(stmt.returning(literal_column("1"))))


def badge_color(project_id: Any) -> str:
    return "#" + hashlib.sha1(str(project_id).encode("utf-8")).hexdigest()[:6]


def list_recommendations(*, session: Session, scope: Scope, status: str | None, limit: int,
                         all_projects: bool = False) -> list[tuple[RecommendationV2, str]]:
    """Rows with their project name, priority desc then updated_at desc; ``all_projects`` = scope-wide."""
    stmt = select(RecommendationV2, Project.name).join(Project, Project.id == RecommendationV2.project_id)
    if all_projects:
        stmt = stmt.where(RecommendationV2.account_scope_id == scope.account_scope_id)
    else:
        stmt = stmt.where(RecommendationV2.project_id == scope.project_id,
                          RecommendationV2.account_scope_id == scope.account_scope_id)
    if status:
        stmt = stmt.where(RecommendationV2.status == status)
    stmt = stmt.order_by(RecommendationV2.priority.desc(), RecommendationV2.updated_at.desc(), RecommendationV2.id)
    return [(rec, name) for rec, name in session.execute(stmt.limit(limit))]


def mark_shown(*, session: Session, recommendation_ids: Sequence[uuid.UUID], now: datetime) -> dict[uuid.UUID, Any]:
    """One UPDATE: ``shown_count += 1``, ``last_shown_at = now``, ``first_shown_at = coalesce(…, now)``.

    ``updated_at`` is left alone (being shown is not a change of the recommendation). Returns the
    post-update counters by id.
    """
    if not recommendation_ids:
        return {}
    t = RecommendationV2
    stmt = (update(t).where(t.id.in_(list(recommendation_ids)))
            .values(shown_count=t.shown_count + 1, last_shown_at=now,
                    first_shown_at=func.coalesce(t.first_shown_at, now), updated_at=t.updated_at)
            .returning(t.id, t.shown_count, t.first_shown_at, t.last_shown_at)
            .execution_options(synchronize_session=False))
    return {row.id: row for row in session.execute(stmt)}


def get_recommendation(*, session: Session, account_scope_id: uuid.UUID,
                       recommendation_id: uuid.UUID) -> RecommendationV2 | None:
    """v2 status/feedback look ids up within the caller's **account scope** (§16.2 notes)."""
    return session.scalar(select(RecommendationV2).where(RecommendationV2.id == recommendation_id,
                                                         RecommendationV2.account_scope_id == account_scope_id))


def get_recommendation_or_raise(*, session: Session, account_scope_id: uuid.UUID,
                                recommendation_id: uuid.UUID) -> RecommendationV2:
    rec = get_recommendation(session=session, account_scope_id=account_scope_id,
                             recommendation_id=recommendation_id)
    if rec is None:
        raise NotFound("recommendation_not_found", "Recommendation not found")
    return rec


_LIFECYCLE_COLUMNS = ("status", "updated_at", "completed_at")
_FEEDBACK_COLUMNS = ("helpful_feedback", "feedback_note", "updated_at")


def _as_row(rec: RecommendationV2, columns: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(rec, c) for c in columns}


def set_status(*, session: Session, account_scope_id: uuid.UUID, recommendation_id: uuid.UUID, status: Any,
               now: datetime, actor: str | None, request_id: str | None) -> RecommendationV2:
    """§14.2 lifecycle; the same status again leaves the row untouched (and writes no audit row)."""
    rec = get_recommendation_or_raise(session=session, account_scope_id=account_scope_id,
                                      recommendation_id=recommendation_id)
    before = rec.status
    new, changed = apply_v2_status(_as_row(rec, _LIFECYCLE_COLUMNS), status, now)
    if changed:
        for column in _LIFECYCLE_COLUMNS:
            setattr(rec, column, new[column])
        session.flush()
        write_audit_event(session, Scope(rec.project_id, rec.account_scope_id), actor_username=actor,
                          action="kag.v2.recommendation.status_update", entity_type="recommendation_v2",
                          entity_id=str(rec.id), request_id=request_id,
                          payload={"from": before, "to": rec.status, "category": rec.category},
                          evidence_refs=None)
    return rec


def set_feedback(*, session: Session, account_scope_id: uuid.UUID, recommendation_id: uuid.UUID,
                 body: Mapping[str, Any], now: datetime, actor: str | None,
                 request_id: str | None) -> RecommendationV2:
    """§14.3: feedback is independent of status and may change any time; always audited."""
    rec = get_recommendation_or_raise(session=session, account_scope_id=account_scope_id,
                                      recommendation_id=recommendation_id)
    new = apply_v2_feedback(_as_row(rec, _FEEDBACK_COLUMNS), body, now)
    for column in _FEEDBACK_COLUMNS:
        setattr(rec, column, new[column])
    session.flush()
    write_audit_event(session, Scope(rec.project_id, rec.account_scope_id), actor_username=actor,
                      action="kag.v2.recommendation.feedback", entity_type="recommendation_v2",
                      entity_id=str(rec.id), request_id=request_id,
                      payload={"helpful_feedback": rec.helpful_feedback, "has_note": rec.feedback_note is not None})
    return rec


# --- process events and retention (§5.2, §11.3) ----------------------------------------------------
def insert_event_log_rows(*, session: Session, scope: Scope, rows: Sequence[Mapping[str, Any]]) -> int:
    """Append event-log rows; ``ON CONFLICT (project_id, dedupe_key) DO NOTHING`` (replays are no-ops)."""
    if not rows:
        return 0
    stmt = dialect_insert(session)(KagEventLog).values(_scoped(rows, scope))
    stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "dedupe_key"])
    return session.execute(stmt).rowcount or 0


def prune_kag_history(*, session: Session, snapshots_before: date, history_before: datetime,
                      process_events_before: datetime) -> dict[str, int]:
    """Global KAG retention (every project): old snapshots, signal/score history, process events.

    Outcomes, signatures, forecasts and recommendations are never pruned (§11.3).
    """
    def run(stmt: Any) -> int:
        return session.execute(stmt.execution_options(synchronize_session=False)).rowcount or 0

    return {
        "snapshots_deleted": run(delete(ProjectSnapshot).where(
            ProjectSnapshot.snapshot_date < snapshots_before)),
        "signal_history_deleted": run(delete(KagSignalHistory).where(
            KagSignalHistory.computed_at < history_before)),
        "score_history_deleted": run(delete(KagScoreHistory).where(
            KagScoreHistory.computed_at < history_before)),
        "process_events_deleted": run(delete(KagEventLog).where(
            KagEventLog.event_type.startswith(PROCESS_PREFIX),
            KagEventLog.occurred_at < process_events_before)),
    }

