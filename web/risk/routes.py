"""Risk routes (business.md §A4): refresh (202 ``health_scoring``) and the overview."""

from __future__ import annotations

from flask import Response

from shared.db.service import risk as svc
from shared.scope import Scope
from web.api import route
from web.context import db
from web.envelope import ok
from web.risk import bp
from web.triggers import accepted, trigger_job


@route(bp, "/risk/refresh", method="POST", success=202, summary="Enqueue a health score and risk radar refresh")
def refresh(scope: Scope) -> Response:
    return accepted(trigger_job(scope, "health_scoring"))


@route(bp, "/risk/overview", summary="Latest health score, radar items and risk patterns")
def overview(scope: Scope) -> Response:
    return ok(svc.risk_overview(session=db(), scope=scope))
