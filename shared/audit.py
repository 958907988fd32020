"""The audit helper (platform §10): one ``audit_events`` row plus normalised evidence items.

This module is also the one implementation of evidence-ref normalisation (platform §10, restated
by business.md §0.5): routes validate ``evidence_refs`` with :func:`normalize_evidence_refs` before
any write. Importing it loads no database code (the pure business rules import it), so the
SQLAlchemy imports live inside the functions that write.

Decisions where the specs are silent:

* ``ref`` is the first of ``ref`` / ``source_ref`` / ``id`` that is non-empty **after** trimming, so
  ``{"ref": "  ", "id": "x"}`` keeps ``x``; a string ref that is blank after trimming is dropped.
* A blank ``source`` falls back to ``source_type`` and then to the inferred table.
* ``source_table`` is always inferred from the ref (business.md §0.5), whatever ``source`` says.
* Duplicates on ``(source_table, source_pk)`` inside one batch are collapsed before the upsert,
  merged as sequential upserts would merge them: the later ``source_type`` wins, snippet/payload
  are replaced only by non-null (non-empty) values.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from shared.errors import InvalidInput
from shared.scope import Scope
from shared.timeutil import utcnow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MAX_REFS = 50
SNIPPET_MAX = 1000
_TABLE_BY_PREFIX = (("cwmsg:", "cw_messages"), ("cwc:", "cw_contacts"), ("cw:", "cw_conversations"))
_GLOBAL_ID_COLUMNS = {"cw_conversations": "conversation_global_id", "cw_messages": "message_global_id",
                      "cw_contacts": "contact_global_id"}


def infer_table(ref: str) -> str:
    for prefix, table in _TABLE_BY_PREFIX:
        if ref.startswith(prefix):
            return table
    return "rag_chunks" if len(ref) == 36 else "external"


def _text(value: Any) -> str:
    if value is None or isinstance(value, bool | dict | list):
        return ""
    return str(value).strip()


def _normalize_one(item: Any) -> dict[str, Any] | None:
    if isinstance(item, str):
        ref = item.strip()
        return {"source": infer_table(ref), "ref": ref, "snippet": None, "meta": {}} if ref else None
    if not isinstance(item, Mapping):
        return None
    ref = next((t for t in (_text(item.get(k)) for k in ("ref", "source_ref", "id")) if t), "")
    if not ref:
        return None
    source = next((t for t in (_text(item.get(k)) for k in ("source", "source_type")) if t), "") or infer_table(ref)
    snippet, meta = item.get("snippet"), item.get("meta")
    return {"source": source.lower(), "ref": ref,
            "snippet": str(snippet)[:SNIPPET_MAX] if snippet is not None else None,
            "meta": dict(meta) if isinstance(meta, Mapping) else {}}


def normalize_evidence_refs(refs: Any) -> list[dict[str, Any]]:
    """Platform §10 normalisation; a non-array raises ``400 invalid_evidence_refs``."""
    if refs is None:
        return []
    if not isinstance(refs, list | tuple):
        raise InvalidInput("invalid_evidence_refs", "evidence_refs must be an array")
    out: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for item in refs:
        entry = _normalize_one(item)
        if entry is None or (entry["source"], entry["ref"]) in seen:
            continue
        seen.add((entry["source"], entry["ref"]))
        out.append(entry)
        if len(out) >= MAX_REFS:
            break
    return out


def evidence_index_rows(refs: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``evidence_items`` rows for normalised refs, collapsed on ``(source_table, source_pk)``.

    ``payload`` is None when the ref has no meta ("nothing new": an existing payload is kept).
    """
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for ref in refs:
        pk = str(ref["ref"])[:500]
        table = infer_table(pk)
        row = {"source_type": ref["source"], "source_table": table, "source_pk": pk,
               "snippet": ref.get("snippet"), "payload": ref.get("meta") or None,
               "conversation_global_id": None, "message_global_id": None, "contact_global_id": None}
        if table in _GLOBAL_ID_COLUMNS:
            row[_GLOBAL_ID_COLUMNS[table]] = pk
        previous = rows.get((table, pk))
        if previous is None:
            rows[(table, pk)] = row
            continue
        previous["source_type"] = row["source_type"]
        for field in ("snippet", "payload"):
            if row[field] is not None:
                previous[field] = row[field]
    return list(rows.values())


def write_audit_event(
    session: Session,
    scope: Scope,
    *,
    actor_username: str | None,
    action: str,
    entity_type: str | None = None,
    entity_id: str | None = None,
    status: str = "ok",
    request_id: str | None = None,
    payload: Any = None,
    evidence_refs: Any = None,
    idempotency_key: str | None = None,
) -> dict[str, Any]:
    from shared.db import scope_guard

    refs = normalize_evidence_refs(evidence_refs)
    now = utcnow()
    session.flush()  # what the caller added lands first (a project created in this transaction included)
    scope_guard.verify(session, scope.project_id, scope.account_scope_id)  # the ORM guard, for a Core insert
    event_id = session.connection().execute(_audit_insert(), {
        "project_id": scope.project_id, "account_scope_id": scope.account_scope_id, "actor_username": actor_username,
        "action": action[:200], "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id)[:200], "status": (status or "ok")[:50],
        "request_id": request_id, "idempotency_key": idempotency_key,
        "payload": payload if isinstance(payload, dict) else {}, "evidence_refs": refs, "created_at": now,
    }).scalar_one()
    if refs:
        _upsert_evidence(session, scope, refs)
    return {"id": event_id, "created_at": now}


@functools.cache
def _audit_insert() -> Any:
    """One Core ``INSERT … RETURNING id`` built once (every mutation writes an audit row; no ORM unit of work)."""
    from sqlalchemy import insert

    from shared.db.models.platform import AuditEvent

    return insert(AuditEvent).returning(AuditEvent.id)


def _upsert_evidence(session: Session, scope: Scope, refs: list[dict[str, Any]]) -> None:
    """One multi-row upsert on ``(project_id, source_table, source_pk)`` keeping old snippet/payload
    when the new ones are null."""
    from sqlalchemy import Text, case, cast, func

    from shared.db.models.platform import EvidenceItem
    from shared.db.service.projects import dialect_insert

    now = utcnow()
    rows = [{**row, "payload": row["payload"] or {}, "id": uuid.uuid4(), "project_id": scope.project_id,
             "account_scope_id": scope.account_scope_id, "created_at": now}
            for row in evidence_index_rows(refs)]
    stmt = dialect_insert(session)(EvidenceItem).values(rows)
    old = EvidenceItem.__table__.c
    stmt = stmt.on_conflict_do_update(
        index_elements=["project_id", "source_table", "source_pk"],
        set_={"source_type": stmt.excluded.source_type,
              "snippet": func.coalesce(stmt.excluded.snippet, old.snippet),
              "payload": case((cast(stmt.excluded.payload, Text) == "{}", old.payload), else_=stmt.excluded.payload)},
    )
    session.execute(stmt)
