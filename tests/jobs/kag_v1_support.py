"""Builders for the KAG v1 integration tests: graph events as the spec's worked examples list them,
connector rows stored through the connector models, the frozen `now`, and the refresh run."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from jobs.kag.ingest import event_dedupe_key
from jobs.kag.timeutil import parse_ts
from shared.db.models.attio import AttioOpportunityRaw
from shared.db.models.chatwoot import CwMessage
from shared.db.models.kag import KagEvent
from shared.db.models.linear import LinearIssueRaw
from shared.db.models.platform import JobRun
from shared.runtime import Runtime
from shared.scope import Scope
from tests.conftest import Api

NOW = datetime(2026, 2, 17, 12, 0, tzinfo=UTC)
P4, P2 = 0.0005, 0.005
DOC = {"doc_url": "https://docs.example.com/approval"}
_seq = itertools.count(1)


def scope_of(project: dict[str, Any]) -> Scope:
    return Scope.of(project["id"], project["account_scope_id"])


def ts(text: str) -> datetime:
    value = parse_ts(text)
    assert value is not None, text
    return value


# --- graph events (the spec's worked examples insert them into kag_events directly) ----------------
def add_events(rt: Runtime, scope: Scope, *specs: tuple[str, str, dict[str, Any], list[dict[str, Any]]]) -> None:
    """``(event_type, event_ts, payload, source_refs)`` rows, ids ascending in the listed order."""
    with rt.transaction() as s:
        for event_type, when, payload, refs in specs:
            s.add(KagEvent(event_type=event_type, event_ts=ts(when), payload=payload, source_refs=refs,
                           rag_chunk_refs=[], dedupe_key=event_dedupe_key(event_type, None, ts(when), refs)
                           + f":{next(_seq)}", **scope.as_filter()))
            s.flush()


def w1_specs(*, due_at: str | None = None, refs: bool = True) -> list[tuple[str, str, dict, list]]:
    stage = {"stage_id": "approval_stage", "stage_name": "Client approval", "approval_pending": True}
    if due_at:
        stage["due_at"] = due_at
    return [("stage_started", "2026-02-13T09:00Z", stage, [DOC] if refs else []),
            ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [{"message_id": "msg-team-1"}] if refs else [])]


# --- connector rows, stored the way the connector routines store them (connectors-rag §15) ----------
def add_message(rt: Runtime, scope: Scope, *, global_id: str, created_at: str, content: str,
                sender_type: str = "contact", conversation: str = "cw:7:c1", private: bool = False,
                data: dict[str, Any] | None = None, updated_at: str | None = None) -> None:
    n = next(_seq)
    with rt.transaction() as s:
        s.add(CwMessage(id=global_id, account_id=7, message_id=n, conversation_id=1, sender_id=1,
                        conversation_global_id=conversation, sender_type=sender_type, message_type="incoming",
                        private=private, content=content, data=data or {}, created_at=ts(created_at),
                        updated_at=ts(updated_at or created_at), **scope.as_filter()))


def add_issue(rt: Runtime, scope: Scope, *, external_id: str, updated_at: str, blocked: bool,
              created_at: str = "2026-02-01T09:00Z", completed_at: str | None = None, due_date: Any = None,
              state: str = "In Progress", linear_project: str = "lp-1") -> None:
    with rt.transaction() as s:
        row = s.get(LinearIssueRaw, f"linissue:ws:{external_id}")
        if row is None:
            row = LinearIssueRaw(id=f"linissue:ws:{external_id}", workspace_id="ws", external_id=external_id,
                                 title=f"Issue {external_id}", **scope.as_filter())
            s.add(row)
        row.state, row.blocked, row.blocked_by_count = state, blocked, 1 if blocked else 0
        row.vendor_created_at, row.vendor_updated_at = ts(created_at), ts(updated_at)
        row.completed_at = ts(completed_at) if completed_at else None
        row.due_date, row.linear_project_external_id, row.updated_at = due_date, linear_project, ts(updated_at)


def add_deal(rt: Runtime, scope: Scope, *, external_id: str, updated_at: str, amount: float, stage: str = "Proposal",
             probability: float = 0.5) -> None:
    with rt.transaction() as s:
        row = s.get(AttioOpportunityRaw, f"attio:deal:{external_id}")
        if row is None:
            row = AttioOpportunityRaw(id=f"attio:deal:{external_id}", workspace_id="ws", external_id=external_id,
                                      title=f"Deal {external_id}", created_at=ts(updated_at), **scope.as_filter())
            s.add(row)
        row.stage, row.amount, row.probability = stage, Decimal(str(amount)), Decimal(str(probability))
        row.updated_at = ts(updated_at)


# --- running and reading -------------------------------------------------------------------------------
def refresh(api: Api, run_jobs: Any) -> dict[str, Any]:
    """``POST /kag/refresh`` (202), run the ``kag_signals`` queue, return the finished job object."""
    resp = api.post("/kag/refresh")
    assert resp.status_code == 202, resp.get_json()
    run_jobs("kag_signals")
    job = api.get(resp.headers["Location"]).get_json()["job"]
    assert job["status"] == "ok", job
    return job


def signals(api: Api) -> dict[str, dict[str, Any]]:
    body = api.get("/kag/signals").get_json()
    return {s["signal_key"]: s for s in body["signals"]}


def scores(api: Api) -> dict[str, dict[str, Any]]:
    return {s["score_type"]: s for s in api.get("/kag/scores").get_json()["scores"]}


def recommendations(api: Api, **query: str) -> list[dict[str, Any]]:
    return api.get("/kag/recommendations", query_string=query).get_json()["recommendations"]


def count(rt: Runtime, model: Any, scope: Scope, **where: Any) -> int:
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**scope.as_filter(), **where)) or 0


def job_runs(rt: Runtime, scope: Scope, job_type: str) -> list[JobRun]:
    with rt.session() as s:
        rows = list(s.scalars(select(JobRun).filter_by(job_type=job_type, **scope.as_filter()).order_by(JobRun.id)))
        s.expunge_all()
    return rows


def new_uuid() -> str:
    return str(uuid.uuid4())
