"""Graph ingest (kag.md §4.2): nodes, edges, events only on real changes, deterministic keys."""

from __future__ import annotations

from datetime import timedelta

from jobs.kag.ingest import PriorNode, ingest_rows, sender_kind, split_node_ref, window_start
from jobs.kag.signals import process_events
from tests.unit.kag._support import NOW

CHUNK = "6f1c1e0e-58a4-4c55-9b1e-8d7f3f1f4c11"


def message(content: str, sender: str = "Contact", **extra) -> dict:
    return {
        "id": "cwmsg:p:1:77",
        "message_id": 77,
        "account_id": 1,
        "conversation_global_id": "cw:p:1:9",
        "sender_type": sender,
        "private": False,
        "content": content,
        "data": {},
        "created_at": "2026-02-16T09:00:00Z",
        "updated_at": "2026-02-16T09:05:00Z",
    } | extra


def issue(**extra) -> dict:
    return {
        "id": "linissue:w:i1",
        "external_id": "i1",
        "title": "Login",
        "state": "In Progress",
        "blocked": False,
        "completed_at": None,
        "due_date": "2026-02-20",
        "vendor_created_at": "2026-02-10T09:00Z",
        "vendor_updated_at": "2026-02-16T10:00Z",
    } | extra


def deal(amount, stage="proposal", **extra) -> dict:
    return {
        "id": "attiodeal:w:d1",
        "external_id": "d1",
        "title": "Retainer",
        "stage": stage,
        "amount": amount,
        "probability": 0.5,
        "created_at": "2026-02-01T00:00Z",
        "updated_at": "2026-02-16T11:00Z",
    } | extra


def types(batch) -> list[str]:
    return [e.event_type for e in batch.events]


def test_helpers():
    assert split_node_ref("blocker:blocker:i1") == ("blocker", "blocker:i1")
    assert [sender_kind(s) for s in ("Contact", "customer_user", "AgentBot", "User", "Team", None)] == [
        "client",
        "client",
        "team",
        "team",
        "team",
        "system",
    ]
    assert window_start(None, NOW, 14) == NOW - timedelta(days=14)


def test_message_becomes_conversation_message_edges_and_events():
    batch = ingest_rows(
        now=NOW,
        messages=[
            message(
                "We agreed on scope; risk of delay. Also out of scope add-on please",
                data={"sentiment_score": -0.2},
            )
        ],
        chunk_ids_by_message={"cwmsg:p:1:77": [CHUNK]},
    )
    refs = {n.ref for n in batch.nodes}
    assert {
        "project:project",
        "conversation:cw:p:1:9",
        "message:cwmsg:p:1:77",
        "agreement:cwmsg:p:1:77:agreement:0",
        "risk:cwmsg:p:1:77:risk:0",
    } <= refs
    assert types(batch) == [
        "message_sent",
        "agreement_created",
        "risk_detected",
        "scope_change_requested",
        "need_detected",
    ]
    sent = batch.events[0]
    assert sent.payload == {"sender": "client", "conversation_id": "cw:p:1:9", "sentiment_score": -0.2}
    assert [(r["message_id"], r["rag_chunk_id"]) for r in sent.source_refs] == [
        ("cwmsg:p:1:77", None),
        (None, CHUNK),
    ]
    assert sent.rag_chunk_refs == [CHUNK]
    risk = batch.events[2]
    assert risk.payload == {"risk_id": "cwmsg:p:1:77:risk:0", "severity": 3, "confidence": 0.65}
    relations = {e.relation_type for e in batch.edges}
    assert {
        "project_has_conversation",
        "conversation_has_message",
        "project_has_agreement",
        "project_has_risk",
    } <= relations


def test_private_and_deleted_messages_are_skipped_and_unknown_sentiment_ignored():
    batch = ingest_rows(
        now=NOW,
        messages=[
            message("hi", private=True),
            message("hi", id="cwmsg:p:1:78", data={"content_attributes": {"deleted": True}}),
            message("hi", id="cwmsg:p:1:79", data={"sentiment_score": "bad"}),
        ],
    )
    [sent] = batch.events
    assert "sentiment_score" not in sent.payload


