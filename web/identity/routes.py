"""Identity suggestions and links (business.md §B3): preview (202) → list → apply; links list."""

from __future__ import annotations

from flask import Response, g

from shared.business.identity import (
    parse_link_status_filter,
    parse_suggestion_status_filter,
    validate_suggestion_ids,
)
from shared.business.params import parse_lenient_int
from shared.db.service import identity as svc
from shared.scope import Scope
from web.api import route
from web.context import db, username, write
from web.envelope import ok
from web.identity import bp
from web.identity.schemas import (
    APPLIED_LINK_FIELDS,
    ApplyIn,
    LinksQuery,
    PreviewIn,
    SuggestionsQuery,
    link_json,
    suggestion_json,
)
from web.triggers import accepted, trigger_job


@route(bp, "/identity/suggestions/preview", method="POST", body=PreviewIn, success=202,
       summary="Enqueue the identity suggestion build")
def preview(scope: Scope, body: PreviewIn) -> Response:
    limit = parse_lenient_int(body.limit, default=100, lo=1, hi=200)
    return accepted(trigger_job(scope, "identity_suggestions", params={"limit": limit}))


@route(bp, "/identity/suggestions", query=SuggestionsQuery, summary="Identity link suggestions, most confident first")
def suggestions(scope: Scope, q: SuggestionsQuery) -> Response:
    status = parse_suggestion_status_filter(q.status)
    rows = svc.list_suggestions(session=db(), scope=scope, status=status, limit=q.limit)
    return ok({"suggestions": [suggestion_json(r) for r in rows]})


@route(bp, "/identity/suggestions/apply", method="POST", body=ApplyIn, summary="Turn proposed suggestions into links")
def apply(scope: Scope, body: ApplyIn) -> Response:
    ids = validate_suggestion_ids(body.suggestion_ids)
    if not ids:
        return ok({"applied": 0, "links": []})
    with write() as s:
        links = svc.apply_suggestions(session=s, scope=scope, suggestion_ids=ids, actor=username(),
                                      request_id=g.request_id)
    return ok({"applied": len(links), "links": [link_json(link, fields=APPLIED_LINK_FIELDS) for link in links]})


@route(bp, "/identity/links", query=LinksQuery, summary="Identity links, newest first")
def links(scope: Scope, q: LinksQuery) -> Response:
    rows = svc.list_links(session=db(), scope=scope, status=parse_link_status_filter(q.status), limit=q.limit)
    return ok({"links": [link_json(r) for r in rows]})
