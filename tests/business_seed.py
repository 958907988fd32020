"""Rows of other domains' tables for business tests, inserted through their mapped tables by name
(business.md §D.4 columns), with the scope columns filled from a project dict or a ``Scope``."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from shared.db.service.business_inputs import table
from shared.scope import Scope

_seq = itertools.count(1)


def scope_of(project: dict[str, Any] | Scope) -> Scope:
    if isinstance(project, Scope):
        return project
    return Scope(uuid.UUID(str(project["id"])), uuid.UUID(str(project["account_scope_id"])))


def insert(rt: Any, name: str, project: dict[str, Any] | Scope, rows: Iterable[dict[str, Any]]) -> None:  # noqa: ANN401
    scope = scope_of(project)
    rows = [{**r, "project_id": scope.project_id, "account_scope_id": scope.account_scope_id} for r in rows]
    if rows:
        with rt.engine.begin() as conn:
            conn.execute(table(name).insert(), rows)


def ago(**delta: float) -> datetime:
    return datetime.now(UTC) - timedelta(**delta)


def today() -> date:
    return datetime.now(UTC).date()


def signal(severity: int = 3, confidence: float = 0.5, status: str = "proposed", refs: list | None = None,
           created_at: datetime | None = None, summary: str = "signal") -> dict[str, Any]:
    n = next(_seq)
    refs = refs if refs is not None else [f"cwmsg:s{n}"]
    return {"id": uuid.uuid4(), "signal_type": "delivery_risk", "severity": severity, "confidence": confidence,
            "summary": summary, "dedupe_key": f"sig-{n}", "evidence_refs": refs,
            "status": status, "source_kind": "conversation", "created_at": created_at or ago(minutes=n)}


def nba(priority: int = 3, status: str = "proposed", refs: list | None = None,
        updated_at: datetime | None = None) -> dict[str, Any]:
    n = next(_seq)
    return {"id": uuid.uuid4(), "action_type": "triage_signal", "priority": priority, "status": status,
            "summary": f"nba {n}", "evidence_refs": refs if refs is not None else [f"cw:n{n}"],
            "dedupe_key": f"nba-{n}", "created_at": ago(days=1), "updated_at": updated_at or ago(minutes=n)}


def issue(*, completed: bool = False, due: date | None = None, completed_at: datetime | None = None) -> dict[str, Any]:
    n = next(_seq)
    return {"id": f"linissue:ws:{n}", "workspace_id": "ws", "external_id": f"i{n}", "title": f"Issue {n}",
            "due_date": due, "completed_at": completed_at or (ago(days=2) if completed else None)}


def message(*, created_at: datetime | None, contact: str | None = None, content: str = "hello",
            conversation: str | None = "cw:c1", sender_type: str = "contact",
            data: dict | None = None) -> dict[str, Any]:
    n = next(_seq)
    return {"id": f"cwmsg:x:1:{n}", "account_id": 1, "message_id": n, "conversation_global_id": conversation,
            "contact_global_id": contact, "sender_type": sender_type, "content": content, "data": data or {},
            "created_at": created_at}


def contact(contact_id: int, *, name: str | None = None, email: str | None = None) -> dict[str, Any]:
    return {"id": f"cwc:x:1:{contact_id}", "account_id": 1, "contact_id": contact_id, "name": name, "email": email}


def attio_opportunity(stage: str | None, amount: float, probability: float = 0.1) -> dict[str, Any]:
    n = next(_seq)
    return {"id": f"attiodeal:ws:{n}", "workspace_id": "ws", "external_id": f"d{n}", "title": f"Deal {n}",
            "stage": stage, "amount": amount, "probability": probability}


def outbound(status: str) -> dict[str, Any]:
    n = next(_seq)
    return {"id": uuid.uuid4(), "channel": "email", "recipient_ref": f"cwc:r:{n}", "status": status,
            "idempotency_key": f"idem-{n}", "payload": {}}


def failed_run(started_at: datetime) -> dict[str, Any]:
    return {"job_type": "chatwoot_sync", "queue": "chatwoot", "trigger": "manual", "status": "failed",
            "attempt": 1, "started_at": started_at, "meta": {}}
