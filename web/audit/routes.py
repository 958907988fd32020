"""``GET /audit`` (platform §6.7; filters of business §B6)."""

from __future__ import annotations

from flask import Response
from sqlalchemy import select

from shared.db.models.platform import AuditEvent
from shared.scope import Scope
from web.api import route
from web.audit import bp
from web.context import db
from web.envelope import ok
from web.validation import Limit, Offset, Query


class AuditQuery(Query):
    action: str | None = None
    limit: Limit(50, 200)
    offset: Offset


def event_json(e: AuditEvent) -> dict:
    return {"id": e.id, "actor_username": e.actor_username, "action": e.action, "entity_type": e.entity_type,
            "entity_id": e.entity_id, "status": e.status, "request_id": e.request_id, "payload": e.payload,
            "evidence_refs": e.evidence_refs, "created_at": e.created_at}


@route(bp, "/audit", query=AuditQuery, summary="Audit events of the active project, newest first")
def list_audit(scope: Scope, q: AuditQuery) -> Response:
    stmt = select(AuditEvent).filter_by(**scope.as_filter())
    action = (q.action or "").strip()
    if action:
        stmt = stmt.where(AuditEvent.action == action)
    stmt = stmt.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).offset(q.offset).limit(q.limit)
    return ok({"events": [event_json(e) for e in db().scalars(stmt)]})
