"""``POST /search`` (connectors-rag §9): validate, embed the query in-process, hybrid retrieval, evidence."""

from __future__ import annotations

from flask import Response

from shared import search as engine
from shared.db.service.rag import chunking_settings
from shared.embeddings import active_provider
from shared.scope import Scope
from web.api import route
from web.context import db, runtime
from web.envelope import ok
from web.search import bp
from web.search.schemas import SearchIn


@route(bp, "/search", method="POST", body=SearchIn, summary="Hybrid search over the active project's chunks",
       responses={400: "query_required", 502: "embedding_provider_error", 503: "embeddings_unavailable",
                  504: "search_timeout"})
def search(scope: Scope, body: SearchIn) -> Response:
    rt = runtime()
    provider = active_provider(rt.settings.environ)  # loaded once per process; unavailable -> 503
    req = body.to_request(chunking_settings())
    settings = engine.SearchSettings.from_env(rt.settings.environ)
    results = engine.search(db(), rt.vectors, provider, scope, req, settings, sessions=rt.sessions)
    return ok(engine.response_body(scope, provider, req, results))
