"""Analytics routes (business.md §A5) and the single-project control tower (§A6)."""

from __future__ import annotations

from flask import Response

from shared.business.analytics import parse_drilldown_source, parse_period_days
from shared.db.service import analytics as svc
from shared.scope import Scope
from shared.timeutil import utcnow
from web.analytics import bp
from web.analytics.schemas import DrilldownQuery, RefreshBody
from web.api import route
from web.context import db
from web.envelope import ok
from web.triggers import accepted, trigger_job


@route(bp, "/analytics/refresh", method="POST", body=RefreshBody, success=202,
       summary="Enqueue the analytics aggregates for the last period_days")
def refresh(scope: Scope, body: RefreshBody) -> Response:
    params = {"period_days": parse_period_days(body.period_days)}
    return accepted(trigger_job(scope, "analytics_aggregates", params=params))


@route(bp, "/analytics/overview", summary="Latest revenue, delivery and comms snapshots")
def overview(scope: Scope) -> Response:
    return ok(svc.analytics_overview(session=db(), scope=scope))


@route(bp, "/analytics/drilldown", query=DrilldownQuery, summary="Evidence behind the metrics, newest first")
def drilldown(scope: Scope, q: DrilldownQuery) -> Response:
    rows = svc.drilldown(session=db(), scope=scope, source=parse_drilldown_source(q.source), limit=q.limit)
    return ok({"evidence": rows})


@route(bp, "/control-tower", summary="One project's integrations, next actions, risk, analytics and evidence")
def control_tower(scope: Scope) -> Response:
    return ok(svc.control_tower(session=db(), scope=scope, now=utcnow()))
