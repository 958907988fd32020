"""Evidence search (business.md §B7): full-text over ``evidence_items`` of the active project."""

from __future__ import annotations

from typing import Any

from flask import Response

from shared.db.models.platform import EvidenceItem
from shared.db.service.evidence import search_evidence
from shared.scope import Scope
from web.api import route
from web.context import db
from web.envelope import ok
from web.evidence import bp
from web.validation import Limit, Query

FIELDS = ("id", "source_type", "source_table", "source_pk", "conversation_global_id", "message_global_id",
          "contact_global_id", "snippet", "payload", "created_at")
Q_MAX = 500


class EvidenceQuery(Query):
    q: str | None = None
    limit: Limit(30, 200)


def evidence_json(item: EvidenceItem) -> dict[str, Any]:
    return {name: getattr(item, name) for name in FIELDS}


@route(bp, "/evidence/search", query=EvidenceQuery, summary="Search the project's evidence index")
def search(scope: Scope, q: EvidenceQuery) -> Response:
    text = (q.q or "").replace("\x00", "").strip()[:Q_MAX]
    if not text:
        return ok({"evidence": []})
    return ok({"evidence": [evidence_json(i) for i in search_evidence(session=db(), scope=scope, q=text,
                                                                      limit=q.limit)]})
