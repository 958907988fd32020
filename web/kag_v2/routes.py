"""KAG v2 routes (kag.md §16.2): snapshots, outcomes, similar cases, forecasts, recommendations v2.

Refresh/rebuild routes validate, enqueue one catalog job and answer 202 (platform §7.6); reads
answer from stored rows (similar cases are ranked on read from stored signatures, never built);
status and feedback are synchronous and audited. Flags never change a route or a shape (§2).
"""

from __future__ import annotations

import logging
import uuid

from flask import Response, g
from sqlalchemy.exc import SQLAlchemyError

from shared.db.models.platform import Project
from shared.db.service import kag_v2 as svc
from shared.errors import InvalidInput, NotFound
from shared.kag.lifecycle import parse_snapshot_date
from shared.scope import Scope
from shared.timeutil import utcnow
from web.api import PathParam, route
from web.context import db, username, write
from web.envelope import ok
from web.kag_v2 import bp
from web.kag_v2.schemas import (
    EmptyBody,
    FeedbackBody,
    ForecastQuery,
    ForecastRefreshBody,
    OutcomesQuery,
    RecommendationsQuery,
    SimilarCasesQuery,
    SimilarityRebuildBody,
    SnapshotRefreshBody,
    SnapshotsQuery,
    StatusBody,
    forecast_json,
    outcome_json,
    parse_int,
    parse_project_id,
    parse_window,
    recommendation_json,
    snapshot_json,
)
from web.triggers import accepted, trigger_job

log = logging.getLogger(__name__)
REC_ID = {"recommendation_id": PathParam("uuid", "invalid_recommendation_id")}


def load_project_or_404(scope: Scope, raw_project_id: object) -> Project:
    """A project of the caller's account scope (default: the active one); 400/404 otherwise."""
    project_id = parse_project_id(raw_project_id) or scope.project_id
    project = svc.project_in_account(session=db(), account_scope_id=scope.account_scope_id, project_id=project_id)
    if project is None:
        raise NotFound("project_not_found", "Project not found")
    return project


# --- snapshots and outcomes -------------------------------------------------------------------------
@route(bp, "/kag/snapshots/refresh", method="POST", body=SnapshotRefreshBody, success=202,
       summary="Enqueue today's (or a past day's) project snapshot", responses={400: "invalid_snapshot_date"})
def refresh_snapshots(scope: Scope, body: SnapshotRefreshBody) -> Response:
    day = parse_snapshot_date(body.snapshot_date, utcnow())
    params = {"snapshot_date": day.isoformat()} if day else {}
    return accepted(trigger_job(scope, "project_snapshot_daily", params=params))


@route(bp, "/kag/snapshots", query=SnapshotsQuery, summary="Daily snapshots, newest first")
def list_snapshots(scope: Scope, q: SnapshotsQuery) -> Response:
    rows = svc.list_snapshots(session=db(), scope=scope, limit=q.limit, include_unpublished=q.include_unpublished)
    return ok({"snapshots": [snapshot_json(s) for s in rows]})


@route(bp, "/kag/outcomes", query=OutcomesQuery, summary="Past-case outcomes, newest first")
def list_outcomes(scope: Scope, q: OutcomesQuery) -> Response:
    outcome_type = (q.outcome_type or "").strip().lower() or None
    rows = svc.list_outcomes(session=db(), scope=scope, outcome_type=outcome_type, limit=q.limit)
    return ok({"outcomes": [outcome_json(o) for o in rows]})


# --- similarity -------------------------------------------------------------------------------------
@route(bp, "/kag/similarity/rebuild", method="POST", body=SimilarityRebuildBody, success=202,
       summary="Enqueue a case-signature rebuild (one window or all three)",
       responses={400: "invalid_window_days", 404: "project_not_found"})
def rebuild_similarity(scope: Scope, body: SimilarityRebuildBody) -> Response:
    window = parse_window(body.window_days, None)
    project = load_project_or_404(scope, body.project_id)
    params: dict[str, object] = {"project_id": str(project.id)}
    if window:
        params["window_days"] = window
    return accepted(trigger_job(scope, "case_signatures_refresh", params=params))


@route(bp, "/kag/similar-cases", query=SimilarCasesQuery, summary="Nearest past cases and what made them similar",
       responses={404: "project_not_found"})
def similar_cases(scope: Scope, q: SimilarCasesQuery) -> Response:
    project = load_project_or_404(scope, q.project_id)
    found = svc.similar_cases(session=db(), scope=Scope(project.id, project.account_scope_id),
                              window_days=q.window_days, top_k=q.top_k, now=utcnow())
    cases = [c.explained() for c in found.cases]
    return ok({"cases": cases[:3], "all": cases, "signature_status": "ok" if found.signature else "missing",
               "signature_computed_at": found.signature.computed_at if found.signature else None})


