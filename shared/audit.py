"""The audit helper (platform §10): one ``audit_events`` row plus normalised evidence items."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from shared.db.models.platform import AuditEvent, EvidenceItem
from shared.db.service.projects import dialect_insert
from shared.errors import InvalidInput
from shared.scope import Scope
from shared.timeutil import utcnow

MAX_REFS = 50
_TABLE_BY_PREFIX = (("cwmsg:", "cw_messages"), ("cwc:", "cw_contacts"), ("cw:", "cw_conversations"))


def infer_table(ref: str) -> str:
    for prefix, table in _TABLE_BY_PREFIX:
        if ref.startswith(prefix):
            return table
    return "rag_chunks" if len(ref) == 36 else "external"


def normalize_evidence_refs(refs: Any) -> list[dict[str, Any]]:
    """Platform §10 normalisation; a non-array raises ``400 invalid_evidence_refs``."""
    if refs is None:
        return []
    if not isinstance(refs, list):
        raise InvalidInput("invalid_evidence_refs", "evidence_refs must be an array")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in refs:
        if isinstance(item, str):
            ref = item.strip()
            entry = {"source": infer_table(ref), "ref": ref, "snippet": None, "meta": {}}
        elif isinstance(item, dict):
            raw = next((item[k] for k in ("ref", "source_ref", "id") if item.get(k) not in (None, "")), "")
            ref = str(raw).strip()
            source = item.get("source") or item.get("source_type") or infer_table(ref)
            snippet = item.get("snippet")
            meta = item.get("meta")
            entry = {
                "source": str(source).strip().lower(), "ref": ref,
                "snippet": str(snippet)[:1000] if snippet is not None else None,
                "meta": meta if isinstance(meta, dict) else {},
            }
        else:
            continue
        if not entry["ref"]:
            continue
        key = f"{entry['source']}:{entry['ref']}"
        if key in seen:
            continue
        seen.add(key)
        out.append(entry)
        if len(out) >= MAX_REFS:
            break
    return out


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
    refs = normalize_evidence_refs(evidence_refs)
    now = utcnow()
    event = AuditEvent(
        project_id=scope.project_id, account_scope_id=scope.account_scope_id, actor_username=actor_username,
        action=action[:200], entity_type=entity_type, entity_id=None if entity_id is None else str(entity_id)[:200],
        status=(status or "ok")[:50], request_id=request_id, idempotency_key=idempotency_key,
        payload=payload if isinstance(payload, dict) else {}, evidence_refs=refs, created_at=now,
    )
    session.add(event)
    if refs:
        _upsert_evidence(session, scope, refs)
    session.flush()
    return {"id": event.id, "created_at": event.created_at}


def _upsert_evidence(session: Session, scope: Scope, refs: list[dict[str, Any]]) -> None:
    insert = dialect_insert(session)
    for ref in refs:
        table = ref["source"] if ref["source"] in ("cw_messages", "cw_conversations", "cw_contacts", "rag_chunks") \
            else infer_table(ref["ref"])
        values = {
            "id": uuid.uuid4(), "project_id": scope.project_id, "account_scope_id": scope.account_scope_id,
            "source_type": ref["source"], "source_table": table, "source_pk": ref["ref"][:500],
            "snippet": ref["snippet"], "payload": ref["meta"], "created_at": utcnow(),
            "message_global_id": ref["ref"] if table == "cw_messages" else None,
            "conversation_global_id": ref["ref"] if table == "cw_conversations" else None,
            "contact_global_id": ref["ref"] if table == "cw_contacts" else None,
        }
        stmt = insert(EvidenceItem).values(**values)
        update: dict[str, Any] = {}
        if ref["snippet"] is not None:
            update["snippet"] = stmt.excluded.snippet
        if ref["meta"]:
            update["payload"] = stmt.excluded.payload
        if update:
            stmt = stmt.on_conflict_do_update(index_elements=["project_id", "source_table", "source_pk"], set_=update)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=["project_id", "source_table", "source_pk"])
        session.execute(stmt)
