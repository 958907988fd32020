"""Upsell radar, continuity, campaign scheduler, Loops sync and control tower (business.md §B1, §B2, §B4, §B5, §A6)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from jobs.business.campaigns import CampaignTally, select_due_messages
from jobs.business.continuity import (
    detect_continuity_candidates,
    detect_message_commitments,
    plan_continuity_upsert,
)
from jobs.business.loops import (
    LoopsTally,
    api_base_url,
    exclude_opted_out,
    group_contacts,
    is_conflict_error,
    missing_credentials_result,
    split_unsendable,
)
from jobs.business.upsell import (
    detect_message_candidates,
    detect_opportunity_candidates,
    detect_upsell_candidates,
    plan_upsell_upsert,
    upsell_dedupe_key,
)
from shared.business.continuity import (
    applied_action_changes,
    choose_linear_project,
    continuity_issue_row,
    is_applicable,
    validate_action_ids,
)
from shared.business.control_tower import integrations_block
from shared.business.errors import InvalidInput
from shared.business.loops import parse_loops_request, resolve_loops_projects
from shared.business.outbound import parse_process_limit
from shared.business.upsell import validate_upsell_status

NOW = datetime(2026, 2, 17, 10, 0, tzinfo=UTC)
P = "11111111-1111-1111-1111-111111111111"


def message(mid: str, content: str, *, days_ago: float = 1, private: bool = False, conv: str | None = "cw:1") -> dict:
    return {"id": mid, "content": content, "private": private, "conversation_global_id": conv,
            "created_at": NOW - timedelta(days=days_ago)}


# --- upsell -------------------------------------------------------------------------------------
def test_message_upsell_rule() -> None:
    found = detect_message_candidates([
        message("cwmsg:1", "Could we UPGRADE to the pro plan?"),
        message("cwmsg:2", "We are expanding to Berlin", conv=None),
        message("cwmsg:3", "upgrade please", private=True),
        message("cwmsg:4", "upgrade please", days_ago=22),
        message("cwmsg:5", "thanks!"),
        message("cwmsg:6", "x" * 1200 + " upsell"),  # keyword beyond the first 1200 characters
    ], now=NOW)
    assert [c.source_ref for c in found] == ["cwmsg:1", "cwmsg:2"]
    first = found[0]
    assert (first.title, first.score, first.account_external_id) == (
        "Potential expansion request from conversation", Decimal("0.72"), None)
    assert first.evidence_refs == ["cwmsg:1", "cw:1"] and found[1].evidence_refs == ["cwmsg:2"]
    assert first.suggested_offer_payload == {"template": "expansion_offer_v1", "discount_recommendation_pct": 5}
    assert first.suggested_outbound_payload["channel"] == "chatwoot"


@pytest.mark.parametrize(("amount", "score"), [(60_000, "0.80"), (50_000, "0.70"), (20_001, "0.70"),
                                               (20_000, "0.62"), (None, "0.62")])
def test_opportunity_upsell_scores(amount: object, score: str) -> None:
    found = detect_opportunity_candidates([{"id": "d1", "title": " CRM ", "stage": "Proposal", "amount": amount,
                                            "account_external_id": "acc-9", "updated_at": NOW}])
    assert len(found) == 1 and found[0].score == Decimal(score)
    assert found[0].title == "Expansion path for CRM" and found[0].account_external_id == "acc-9"
    assert found[0].suggested_offer_payload == {"template": "attio_expansion_track", "anchor_opportunity_id": "d1"}


def test_opportunity_upsell_stage_rule_uses_normalised_stage() -> None:
    deals = [{"id": "a", "title": "A", "stage": "Won 🎉"}, {"id": "b", "title": "B", "stage": "Proposal Sent"},
             {"id": "c", "title": "", "stage": "negotiation"}, {"id": "d", "title": "D", "stage": "Lead"},
             {"id": "e", "title": "E", "stage": "In Progress"}]
    assert [c.source_ref for c in detect_opportunity_candidates(deals)] == ["b", "e"]


def test_upsell_dedupe_and_upsert() -> None:
    assert upsell_dedupe_key(P, "d1", "t") == hashlib.sha1(f"{P}:d1:t".encode()).hexdigest()
    candidates = detect_upsell_candidates(project_id=P, messages=[message("m", "bundle"), message("m", "bundle")],
                                          opportunities=[], now=NOW)
    assert len(candidates) == 1
    c = candidates[0]
    assert plan_upsell_upsert(None, c, project_id=P).values["status"] == "proposed"
    upd = plan_upsell_upsert({"status": "accepted", "score": Decimal("0.9")}, c, project_id=P)
    assert upd.action == "update" and upd.values["score"] == Decimal("0.9") and "status" not in upd.values
    assert plan_upsell_upsert({"status": "dismissed", "score": 0}, c, project_id=P).action == "skip"
    assert plan_upsell_upsert({"status": "converted", "score": 0}, c, project_id=P).action == "skip"


def test_upsell_status_route() -> None:
    assert validate_upsell_status({"status": " Converted "}) == "converted"
    for bad in ({}, {"status": "won"}):
        with pytest.raises(InvalidInput) as err:
            validate_upsell_status(bad)
        assert err.value.code == "invalid_upsell_status"


# --- continuity ---------------------------------------------------------------------------------
def test_continuity_preview_candidates() -> None:
    opps = [{"id": "o1", "title": "Redesign", "stage": "proposal", "next_step": "  Send SOW  ",
             "expected_close_date": date(2026, 3, 1), "updated_at": NOW},
            {"id": "o2", "title": None, "stage": "discovery", "next_step": "Call back", "updated_at": NOW},
            {"id": "o3", "title": "Done", "stage": "won", "next_step": "Invoice them", "updated_at": NOW},
            {"id": "o4", "title": "Short", "stage": "qualified", "next_step": " tbd ", "updated_at": NOW}]
    msgs = [message("cwmsg:1", "We will send the draft by Friday"), message("cwmsg:2", "ok"),
            message("cwmsg:3", "I WILL deliver", private=True)]
    found = detect_continuity_candidates(opportunities=opps, messages=msgs, now=NOW)
    assert [(c.source_type, c.source_ref) for c in found] == [("crm", "o1"), ("crm", "o2"), ("chatwoot", "cwmsg:1")]
    o1, o2, m1 = found
    assert (o1.title, o1.description) == ("Deal continuity: Redesign", "Send SOW")
    assert o1.preview_payload == {"suggested_linear_title": "Follow-up: Redesign", "suggested_due_date": "2026-03-01",
                                  "from_opportunity_id": "o1"}
    assert o2.title == "Deal continuity: Opportunity follow-up"
    assert o2.preview_payload["suggested_linear_title"] == "Follow-up: Opportunity"
    assert m1.title == "Message commitment follow-up" and m1.evidence_refs == ["cwmsg:1", "cw:1"]
    assert m1.preview_payload == {"suggested_linear_title": "Follow-up on chat commitment",
                                  "from_message_id": "cwmsg:1", "conversation_global_id": "cw:1"}
    assert o1.dedupe_key(P) == hashlib.sha1(f"{P}:crm:o1:Deal continuity: Redesign".encode()).hexdigest()
    long = detect_message_commitments([message("m", "promise " + "y" * 2000)], now=NOW)[0]
    assert len(long.description) == 300


def test_continuity_upsert_and_apply() -> None:
    candidate = detect_message_commitments([message("m", "next week")], now=NOW)[0]
    insert = plan_continuity_upsert(None, candidate, project_id=P, actor="alice")
    assert insert.values["status"] == "previewed" and insert.values["created_by"] == "alice"
    assert plan_continuity_upsert("failed", candidate, project_id=P, actor="bob").action == "update"
    assert plan_continuity_upsert("applied", candidate, project_id=P, actor="bob").action == "skip"
    assert is_applicable("previewed") and is_applicable("failed") and not is_applicable("applied")
    assert choose_linear_project([None, "lp-2"]) == "lp-2" and choose_linear_project([]) == "continuity-fallback"
    action = {"id": "a1", "title": "Deal continuity: X", "description": "d", "created_by": None,
              "preview_payload": {"suggested_linear_title": "Follow-up: X"}}
    row = continuity_issue_row(project_id=P, action=action, actor="alice", linear_project_external_id="lp-2")
    assert row["id"] == f"linissue:{P}:continuity:a1" and row["external_id"] == "continuity:a1"
    assert (row["workspace_id"], row["title"], row["state"], row["priority"], row["assignee_name"]) == (
        "continuity", "Follow-up: X", "Todo", 2, "alice")
    assert row["data"] == {"source": "continuity_apply", "action_id": "a1", "description": "d"}
    assert applied_action_changes(action, actor="alice", issue_external_id="continuity:a1") == {
        "status": "applied", "linear_issue_external_id": "continuity:a1", "created_by": "alice"}
    assert "created_by" not in applied_action_changes({**action, "created_by": "bob"}, actor="alice",
                                                      issue_external_id="x")


def test_continuity_action_ids() -> None:
    ids = [str(uuid.uuid4()) for _ in range(2)]
    assert validate_action_ids(ids + [ids[0]]) == ids and validate_action_ids([]) == []
    for bad in (ids[0], [ids[0], "x"], [7], 7, None):
        with pytest.raises(InvalidInput) as err:
            validate_action_ids(bad)
        assert err.value.code == "invalid_action_ids"


# --- campaign scheduler -------------------------------------------------------------------------
def test_campaign_selection() -> None:
    def m(mid: str, status: str, *, retry: int = 0, max_retries: int = 5, next_at: datetime | None = None,
          age: int = 0) -> dict:
        return {"id": mid, "status": status, "retry_count": retry, "max_retries": max_retries,
                "next_attempt_at": next_at, "created_at": NOW - timedelta(minutes=age)}

    rows = [m("new", "approved", age=1), m("old", "failed", age=9), m("draft", "draft"), m("sent", "sent"),
            m("later", "approved", next_at=NOW + timedelta(minutes=1)), m("due", "approved", next_at=NOW, age=5),
            m("exhausted", "failed", retry=5), m("zero", "approved", max_retries=0)]
    assert [r["id"] for r in select_due_messages(rows, now=NOW, limit=50)] == ["old", "due", "new"]
    assert [r["id"] for r in select_due_messages(rows, now=NOW, limit=1)] == ["old"]
    tally = CampaignTally()
    for ok in (True, False, False):
        tally.record(ok)
    assert tally.job_result() == {"processed": 3, "sent": 1, "failed": 2}
    assert parse_process_limit(None) == 20 and parse_process_limit(999) == 200


# --- loops --------------------------------------------------------------------------------------
def test_loops_grouping_and_compliance() -> None:
    contacts = [
        {"id": "cwc:1", "project_id": "p2", "project_name": "Beta", "name": "ann", "email": " Ann@X.com "},
        {"id": "cwc:2", "project_id": "p1", "project_name": "Alpha", "name": "Ann B", "email": "ann@x.com"},
        {"id": "cwc:3", "project_id": "p1", "project_name": "Alpha", "name": " ", "email": "zed@y.com"},
        {"id": "cwc:4", "project_id": "p1", "project_name": "Alpha", "name": "NoAt", "email": "broken"},
        {"id": "cwc:5", "project_id": "p1", "project_name": "Alpha", "name": "Opt", "email": "opt@z.com"},
        {"id": "cwc:6", "project_id": "p1", "project_name": "Alpha", "name": "Gone", "email": "Gone@Z.com"},
        {"id": "cwc:7", "project_id": "p1", "project_name": "Alpha", "name": "Blank", "email": "  "},
    ]
    groups = group_contacts(contacts, limit=300)
    assert [g.email for g in groups] == ["ann@x.com", "broken", "gone@z.com", "opt@z.com", "zed@y.com"]
    ann = groups[0]
    assert ann.name == "ann" and ann.project_ids == ("p1", "p2") and ann.project_names == ("Alpha", "Beta")
    assert groups[-1].name == "zed"  # local part when no name
    assert ann.body(source_tag="portfolio-dashboard") == {"email": "ann@x.com", "firstName": "ann",
                                                          "source": "portfolio-dashboard", "projectIds": ["p1", "p2"],
                                                          "projectNames": ["Alpha", "Beta"]}
    kept, excluded = exclude_opted_out(groups, ["cwc:5", "GONE@z.com"])
    assert [g.email for g in excluded] == ["gone@z.com", "opt@z.com"]
    sendable, skipped = split_unsendable(kept)
    assert [g.email for g in sendable] == ["ann@x.com", "zed@y.com"] and skipped == 1
    assert len(group_contacts(contacts, limit=2)) == 2


def test_loops_tally_and_helpers() -> None:
    assert is_conflict_error("Contact ALREADY exists") and is_conflict_error("409 Conflict")
    assert not is_conflict_error("rate limited") and not is_conflict_error(None)
    assert api_base_url("https://x/api/") == "https://x/api" and api_base_url(None) == "https://app.loops.so/api/v1"
    assert missing_credentials_result()["skipped"] == "missing_credentials"
    tally = LoopsTally(created=2, updated=1)
    assert tally.audit_status == "ok"
    for i in range(25):
        tally.fail(f"e{i}@x.com", "boom " * 100)
    assert tally.failed == 25 and len(tally.errors) == 20 and len(tally.errors[0]["message"]) == 300
    assert tally.audit_status == "partial" and LoopsTally(failed=1).audit_status == "failed"
    assert tally.job_result(["p1"])["processed"] == 3


def test_loops_request_and_selection() -> None:
    a, b, c = (str(uuid.UUID(int=i)) for i in (1, 2, 3))
    req = parse_loops_request({"project_ids": f"{a},{c},junk", "limit": 0})
    assert req.project_ids == [a, c] and req.limit == 1
    assert parse_loops_request({}).limit == 300 and parse_loops_request({"limit": "9999"}).limit == 5000
    scope = [{"id": a}, {"id": b}]
    assert resolve_loops_projects(req.project_ids, scope) == [a]  # c is outside the scope
    assert resolve_loops_projects([], scope) == [a, b]
    assert resolve_loops_projects([c], scope) == []


def test_control_tower_integrations_are_zero_filled() -> None:
    block = integrations_block(watermarks=[
        {"source": "linear:ws", "updated_at": NOW - timedelta(hours=1)},
        {"source": "chatwoot:1", "updated_at": NOW},
        {"source": "loops:x", "updated_at": NOW}], annual_revenue=None, issues_open=None)
    assert [w["source"] for w in block["sync_watermarks"]] == ["chatwoot:1", "linear:ws"]
    assert block["linear"] == {"issues_total": 0, "issues_open": 0, "issues_overdue": 0}
    assert block["attio"] == {"accounts": 0, "annual_revenue": 0, "pipeline_amount": 0}
    assert block["chatwoot"] == {"conversations": 0, "messages_7d": 0}
