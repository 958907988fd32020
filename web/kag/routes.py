"""KAG v1 routes (kag.md §16.2): the refresh trigger and the stored signals, scores, v1
recommendations and event log of the active project.

``POST /kag/refresh`` validates the body, enqueues ``kag_recommendations_refresh`` and answers 202 with
the platform job object (an in-flight run comes back with ``deduplicated: true``); the ``job.<type>``
audit row is written with the run. Reads answer from stored rows and never compute. Flags never change
a route or a shape (§2): with KAG off the refresh still answers 202 and the run ends ``ok`` with the
``kag_disabled`` payload; reads return their usual shape (empty lists when nothing is stored).
"""

from __future__ import annotations

from flask import Response

from shared.db.service import kag as svc
from shared.scope import Scope
from web.api import route
from web.context import db
from web.envelope import ok
from web.kag import bp
from web.kag.schemas import (
    EmptyBody,
    EventsQuery,
    RecommendationsQuery,
    ScoresQuery,
    SignalsQuery,
    event_json,
    recommendation_json,
    score_json,
    signal_json,
)
from web.triggers import accepted, trigger_job


@route(bp, "/kag/refresh", method="POST", body=EmptyBody, success=202,
       summary="Enqueue the KAG v1 pipeline (ingest → signals → scores → recommendations) for the active project")
def refresh(scope: Scope, body: EmptyBody) -> Response:
    return accepted(trigger_job(scope, "kag_recommendations_refresh"))


@route(bp, "/kag/signals", query=SignalsQuery, summary="The project's ten KAG signals, most recently changed first")
def list_signals(scope: Scope, q: SignalsQuery) -> Response:
    return ok({"signals": [signal_json(s) for s in svc.list_signals(session=db(), scope=scope, limit=q.limit)]})


@route(bp, "/kag/scores", query=ScoresQuery, summary="Health, risk, client value and upsell scores")
def list_scores(scope: Scope, q: ScoresQuery) -> Response:
    return ok({"scores": [score_json(s) for s in svc.list_scores(session=db(), scope=scope, limit=q.limit)]})


@route(bp, "/kag/recommendations", query=RecommendationsQuery, responses={400: "invalid_status"},
       summary="Rule-based (v1) recommendations, highest priority first")
def list_recommendations(scope: Scope, q: RecommendationsQuery) -> Response:
    rows = svc.list_recommendations(session=db(), scope=scope, status=q.status, limit=q.limit)
    return ok({"recommendations": [recommendation_json(r) for r in rows]})


@route(bp, "/kag/events", query=EventsQuery, responses={400: "invalid_type / invalid_source"},
       summary="The project's event log (domain and process events), newest first")
def list_events(scope: Scope, q: EventsQuery) -> Response:
    rows = svc.list_events(session=db(), scope=scope, event_type=q.type, source=q.source, limit=q.limit)
    return ok({"events": [event_json(e) for e in rows]})
