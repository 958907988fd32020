"""Continuity (business.md §B2): preview (202) → list → apply the selected actions."""

from __future__ import annotations

from flask import Response, g

from shared.business.continuity import parse_action_status_filter, validate_action_ids
from shared.db.service import continuity as svc
from shared.scope import Scope
from web.api import route
from web.context import db, username, write
from web.continuity import bp
from web.continuity.schemas import ActionsQuery, ApplyIn, action_json
from web.envelope import ok
from web.triggers import accepted, trigger_job
from web.validation import EmptyBody


@route(bp, "/continuity/preview", method="POST", body=EmptyBody, success=202, summary="Enqueue the continuity preview")
def preview(scope: Scope, body: EmptyBody) -> Response:
    return accepted(trigger_job(scope, "continuity_preview"))


@route(bp, "/continuity/actions", query=ActionsQuery, summary="Continuity actions, most recently updated first")
def actions(scope: Scope, q: ActionsQuery) -> Response:
    rows = svc.list_actions(session=db(), scope=scope, status=parse_action_status_filter(q.status), limit=q.limit)
    return ok({"actions": [action_json(r) for r in rows]})


@route(bp, "/continuity/apply", method="POST", body=ApplyIn,
       summary="Apply previewed actions as local Linear follow-up tasks")
def apply(scope: Scope, body: ApplyIn) -> Response:
    ids = validate_action_ids(body.action_ids)
    if not ids:
        return ok({"applied": 0, "actions": []})
    with write() as s:
        applied = svc.apply_actions(session=s, scope=scope, action_ids=ids, actor=username() or "",
                                    request_id=g.request_id)
    return ok({"applied": len(applied), "actions": [action_json(a) for a in applied]})
