"""Upsell radar (business.md §B1): refresh (202), list, status update."""

from __future__ import annotations

import uuid

from flask import Response, g

from shared.business.upsell import parse_upsell_status_filter, validate_upsell_status
from shared.db.service import upsell as svc
from shared.scope import Scope
from web.api import PathParam, route
from web.context import db, username, write
from web.envelope import ok
from web.triggers import accepted, trigger_job
from web.upsell import bp
from web.upsell.schemas import RadarQuery, StatusIn, upsell_json
from web.validation import EmptyBody


@route(bp, "/upsell/radar/refresh", method="POST", body=EmptyBody, success=202,
       summary="Enqueue the upsell radar detection")
def refresh(scope: Scope, body: EmptyBody) -> Response:
    return accepted(trigger_job(scope, "upsell_radar"))


@route(bp, "/upsell/radar", query=RadarQuery, summary="Upsell opportunities, best score first")
def radar(scope: Scope, q: RadarQuery) -> Response:
    rows = svc.list_upsell(session=db(), scope=scope, status=parse_upsell_status_filter(q.status), limit=q.limit)
    return ok({"opportunities": [upsell_json(r) for r in rows]})


@route(bp, "/upsell/<upsell_id>/status", method="POST", body=StatusIn,
       path={"upsell_id": PathParam("uuid", "invalid_upsell_id")},
       summary="Move an upsell opportunity to any status", responses={404: "upsell_not_found"})
def set_status(scope: Scope, body: StatusIn, upsell_id: uuid.UUID) -> Response:
    status = validate_upsell_status(body.model_dump())
    with write() as s:
        row = svc.set_status(session=s, scope=scope, upsell_id=upsell_id, status=status, actor=username(),
                             request_id=g.request_id)
    return ok({"item": upsell_json(row, full=True)})