def test_extractor_output_and_failure_fallback():
    def extractor(payload):
        return {
            "decisions": [{"id": "dec-7", "title": "Use Stripe", "confidence": 0.9}],
            "risks": "nope",
            "need_detected": "yes",
        }

    batch = ingest_rows(now=NOW, messages=[message("nothing to see")], extractor=extractor)
    assert types(batch) == ["message_sent", "decision_made"]
    assert batch.events[1].payload == {"decision_id": "dec-7", "confidence": 0.9}
    assert next(n for n in batch.nodes if n.node_type == "decision").title == "Use Stripe"

    def broken(payload):
        raise TimeoutError("llm")

    fallback = ingest_rows(now=NOW, messages=[message("решили так")], extractor=broken)
    assert types(fallback) == ["message_sent", "decision_made"]
    assert [w.code for w in fallback.warnings] == ["extractor_failed"]


def test_blocked_issue_opens_a_blocker_once_and_resolves_on_unblock():
    first = ingest_rows(now=NOW, linear_issues=[issue(blocked=True)])
    assert types(first) == ["task_blocked"]
    blocker = next(n for n in first.nodes if n.node_type == "blocker")
    assert (blocker.ref, blocker.status) == ("blocker:blocker:i1", "active")
    assert first.events[0].payload == {"blocker_id": "blocker:i1", "task_id": "i1"}

    prior = {"blocker:blocker:i1": PriorNode(status="active")}
    still_blocked = ingest_rows(
        now=NOW, linear_issues=[issue(blocked=True, vendor_updated_at="2026-02-17T09:00Z")], prior_nodes=prior
    )
    assert types(still_blocked) == []

    unblocked = ingest_rows(
        now=NOW, linear_issues=[issue(vendor_updated_at="2026-02-17T09:00Z")], prior_nodes=prior
    )
    assert types(unblocked) == ["blocker_resolved"]
    assert next(n for n in unblocked.nodes if n.node_type == "blocker").status == "inactive"

    completed = ingest_rows(
        now=NOW,
        linear_issues=[issue(blocked=True, state="Blocked", completed_at="2026-02-17Z")],
        prior_nodes={"blocker:blocker:i1": {"status": "active"}},
    )
    assert types(completed) == ["blocker_resolved"]
    assert next(n for n in completed.nodes if n.node_type == "task").status == "inactive"


def test_blocked_state_name_counts_as_blocked():
    assert types(ingest_rows(now=NOW, linear_issues=[issue(state="Blocked by vendor")])) == ["task_blocked"]


def test_deal_finance_events_only_on_first_sight_and_amount_change():
    first = ingest_rows(now=NOW, deals=[deal(1000)])
    assert types(first) == ["deal_updated", "finance_entry_created"]
    assert first.events[1].payload == {"entry_type": "revenue", "amount": 1000.0}

    prior = {
        "deal:d1": PriorNode(payload={"stage": "proposal", "amount": 1000.0, "probability": 0.5}),
        "finance_entry:finance:d1": PriorNode(numeric_fields={"amount": 1000}),
    }
    assert types(ingest_rows(now=NOW, deals=[deal(1000)], prior_nodes=prior)) == []
    changed = ingest_rows(now=NOW, deals=[deal(1500, stage="Won 🎉")], prior_nodes=prior)
    assert types(changed) == ["deal_updated", "finance_entry_created"]
    assert changed.events[1].payload == {"entry_type": "revenue_adjustment", "amount": 500.0}
    assert next(n for n in changed.nodes if n.node_type == "deal").status == "inactive"

    dropped = ingest_rows(now=NOW, deals=[deal(0)], prior_nodes=prior)
    assert dropped.events[-1].payload == {"entry_type": "revenue_adjustment", "amount": -1000.0}


def test_ingest_is_deterministic_and_feeds_the_signal_engine():
    rows = {
        "messages": [message("risk: we are late")],
        "linear_issues": [issue(blocked=True)],
        "deals": [deal(5000)],
    }
    a, b = ingest_rows(now=NOW, **rows), ingest_rows(now=NOW, **rows)
    assert [e.dedupe_key for e in a.events] == [e.dedupe_key for e in b.events]
    assert [n.to_row() for n in a.nodes] == [n.to_row() for n in b.nodes]
    assert a.cursors["linear_issues"].isoformat() == "2026-02-16T10:00:00+00:00"

    node_ids = {n.ref: f"id-{i}" for i, n in enumerate(a.nodes)}
    event_rows = a.event_rows(node_ids)
    assert all(r["subject_node_id"] for r in event_rows)
    assert len(a.edge_rows(node_ids)) == len(a.edges)
    assert a.edge_rows({}) == []  # unresolved ends are dropped

    stored = [r | {"id": i} for i, r in enumerate(event_rows, start=1)]
    run = process_events(None, stored, NOW)
    assert run.state.revenue == 5000.0 and list(run.state.open_blockers) == ["blocker:i1"]
    assert run.state.client_requests  # the client message was seen