# --- forecasts --------------------------------------------------------------------------------------
@route(bp, "/kag/v2/forecast/refresh", method="POST", body=ForecastRefreshBody, success=202,
       summary="Enqueue the risk forecast of the active project",
       responses={400: "invalid_window_days / invalid_top_k / project_mismatch"})
def refresh_forecast(scope: Scope, body: ForecastRefreshBody) -> Response:
    window = parse_window(body.window_days, 14)
    top_k = parse_int(body.top_k, default=5, lo=1, hi=50, code="invalid_top_k")
    project_id = parse_project_id(body.project_id)
    if project_id is not None and project_id != scope.project_id:
        raise InvalidInput("project_mismatch", "project_id must be the active project")
    params = {"project_id": str(scope.project_id), "window_days": window, "top_k": top_k}
    return accepted(trigger_job(scope, "kag_v2_forecast_refresh", params=params))


@route(bp, "/kag/v2/forecast", query=ForecastQuery, summary="Stored risk forecasts and the top similar cases")
def get_forecast(scope: Scope, q: ForecastQuery) -> Response:
    rows = svc.list_forecasts(session=db(), scope=scope, include_unpublished=q.include_unpublished)
    found = svc.similar_cases(session=db(), scope=scope, window_days=q.window_days, top_k=q.top_k, now=utcnow())
    return ok({"forecasts": [forecast_json(f) for f in rows],
               "similar_cases_top3": [c.explained() for c in found.cases]})


# --- recommendations v2 -----------------------------------------------------------------------------
@route(bp, "/kag/v2/recommendations/refresh", method="POST", body=EmptyBody, success=202,
       summary="Enqueue recommendations v2 for the active project")
def refresh_recommendations(scope: Scope, body: EmptyBody) -> Response:
    return accepted(trigger_job(scope, "kag_v2_recommendations_refresh"))


@route(bp, "/kag/v2/recommendations", query=RecommendationsQuery,
       summary="Recommendations v2 (active project or the whole account scope); marks them shown")
def list_recommendations(scope: Scope, q: RecommendationsQuery) -> Response:
    rows = svc.list_recommendations(session=db(), scope=scope, status=q.status, limit=q.limit,
                                    all_projects=q.all_projects)
    shown: dict = {}
    if q.mark_shown and rows:
        try:
            with write() as s:
                shown = svc.mark_shown(session=s, recommendation_ids=[r.id for r, _ in rows], now=utcnow())
        except SQLAlchemyError:
            log.warning("could not update shown counters", exc_info=True)
    items = []
    for rec, name in rows:
        item = recommendation_json(rec, project_name=name,
                                   badge_color=svc.badge_color(rec.project_id) if q.all_projects else None)
        if rec.id in shown:
            counters = shown[rec.id]
            item.update(shown_count=counters.shown_count, first_shown_at=counters.first_shown_at,
                        last_shown_at=counters.last_shown_at)
        items.append(item)
    return ok({"recommendations": items})


@route(bp, "/kag/v2/recommendations/<recommendation_id>/status", method="POST", body=StatusBody, path=REC_ID,
       summary="Move a recommendation through new → acknowledged → done/dismissed",
       responses={404: "recommendation_not_found", 409: "invalid_transition"})
def set_status(scope: Scope, recommendation_id: uuid.UUID, body: StatusBody) -> Response:
    with write() as s:
        rec = svc.set_status(session=s, account_scope_id=scope.account_scope_id,
                             recommendation_id=recommendation_id, status=body.status, now=utcnow(),
                             actor=username(), request_id=g.request_id)
        item = recommendation_json(rec)
    return ok({"recommendation": item})


@route(bp, "/kag/v2/recommendations/<recommendation_id>/feedback", method="POST", body=FeedbackBody, path=REC_ID,
       summary="Record whether a recommendation helped", responses={404: "recommendation_not_found"})
def set_feedback(scope: Scope, recommendation_id: uuid.UUID, body: FeedbackBody) -> Response:
    with write() as s:
        rec = svc.set_feedback(session=s, account_scope_id=scope.account_scope_id,
                               recommendation_id=recommendation_id,
                               body=body.model_dump(exclude_unset=True), now=utcnow(), actor=username(),
                               request_id=g.request_id)
        item = recommendation_json(rec)
    return ok({"recommendation": item})
