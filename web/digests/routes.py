"""Digest routes (business.md §A3): generate (202 jobs, key fixed at acceptance) and reads."""

from __future__ import annotations

from flask import Response

from shared.business.digests import daily_digest_params, weekly_digest_params
from shared.db.service import digests as svc
from shared.scope import Scope
from shared.timeutil import utcnow
from web.api import route
from web.context import db
from web.digests import bp
from web.digests.schemas import DailyQuery, WeeklyQuery, daily_json, weekly_json
from web.envelope import ok
from web.triggers import accepted, trigger_job


@route(bp, "/digests/daily/generate", method="POST", success=202,
       summary="Enqueue today's daily digest (replaces the day's digest)")
def generate_daily(scope: Scope) -> Response:
    return accepted(trigger_job(scope, "daily_digest", params=daily_digest_params(utcnow())))


@route(bp, "/digests/daily", query=DailyQuery, summary="Stored daily digests, newest day first")
def list_daily(scope: Scope, q: DailyQuery) -> Response:
    return ok({"digests": [daily_json(d) for d in svc.list_daily(session=db(), scope=scope, limit=q.limit)]})


@route(bp, "/digests/weekly/generate", method="POST", success=202,
       summary="Enqueue this week's digest (replaces the week's digest)")
def generate_weekly(scope: Scope) -> Response:
    return accepted(trigger_job(scope, "weekly_digest", params=weekly_digest_params(utcnow())))


@route(bp, "/digests/weekly", query=WeeklyQuery, summary="Stored weekly digests, newest week first")
def list_weekly(scope: Scope, q: WeeklyQuery) -> Response:
    return ok({"digests": [weekly_json(d) for d in svc.list_weekly(session=db(), scope=scope, limit=q.limit)]})
