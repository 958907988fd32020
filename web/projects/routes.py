"""Projects (platform §6.3): list, create (seeding the schedule), select the active project."""

from __future__ import annotations

import uuid

from flask import Response, g
from sqlalchemy import update

from shared.audit import write_audit_event
from shared.db.models.platform import UserSession
from shared.db.service import projects as svc
from shared.db.service.scheduler import seed_defaults
from shared.timeutil import utcnow
from web.api import PathParam, route
from web.context import auth, db, username, write
from web.envelope import ok
from web.projects import bp
from web.projects.schemas import ProjectCreateIn, project_json


@route(bp, "/projects", project=False, summary="List every project, newest first")
def list_projects() -> Response:
    ctx = auth()
    rows = svc.list_projects(session=db())
    return ok({"projects": [project_json(p) for p in rows], "active_project_id": ctx.active_project_id,
               "account_scope_id": ctx.account_scope_id})


@route(bp, "/projects", method="POST", project=False, body=ProjectCreateIn, success=201,
       summary="Create a project in an account scope (not auto-selected)")
def create_project(body: ProjectCreateIn) -> Response:
    with write() as s:
        scope = svc.resolve_account_scope(session=s, scope_key=body.account_scope_key,
                                          scope_name=body.account_scope_name)
        project = svc.create_project(session=s, name=body.name, account_scope=scope)
        seed_defaults(session=s, scope=svc.scope_of(project))
        write_audit_event(s, svc.scope_of(project), actor_username=username(), action="project.create",
                          entity_type="project", entity_id=str(project.id), request_id=g.request_id,
                          payload={"name": project.name})
    return ok({"project": project_json(project)}, status=201)


@route(bp, "/projects/<project_id>/select", method="POST", project=False,
       path={"project_id": PathParam("uuid", "invalid_project_id")}, summary="Make a project the active one")
def select_project(project_id: uuid.UUID) -> Response:
    ctx = auth()
    with write() as s:
        project = svc.get_project_or_raise(session=s, project_id=project_id)
        s.execute(update(UserSession).where(UserSession.session_id == ctx.session_id)
                  .values(active_project_id=project.id, last_seen_at=utcnow()))
        write_audit_event(s, svc.scope_of(project), actor_username=ctx.username, action="project.select",
                          entity_type="project", entity_id=str(project.id), request_id=g.request_id,
                          payload={"selected_project_id": str(project.id)})
    return ok({"active_project_id": project.id, "project": project_json(project, created=False)})
