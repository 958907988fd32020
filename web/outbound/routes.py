"""Outbound pipeline (business.md §B4): list, draft, approve, send, opt-out, process (202).

Every write runs in one transaction with its audit row. ``send`` commits its state change before
answering with a block or provider error (409 / 429 / 502), as the send algorithm requires.
"""

from __future__ import annotations

import uuid

from flask import Response, g

from shared.business import outbound as rules
from shared.business.evidence import normalize_evidence_refs
from shared.db.service import outbound as svc
from shared.scope import Scope
from web.api import PathParam, route
from web.context import db, username, write
from web.envelope import ok
from web.outbound import bp
from web.outbound.schemas import (
    ApproveIn,
    DraftIn,
    OptOutIn,
    OutboundQuery,
    ProcessIn,
    outbound_json,
    policy_json,
)
from web.triggers import accepted, trigger_job
from web.validation import EmptyBody

OUTBOUND_ID = {"outbound_id": PathParam("uuid", "invalid_outbound_id")}
MAX_OFFSET = 10_000


@route(bp, "/outbound", query=OutboundQuery, summary="Outbound messages of the active project, newest first")
def list_outbound(scope: Scope, q: OutboundQuery) -> Response:
    status = rules.parse_outbound_status_filter(q.status)
    rows = svc.list_outbound(session=db(), scope=scope, status=status, limit=q.limit, offset=min(q.offset, MAX_OFFSET))
    return ok({"outbound": [outbound_json(m) for m in rows]})


@route(bp, "/outbound/draft", method="POST", body=DraftIn, success=201,
       summary="Create or update a draft by idempotency key",
       responses={200: "existing key", 409: "outbound_duplicate"})
def draft(scope: Scope, body: DraftIn) -> Response:
    draft_in = rules.validate_draft(body.model_dump(), project_id=scope.project_id)
    with write() as s:
        result = svc.save_draft(session=s, scope=scope, draft=draft_in, actor=username(), request_id=g.request_id)
    return ok({"outbound": outbound_json(result.message)}, status=result.http_status)


@route(bp, "/outbound/<outbound_id>/approve", method="POST", body=ApproveIn, path=OUTBOUND_ID,
       summary="Approve a draft", responses={404: "outbound_not_found", 409: "outbound_invalid_state"})
def approve(scope: Scope, body: ApproveIn, outbound_id: uuid.UUID) -> Response:
    refs = normalize_evidence_refs(body.evidence_refs)
    with write() as s:
        message = svc.approve_outbound(session=s, scope=scope, outbound_id=outbound_id, actor=username(),
                                       request_id=g.request_id, evidence_refs=refs)
    return ok({"outbound": outbound_json(message)})


@route(bp, "/outbound/<outbound_id>/send", method="POST", body=EmptyBody, path=OUTBOUND_ID,
       summary="Send an approved message now (compliance checks first)",
       responses={404: "outbound_not_found", 409: "outbound_invalid_state / outbound_blocked_* / outbound_busy",
                  429: "frequency_cap_reached", 502: "outbound_send_failed"})
def send(scope: Scope, body: EmptyBody, outbound_id: uuid.UUID) -> Response:
    with write() as s:
        result = svc.send_outbound(session=s, scope=scope, outbound_id=outbound_id, actor=username(),
                                   request_id=g.request_id)
    if result.error is not None:
        raise result.error
    return ok({"outbound": outbound_json(result.message)})


@route(bp, "/outbound/opt-out", method="POST", body=OptOutIn,
       summary="Create or change a contact's channel policy (opt-out, caps, replied)")
def opt_out(scope: Scope, body: OptOutIn) -> Response:
    change = rules.validate_opt_out(body.model_dump())
    with write() as s:
        policy = svc.set_policy(session=s, scope=scope, change=change, actor=username(), request_id=g.request_id)
    return ok({"policy": policy_json(policy)})


@route(bp, "/outbound/process", method="POST", body=ProcessIn, success=202,
       summary="Enqueue the campaign scheduler for due messages")
def process(scope: Scope, body: ProcessIn) -> Response:
    limit = rules.parse_process_limit(body.limit)
    return accepted(trigger_job(scope, "campaign_scheduler", params={"limit": limit}))
