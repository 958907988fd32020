"""Upsell radar, continuity and identity through the routes and their jobs (business.md §B1–§B3)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from shared.db.models.attio import AttioAccountRaw, AttioOpportunityRaw
from shared.db.models.business import CrmAccount, CrmOpportunity
from shared.db.models.chatwoot import CwContact, CwMessage
from shared.db.models.growth import IdentityLink, IdentityLinkSuggestion, UpsellOpportunity
from shared.db.models.linear import LinearIssueRaw, LinearProjectRaw
from shared.scope import Scope
from tests.conftest import Api
from tests.growth.conftest import add_rows, audits, scope_of

NOW = datetime.now(UTC)


def message(scope: Scope, n: int, content: str, *, private: bool = False, days_ago: float = 1) -> CwMessage:
    return CwMessage(id=f"cwmsg:1:{n}", project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                     account_id=1, message_id=n, conversation_id=7, conversation_global_id="cw:1:7",
                     contact_global_id="cwc:1:42", private=private, content=content,
                     created_at=NOW - timedelta(days=days_ago))


def attio_deal(scope: Scope, n: int, title: str, stage: str | None, amount: int) -> AttioOpportunityRaw:
    return AttioOpportunityRaw(id=f"attio:deal:{n}", project_id=scope.project_id,
                               account_scope_id=scope.account_scope_id, workspace_id="w", external_id=f"deal-{n}",
                               account_external_id="acct-1", title=title, stage=stage, amount=Decimal(amount),
                               updated_at=NOW - timedelta(hours=n))


def run_job(api: Api, run_jobs: Any, path: str, body: dict | None = None) -> dict:
    resp = api.post(path, body or {})
    assert resp.status_code == 202, resp.get_json()
    assert resp.headers["Location"] == f"/jobs/runs/{resp.get_json()['job']['id']}"
    run_jobs("intelligence")
    job = api.get(f"/jobs/runs/{resp.get_json()['job']['id']}").get_json()["job"]
    assert job["status"] == "ok", job
    return job


# --- upsell ---------------------------------------------------------------------------------------
def test_upsell_radar_detects_upserts_and_respects_decisions(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime,
             message(scope, 1, "Could we add the new module and an upgrade for the team?"),
             message(scope, 2, "Thanks, all good"),
             message(scope, 3, "upsell please", private=True),
             message(scope, 4, "bundle offer?", days_ago=30),
             attio_deal(scope, 1, "Big deal", "Proposal", 60_000),
             attio_deal(scope, 2, "Mid deal", "negotiation", 30_000),
             attio_deal(scope, 3, "Small deal", "Qualified", 1_000),
             attio_deal(scope, 4, "Won deal", "Won 🎉", 90_000))
    job = run_job(api, run_jobs, "/upsell/radar/refresh")
    assert job["meta"]["result"] == {"generated_candidates": 4, "touched": 4}
    rows = api.get("/upsell/radar").get_json()["opportunities"]
    assert [(r["title"], r["score"]) for r in rows] == [
        ("Expansion path for Big deal", 0.8), ("Potential expansion request from conversation", 0.72),
        ("Expansion path for Mid deal", 0.7), ("Expansion path for Small deal", 0.62)]
    chat = rows[1]
    assert chat["source_ref"] == "cwmsg:1:1" and chat["evidence_refs"] == ["cwmsg:1:1", "cw:1:7"]
    assert chat["suggested_offer_payload"] == {"template": "expansion_offer_v1", "discount_recommendation_pct": 5}
    assert rows[0]["account_external_id"] == "acct-1" and rows[0]["status"] == "proposed"
    [refresh] = audits(runtime, "upsell.refresh")
    assert refresh.entity_type == "upsell_opportunity" and refresh.entity_id == str(scope.project_id)
    assert refresh.payload == {"generated_candidates": 4, "touched": 4} and refresh.actor_username == "operator"

    dismissed = rows[0]["id"]
    resp = api.post(f"/upsell/{dismissed}/status", {"status": " Dismissed "})
    assert resp.status_code == 200 and resp.get_json()["item"]["status"] == "dismissed"
    [event] = audits(runtime, "upsell.status_update")
    assert event.payload == {"status": "dismissed"} and event.entity_id == dismissed
    assert [r["ref"] for r in event.evidence_refs] == ["attio:deal:1"]

    job = run_job(api, run_jobs, "/upsell/radar/refresh")  # dismissed rows are never touched again
    assert job["meta"]["result"] == {"generated_candidates": 4, "touched": 3}
    with runtime.sessions() as s:
        assert s.scalar(select(UpsellOpportunity.status).filter_by(id=uuid.UUID(dismissed))) == "dismissed"
        assert len(s.scalars(select(UpsellOpportunity)).all()) == 4
    assert [r["id"] for r in api.get("/upsell/radar?status=dismissed").get_json()["opportunities"]] == [dismissed]
    assert len(api.get("/upsell/radar?limit=2").get_json()["opportunities"]) == 2


# --- continuity -------------------------------------------------------------------------------------
def crm_rows(scope: Scope) -> tuple[CrmAccount, list[CrmOpportunity]]:
    account = CrmAccount(id=uuid.uuid4(), project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                         name="Acme")
    opps = [CrmOpportunity(id=uuid.uuid4(), project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                           account_id=account.id, title=title, stage=stage, next_step=step,
                           expected_close_date=close, updated_at=NOW - timedelta(minutes=i))
            for i, (title, stage, step, close) in enumerate([
                ("Website", "proposal", "Send the revised estimate", date(2026, 12, 1)),
                ("Audit", "won", "Kick-off call", None),
                ("Retainer", "discovery", "ok", None)])]
    return account, opps


def test_continuity_preview_then_apply(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    account, opps = crm_rows(scope)
    add_rows(runtime, account)
    add_rows(runtime, *opps, message(scope, 1, "We will deliver the mockups by Friday"),
             message(scope, 2, "hello"),
             LinearProjectRaw(id="linproj:1", project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                              workspace_id="w", external_id="lp-1", name="Delivery", updated_at=NOW))
    job = run_job(api, run_jobs, "/continuity/preview")
    result = job["meta"]["result"]
    assert result["touched"] == 2 and len(result["action_ids"]) == 2
    actions = api.get("/continuity/actions").get_json()["actions"]
    by_type = {a["source_type"]: a for a in actions}
    crm, chat = by_type["crm"], by_type["chatwoot"]
    assert crm["title"] == "Deal continuity: Website" and crm["description"] == "Send the revised estimate"
    assert crm["preview_payload"] == {"suggested_linear_title": "Follow-up: Website",
                                      "suggested_due_date": "2026-12-01", "from_opportunity_id": str(opps[0].id)}
    assert chat["evidence_refs"] == ["cwmsg:1:1", "cw:1:7"] and chat["status"] == "previewed"
    assert crm["created_by"] == "operator"
    [preview] = audits(runtime, "continuity.preview")
    assert preview.payload == {"touched": 2} and len(preview.evidence_refs) == 3

    resp = api.post("/continuity/apply", {"action_ids": [crm["id"], crm["id"].upper(), str(uuid.uuid4())]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["applied"] == 1 and body["actions"][0]["status"] == "applied"
    assert body["actions"][0]["linear_issue_external_id"] == f"continuity:{crm['id']}"
    with runtime.sessions() as s:
        issue = s.scalar(select(LinearIssueRaw).filter_by(external_id=f"continuity:{crm['id']}"))
    assert issue.id == f"linissue:{scope.project_id}:continuity:{crm['id']}" and issue.state == "Todo"
    assert issue.title == "Follow-up: Website" and issue.linear_project_external_id == "lp-1"
    assert issue.assignee_name == "operator" and issue.priority == 2 and issue.workspace_id == "continuity"
    assert issue.data == {"source": "continuity_apply", "action_id": crm["id"],
                          "description": "Send the revised estimate"}
    [apply] = audits(runtime, "continuity.apply")
    assert apply.payload == {"applied": 1}
    # applying again skips it silently, and a re-preview leaves applied actions alone
    again = api.post("/continuity/apply", {"action_ids": [crm["id"]]}).get_json()
    assert (again["applied"], again["actions"]) == (0, [])
    assert len(audits(runtime, "continuity.apply")) == 1
    run_job(api, run_jobs, "/continuity/preview")
    assert api.get("/continuity/actions?status=applied").get_json()["actions"][0]["id"] == crm["id"]
    assert api.post("/continuity/apply", {"action_ids": []}).get_json()["applied"] == 0


# --- identity ---------------------------------------------------------------------------------------
def identity_rows(scope: Scope) -> list[Any]:
    def contact(n: int, name: str, email: str | None) -> CwContact:
        return CwContact(id=f"cwc:1:{n}", project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                         account_id=1, contact_id=n, name=name, email=email, updated_at=NOW)

    def account(n: int, name: str, domain: str | None) -> AttioAccountRaw:
        return AttioAccountRaw(id=f"attio:acct:{n}", project_id=scope.project_id,
                               account_scope_id=scope.account_scope_id, workspace_id="w", external_id=f"a{n}",
                               name=name, domain=domain, updated_at=NOW)

    return [
        contact(1, "Дмитрий Иванов", "dmitry@ivanov-studio.ru"),
        contact(2, "Jane Roe", "jane@gmail.com"),
        contact(3, "Anna Smith", "anna@acme.io"),
        account(1, "Dmitry Ivanov", None),
        account(2, "Free Mail Inc", "gmail.com"),
        account(3, "Zeta Corp", "acme.io"),
        account(4, "Northwind", "northwind.com"),
        LinearProjectRaw(id="linproj:1", project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                         workspace_id="w", external_id="lp-1", name="Northwind", updated_at=NOW),
    ]


def test_identity_suggestions_match_across_scripts_and_ignore_generic_domains(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime, *identity_rows(scope))
    job = run_job(api, run_jobs, "/identity/suggestions/preview", {"limit": "500"})
    assert job["meta"]["params"] == {"limit": 200}
    assert job["meta"]["result"] == {"generated": 3, "stored": 3}
    suggestions = api.get("/identity/suggestions").get_json()["suggestions"]
    pairs = {(s["left_entity_id"], s["right_entity_id"]): s for s in suggestions}
    assert set(pairs) == {("cwc:1:3", "attio:acct:3"), ("attio:acct:4", "linproj:1"), ("cwc:1:1", "attio:acct:1")}
    assert ("cwc:1:2", "attio:acct:2") not in pairs  # gmail.com never counts as identity
    domain = pairs[("cwc:1:3", "attio:acct:3")]
    assert domain["reason"] == "matching_email_domain" and domain["confidence"] == 0.95
    cyrillic = pairs[("cwc:1:1", "attio:acct:1")]
    assert cyrillic["reason"] == "matching_contact_account_name" and cyrillic["confidence"] >= 0.72
    assert pairs[("attio:acct:4", "linproj:1")]["confidence"] == 1.0
    assert [s["confidence"] for s in suggestions] == sorted((s["confidence"] for s in suggestions), reverse=True)
    [preview] = audits(runtime, "identity.preview")
    assert preview.payload == {"generated": 3, "stored": 3}

    chosen = [cyrillic["id"], domain["id"]]
    resp = api.post("/identity/suggestions/apply", {"suggestion_ids": chosen})
    body = resp.get_json()
    assert resp.status_code == 200 and body["applied"] == 2
    assert {(link["left_entity_id"], link["source"], link["status"]) for link in body["links"]} == {
        ("cwc:1:1", "suggestion", "active"), ("cwc:1:3", "suggestion", "active")}
    assert api.post("/identity/suggestions/apply", {"suggestion_ids": chosen}).get_json()["applied"] == 0
    assert len(api.get("/identity/suggestions").get_json()["suggestions"]) == 1
    assert len(api.get("/identity/suggestions?status=all").get_json()["suggestions"]) == 3
    links = api.get("/identity/links").get_json()["links"]
    assert len(links) == 2 and all(link["created_by"] == "operator" for link in links)
    [apply] = audits(runtime, "identity.apply")
    assert apply.payload == {"applied": 2} and len(apply.evidence_refs) == 4

    run_job(api, run_jobs, "/identity/suggestions/preview")  # applied suggestions stay applied
    with runtime.sessions() as s:
        statuses = sorted(s.scalars(select(IdentityLinkSuggestion.status)))
        assert statuses == ["applied", "applied", "proposed"]
        assert len(s.scalars(select(IdentityLink)).all()) == 2


def test_inactive_link_is_reactivated_by_apply(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime, *identity_rows(scope)[2:3], *identity_rows(scope)[5:6],
             IdentityLink(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                          left_entity_type="cw_contact", left_entity_id="cwc:1:3", right_entity_type="attio_account",
                          right_entity_id="attio:acct:3", status="inactive", source="manual", created_by="bob"))
    run_job(api, run_jobs, "/identity/suggestions/preview")
    [suggestion] = api.get("/identity/suggestions").get_json()["suggestions"]
    links = api.post("/identity/suggestions/apply", {"suggestion_ids": [suggestion["id"]]}).get_json()["links"]
    assert [(link["status"], link["source"]) for link in links] == [("active", "suggestion")]
    assert api.get("/identity/links?status=inactive").get_json()["links"] == []
    assert api.get("/identity/links").get_json()["links"][0]["created_by"] == "operator"
