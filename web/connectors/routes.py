"""Connector routes (platform §6.6): state, bindings, sync triggers. DLQ routes are in ``routes_errors``."""

from __future__ import annotations

from flask import Response, g

from shared.audit import write_audit_event
from shared.db.service import connectors as svc
from shared.db.service import jobs as jobs_svc
from shared.errors import InvalidInput
from shared.scope import Scope
from web.api import PathParam, route
from web.connectors import bp
from web.connectors.schemas import BindingIn
from web.context import db, runtime, username, write
from web.envelope import ok
from web.triggers import accepted, accepted_many, sync_trigger


def connector_or_400(name: str) -> str:
    value = name.strip().lower()
    if value not in svc.CONNECTORS:
        raise InvalidInput("unsupported_connector", "connector must be one of chatwoot, linear, attio")
    return value


@route(bp, "/connectors/state", summary="Sync state of the three connectors, with lag and error counts")
def state(scope: Scope) -> Response:
    s = db()
    in_flight = jobs_svc.in_flight_by_type(session=s, scope=scope)
    return ok({"connectors": svc.state_overview(session=s, scope=scope, settings=runtime().settings,
                                                in_flight=in_flight)})


@route(bp, "/connectors/bindings", summary="The project's source bindings, one per connector")
def bindings(scope: Scope) -> Response:
    return ok({"bindings": svc.list_bindings(session=db(), scope=scope, settings=runtime().settings)})


@route(bp, "/connectors/bindings", method="POST", body=BindingIn, success=201,
       summary="Bind the project to a vendor account or workspace (idempotent)",
       responses={409: "<connector>_source_binding_error"})
def create_binding(scope: Scope, body: BindingIn) -> Response:
    with write() as s:
        binding, created = svc.create_binding(session=s, scope=scope, connector=body.connector,
                                              external_id=body.external_id)
        if created:
            write_audit_event(s, scope, actor_username=username(), action="connectors.binding_create",
                              entity_type="connector", entity_id=body.connector, request_id=g.request_id,
                              payload={"external_id": body.external_id})
        out = svc.binding_to_json(body.connector, binding)
    return ok({"binding": out}, status=201 if created else 200)


@route(bp, "/connectors/<name>/sync", method="POST", path={"name": PathParam("str")}, success=202,
       summary="Enqueue one connector's sync (never refused: unbound or disabled runs end skipped)")
def sync_one(scope: Scope, name: str) -> Response:
    connector = connector_or_400(name)
    done, mode = sync_trigger(scope, connector, audit_action="connectors.sync_one")
    return accepted(done, effective_mode=mode.mode, skip_reason=mode.reason)


@route(bp, "/connectors/sync", method="POST", success=202, summary="Enqueue a sync of every connector")
def sync_all(scope: Scope) -> Response:
    runs, skipped = [], []
    for connector in svc.CONNECTORS:
        done, mode = sync_trigger(scope, connector, audit=False)
        runs.append(done)
        if not mode.runs:
            skipped.append({"connector": connector, "effective_mode": mode.mode, "reason": mode.reason})
    with write() as s:
        write_audit_event(s, scope, actor_username=username(), action="connectors.sync_all", entity_type="connector",
                          status="partial" if skipped else "queued", request_id=g.request_id,
                          payload={"job_run_ids": [d.run.id for d in runs], "skipped": skipped})
    return accepted_many(runs, skipped=skipped, total=len(runs))
