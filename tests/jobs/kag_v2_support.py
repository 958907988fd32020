"""Builders for the KAG v2 integration tests: stored signals/scores from the spec's events, signatures,
outcomes, a frozen `now`, and running chained jobs through real burst workers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select

from jobs.kag.pipeline import evaluate_project
from shared.db.models.kag import KagScore, KagSignal
from shared.db.models.kag_v2 import CaseSignature, PastCaseOutcome
from shared.db.models.platform import JobRun
from shared.jobs import enqueue
from shared.runtime import Runtime
from shared.scope import Scope
from tests.jobs.kag_v1_support import NOW  # one clock for every KAG worked example

P4, P2 = 0.0005, 0.005
KAG_V2_QUEUES = ("kag_snapshots", "kag_similarity", "kag_forecast", "kag_recommendations")
DOC = {"doc_url": "https://docs.example.com/approval"}


def spec_events(*specs: tuple[str, str, dict[str, Any], list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """`kag_events`-like rows with ascending ids, as the spec's worked examples list them."""
    return [{"id": i, "event_type": t, "event_ts": ts, "subject_node_id": None, "payload": payload,
             "source_refs": refs, "rag_chunk_refs": []} for i, (t, ts, payload, refs) in enumerate(specs, start=1)]


def w1_events() -> list[dict[str, Any]]:
    stage = {"stage_id": "approval_stage", "stage_name": "Client approval", "approval_pending": True}
    return spec_events(("stage_started", "2026-02-13T09:00Z", stage, [DOC]),
                       ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [{"message_id": "msg-team-1"}]))


def w4b_events() -> list[dict[str, Any]]:
    """W4b: the same risks as W1/W4 but without any evidence."""
    return spec_events(
        ("stage_started", "2026-02-13T09:00Z", {"stage_name": "Client approval", "approval_pending": True}, []),
        ("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, []),
        ("finance_entry_created", "2026-02-14T10:00Z", {"entry_type": "planned_budget", "amount": 1000}, []),
        ("finance_entry_created", "2026-02-14T11:00Z", {"entry_type": "cost", "amount": 2000}, []),
    )


def w6_events() -> list[dict[str, Any]]:
    return spec_events(
        ("message_sent", "2026-02-12T10:00Z", {"sender": "team"}, [{"message_id": "m-team-10"}]),
        ("message_sent", "2026-02-16T10:00Z", {"sender": "client", "sentiment_score": -0.5},
         [{"message_id": "m-client-10"}]),
    )


def scope_of(project: dict[str, Any]) -> Scope:
    return Scope.of(project["id"], project["account_scope_id"])


def seed_state(rt: Runtime, scope: Scope, events: list[dict[str, Any]], now: datetime = NOW) -> None:
    """What the v1 stages store for these events: `kag_signals` and `kag_scores` (stored form)."""
    e = evaluate_project(events, now, project_id=str(scope.project_id))
    with rt.transaction() as s:
        for row in e.signals:
            s.add(KagSignal(**row.to_row(), **scope.as_filter()))
        for row in e.scores:
            s.add(KagScore(**row.to_row(), **scope.as_filter()))


def seed_signature(rt: Runtime, scope: Scope, vector: list[float], ngrams: list[str], ctx: str,
                   window_days: int = 14, now: datetime = NOW) -> None:
    project_type, budget, stage = ctx.split("/")
    with rt.transaction() as s:
        s.add(CaseSignature(
            id=uuid.uuid4(), window_days=window_days, signature_vector=vector, signature_hash=uuid.uuid4().hex,
            features_json={"event_ngrams": ngrams}, computed_at=now, updated_at=now,
            context_json={"project_type": project_type, "budget_bucket": budget, "stage_bucket": stage,
                          "pipeline_amount": 0},
            **scope.as_filter()))


def seed_outcome(rt: Runtime, scope: Scope, outcome_type: str, severity: int, refs: list[dict[str, Any]],
                 occurred_at: datetime = NOW) -> None:
    with rt.transaction() as s:
        s.add(PastCaseOutcome(id=uuid.uuid4(), outcome_type=outcome_type, occurred_at=occurred_at,
                              severity=severity, notes="seeded", evidence_refs=refs,
                              dedupe_key=uuid.uuid4().hex, **scope.as_filter()))


def start_chain(rt: Runtime, scope: Scope, job_type: str, chain: list[str], **params: Any) -> int:
    """Enqueue a stage as the v1 pipeline's follow-up would (``params.chain`` = the rest)."""
    return enqueue(rt, scope=scope, job_type=job_type, params={"chain": chain, **params},
                   requested_by="tester").run.id


def runs(rt: Runtime, scope: Scope) -> dict[str, JobRun]:
    """The latest run of each job type of the project."""
    with rt.session() as s:
        rows = s.scalars(select(JobRun).filter_by(**scope.as_filter()).order_by(JobRun.id)).all()
        s.expunge_all()
    return {r.job_type: r for r in rows}
