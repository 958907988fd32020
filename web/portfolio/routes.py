"""Portfolio routes (business.md §A7, §A8): scope-wide reads over the selected projects."""

from __future__ import annotations

import uuid

from flask import Response, request

from shared.business import portfolio as rules
from shared.db.service import portfolio as svc
from shared.timeutil import utcnow
from web.api import route
from web.context import auth, db, runtime
from web.envelope import ok
from web.portfolio import bp
from web.portfolio.schemas import MessagesQueryIn, OverviewQueryIn


@route(bp, "/portfolio/overview", account=True, query=OverviewQueryIn,
       summary="Dashboard, finances, risks, messages and offers across the selected projects of the scope")
def overview(account_scope_id: uuid.UUID, q: OverviewQueryIn) -> Response:
    query = rules.parse_overview_query(project_ids=request.args.getlist("project_ids"),
                                       message_limit=q.message_limit, card_limit=q.card_limit)
    session, now = db(), utcnow()
    projects = svc.resolve_projects(session=session, account_scope_id=account_scope_id, now=now,
                                    active_project_id=auth().active_project_id, requested_ids=query.project_ids)
    return ok(svc.overview(session=session, account_scope_id=account_scope_id, projects=projects, query=query,
                           now=now, keywords=rules.agreement_keywords(runtime().settings.environ)))


@route(bp, "/portfolio/messages", account=True, query=MessagesQueryIn,
       summary="One project's persons and message feed (a project of the session's scope)",
       responses={400: "project_id_required", 404: "project_not_found"})
def messages(account_scope_id: uuid.UUID, q: MessagesQueryIn) -> Response:
    query = rules.parse_messages_query(project_id=q.project_id, contact_global_id=q.contact_global_id, limit=q.limit)
    return ok(svc.message_feed(session=db(), account_scope_id=account_scope_id, query=query))
