"""Legacy signals and next best actions (kag.md §10, §16.2).

``POST /signals/extract`` enqueues ``signals_extraction`` (202). Status changes are synchronous, look the
id up within the active project (another project's id → 404, never its data), validate the status
against the artifact's vocabulary (``400 invalid_status``) and are audited (``signals.status_update``,
``nba.status_update``). Setting the same status again answers 200 with the current row: a legacy signal
is left untouched, an NBA refreshes ``updated_at`` (§19). A regeneration never overwrites a status.
"""

from __future__ import annotations

import uuid

from flask import Response, g

from shared.db.service import kag as svc
from shared.scope import Scope
from shared.timeutil import utcnow
from web.api import PathParam, route
from web.context import db, username, write
from web.envelope import ok
from web.signals import bp
from web.signals.schemas import (
    EmptyBody,
    LegacySignalsQuery,
    NbaQuery,
    NbaStatusBody,
    SignalStatusBody,
    legacy_signal_json,
    nba_json,
)
from web.triggers import accepted, trigger_job

SIGNAL_ID = {"signal_id": PathParam("uuid", "invalid_signal_id")}
NBA_ID = {"nba_id": PathParam("uuid", "invalid_nba_id")}


@route(bp, "/signals/extract", method="POST", body=EmptyBody, success=202,
       summary="Enqueue legacy signal extraction and next-best-action generation for the active project")
def extract(scope: Scope, body: EmptyBody) -> Response:
    return accepted(trigger_job(scope, "signals_extraction"))


@route(bp, "/signals", query=LegacySignalsQuery, responses={400: "invalid_status / invalid_severity_min"},
       summary="Legacy signals, most severe and confident first")
def list_signals(scope: Scope, q: LegacySignalsQuery) -> Response:
    rows = svc.list_legacy_signals(session=db(), scope=scope, status=q.status, severity_min=q.severity_min,
                                   limit=q.limit)
    return ok({"signals": [legacy_signal_json(s) for s in rows]})


@route(bp, "/signals/<signal_id>/status", method="POST", body=SignalStatusBody, path=SIGNAL_ID,
       responses={400: "invalid_status / invalid_signal_id", 404: "signal_not_found"},
       summary="Set a legacy signal's status (proposed, accepted, dismissed, done)")
def set_signal_status(scope: Scope, signal_id: uuid.UUID, body: SignalStatusBody) -> Response:
    with write() as s:
        row = svc.set_legacy_signal_status(session=s, scope=scope, signal_id=signal_id, status=body.status,
                                           actor=username(), request_id=g.request_id)
        item = legacy_signal_json(row)
    return ok({"signal": item})


@route(bp, "/nba", query=NbaQuery, responses={400: "invalid_status"},
       summary="Next best actions, highest priority and most recently updated first")
def list_nba(scope: Scope, q: NbaQuery) -> Response:
    rows = svc.list_nbas(session=db(), scope=scope, status=q.status, limit=q.limit)
    return ok({"items": [nba_json(n) for n in rows]})


@route(bp, "/nba/<nba_id>/status", method="POST", body=NbaStatusBody, path=NBA_ID,
       responses={400: "invalid_status / invalid_nba_id", 404: "nba_not_found"},
       summary="Set a next best action's status (proposed, accepted, dismissed, done, cancelled)")
def set_nba_status(scope: Scope, nba_id: uuid.UUID, body: NbaStatusBody) -> Response:
    with write() as s:
        row = svc.set_nba_status(session=s, scope=scope, nba_id=nba_id, status=body.status, now=utcnow(),
                                 actor=username(), request_id=g.request_id)
        item = nba_json(row)
    return ok({"item": item})
