"""CRM routes (business.md §A1, §F): accounts, opportunities, stage history, overview, Attio mirror."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select

from shared.db.models.business import CrmAccount, CrmOpportunity, CrmOpportunityStageEvent
from shared.db.models.platform import AuditEvent
from shared.db.service import crm as crm_svc
from shared.scope import Scope


def _count(rt, model, **filters) -> int:  # noqa: ANN001
    with rt.session() as s:
        return s.scalar(select(func.count()).select_from(model).filter_by(**filters)) or 0


def _account(api, name: str = "Acme Corp", **extra) -> dict:  # noqa: ANN001
    resp = api.post("/crm/accounts", {"name": name, **extra})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["account"]


def _opportunity(api, account_id: str, **extra) -> dict:  # noqa: ANN001
    body = {"title": "Website", "account_id": account_id, "next_step": "Send the proposal", **extra}
    resp = api.post("/crm/opportunities", body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["opportunity"]


def test_account_create_list_and_audit(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    acc = _account(api, "  Acme Corp  ", domain=" acme.test ", evidence_refs=["cw:1", {"ref": "x", "snippet": "s"}])
    assert acc["name"] == "Acme Corp" and acc["domain"] == "acme.test" and acc["stage"] == "prospect"
    assert acc["owner_username"] == "operator" and acc["external_ref"] is None
    assert _account(api, "Beta", stage=" ACTIVE ", owner_username="")["owner_username"] is None
    listed = api.get("/v1/crm/accounts?limit=1").get_json()["accounts"]
    assert [a["name"] for a in listed] == ["Beta"]
    with clean.session() as s:
        event = s.scalar(select(AuditEvent).filter_by(action="crm.account.create", entity_id=acc["id"]))
    assert event.payload == {"name": "Acme Corp", "stage": "prospect"} and len(event.evidence_refs) == 2


BAD_ACCOUNTS = [
    ({}, 400, "invalid_account_name"),
    ({"name": " a "}, 400, "invalid_account_name"),
    ({"name": 12}, 400, "invalid_account_name"),
    ({"name": "Gamma", "stage": "vip"}, 400, "invalid_account_stage"),
    ({"name": "Gamma", "evidence_refs": "cw:1"}, 400, "invalid_evidence_refs"),
    ({"name": "Acme Corp"}, 409, "account_name_conflict"),
    ({"name": " Acme Corp "}, 409, "account_name_conflict"),
]


def test_bad_account_bodies_write_nothing(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    _account(api, "Acme Corp")
    before = _count(clean, AuditEvent)
    for body, status, code in BAD_ACCOUNTS:
        resp = api.post("/crm/accounts", body)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), body
    assert _count(clean, CrmAccount) == 1 and _count(clean, AuditEvent) == before


def test_same_account_name_in_another_project_is_allowed(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    _account(api, "Acme Corp")
    api.create_project("Proj Q")
    _account(api, "Acme Corp")


def test_opportunity_clamps_and_defaults(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    acc = _account(api)
    opp = _opportunity(api, acc["id"], stage="Won", probability=1.7, amount_estimate=-5,
                       expected_close_date="2026-12-31", evidence_refs=["cwmsg:1"])
    assert (opp["stage"], opp["probability"], opp["amount_estimate"]) == ("won", 1, 0)
    assert opp["expected_close_date"] == "2026-12-31" and opp["account_name"] == "Acme Corp"
    assert opp["evidence_refs"][0]["ref"] == "cwmsg:1"
    opp2 = _opportunity(api, acc["id"], probability="abc", amount_estimate="1234.567")
    assert (opp2["stage"], opp2["probability"], opp2["amount_estimate"]) == ("discovery", 0.1, 1234.57)
    listed = api.get("/crm/opportunities?stage=WON").get_json()["opportunities"]
    assert [o["id"] for o in listed] == [opp["id"]] and listed[0]["account_name"] == "Acme Corp"
    assert api.get("/crm/opportunities?stage=nonsense").get_json()["opportunities"] == []
    assert len(api.get("/crm/opportunities?stage=").get_json()["opportunities"]) == 2


BAD_OPPORTUNITIES = [
    ({"title": "  "}, 400, "invalid_opportunity_title"),
    ({"account_id": None}, 400, "invalid_account_id"),
    ({"next_step": "ok"}, 400, "next_step_required"),
    ({"stage": "closing"}, 400, "invalid_stage"),
    ({"expected_close_date": "31/12/2026"}, 400, "invalid_expected_close_date"),
    ({"evidence_refs": {"ref": "x"}}, 400, "invalid_evidence_refs"),
    ({"account_id": "not-a-uuid"}, 404, "account_not_found"),
    ({"account_id": str(uuid.uuid4())}, 404, "account_not_found"),
    ({"amount_estimate": -5, "expected_close_date": "2026-02-30"}, 400, "invalid_expected_close_date"),
]


def test_bad_opportunity_bodies_write_nothing(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    acc = _account(api)
    before = _count(clean, AuditEvent)
    for patch, status, code in BAD_OPPORTUNITIES:
        body = {"title": "Website", "account_id": acc["id"], "next_step": "Send the proposal", **patch}
        resp = api.post("/crm/opportunities", body)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), (patch, resp.get_json())
    assert _count(clean, CrmOpportunity) == 0 and _count(clean, AuditEvent) == before


def test_opportunity_with_another_projects_account_is_404(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    foreign = _account(api)
    api.create_project("Proj Q")
    resp = api.post("/crm/opportunities", {"title": "X", "account_id": foreign["id"], "next_step": "Call them"})
    assert (resp.status_code, resp.get_json()["error"]) == (404, "account_not_found")
    assert _count(clean, CrmOpportunity) == 0


def test_stage_moves_are_recorded_with_their_audit_event(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    opp = _opportunity(api, _account(api)["id"], amount_estimate=100, probability=0.4)
    for stage, reason in (("Proposal", "sent"), ("won", None), ("won", "confirmed"), ("discovery", "reopened")):
        resp = api.post(f"/crm/opportunities/{opp['id']}/stage",
                        {"stage": stage, "reason": reason, "evidence_refs": ["cw:9"]})
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()["opportunity"]
        assert body["stage"] == stage.lower() and body["probability"] == 0.4 and body["amount_estimate"] == 100
        assert set(body) == {"id", "title", "stage", "amount_estimate", "probability", "expected_close_date",
                             "next_step", "updated_at", "evidence_refs"}
    with clean.session() as s:
        events = crm_svc.stage_events(session=s, scope=_scope(s, opp["id"]), opportunity_id=uuid.UUID(opp["id"]))
        assert [(e.from_stage, e.to_stage) for e in events] == [
            ("discovery", "proposal"), ("proposal", "won"), ("won", "won"), ("won", "discovery")]
        audit = s.get(AuditEvent, events[0].audit_event_id)
        assert audit.action == "crm.opportunity.stage_update"
        assert audit.payload == {"from_stage": "discovery", "to_stage": "proposal", "reason": "sent"}
        assert events[0].actor_username == "operator" and events[0].evidence_refs[0]["ref"] == "cw:9"


def _scope(s, opp_id: str) -> Scope:  # noqa: ANN001
    opp = s.get(CrmOpportunity, uuid.UUID(opp_id))
    return Scope(opp.project_id, opp.account_scope_id)


BAD_STAGE_REQUESTS = [
    ("/crm/opportunities/{id}/stage", {"stage": "closing"}, 400, "invalid_stage"),
    ("/crm/opportunities/{id}/stage", {}, 400, "invalid_stage"),
    ("/crm/opportunities/{id}/stage", {"stage": "won", "evidence_refs": 3}, 400, "invalid_evidence_refs"),
    ("/crm/opportunities/nope/stage", {"stage": "won"}, 400, "invalid_opportunity_id"),
    (f"/crm/opportunities/{uuid.uuid4()}/stage", {"stage": "won"}, 404, "opportunity_not_found"),
]


def test_bad_stage_requests(api, clean) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    opp = _opportunity(api, _account(api)["id"])
    for path, body, status, code in BAD_STAGE_REQUESTS:
        resp = api.post(path.format(id=opp["id"]), body)
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), (path, body)
    assert _count(clean, CrmOpportunityStageEvent) == 0
    assert api.get("/crm/opportunities").get_json()["opportunities"][0]["stage"] == "discovery"


def test_other_projects_opportunity_is_404(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    opp = _opportunity(api, _account(api)["id"])
    api.create_project("Proj Q")
    resp = api.post(f"/crm/opportunities/{opp['id']}/stage", {"stage": "won"})
    assert (resp.status_code, resp.get_json()["error"]) == (404, "opportunity_not_found")
    assert api.get("/crm/opportunities").get_json()["opportunities"] == []
    assert api.get("/crm/accounts").get_json()["accounts"] == []


def test_overview_counts(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    acc = _account(api)
    _account(api, "Beta")
    for stage in ("won", "discovery", "discovery", "lost"):
        _opportunity(api, acc["id"], stage=stage)
    body = api.get("/crm/overview").get_json()
    assert body["accounts"] == 2
    assert body["opportunity_by_stage"] == [{"stage": "discovery", "count": 2}, {"stage": "won", "count": 1},
                                            {"stage": "lost", "count": 1}]
    assert body["links_by_status"] == []


def test_attio_mirror_is_idempotent_and_never_touches_user_rows(api, clean) -> None:  # noqa: ANN001
    project = api.create_project("Proj P")
    _account(api, "Taken Name")
    scope = Scope(uuid.UUID(project["id"]), uuid.UUID(project["account_scope_id"]))
    accounts = [{"external_id": "a1", "name": "Alpha", "domain": "alpha.test", "stage": "Active"},
                {"external_id": "a2", "name": "Taken Name", "stage": None},
                {"external_id": "a3", "name": None, "stage": "weird"}]
    deals = [{"external_id": "d1", "account_external_id": "a1", "title": "Deal", "stage": "Won 🎉", "amount": 500,
              "probability": 0.5, "expected_close_date": "2026-03-01", "next_step": None},
             {"external_id": "d2", "account_external_id": "a2", "title": "Skipped", "stage": "Lead"},
             {"external_id": "d3", "account_external_id": "a3", "title": None, "stage": "In Progress", "amount": 7}]
    with clean.transaction() as s:
        first = crm_svc.mirror_crm(s, scope, accounts, deals)
    with clean.transaction() as s:
        second = crm_svc.mirror_crm(s, scope, accounts, deals)
    assert first == {"accounts": 2, "opportunities": 2, "skipped": 1, "skipped_deals": 1}
    assert second == {"accounts": 0, "opportunities": 0, "skipped": 1, "skipped_deals": 1}
    with clean.session() as s:
        rows = {a.external_ref: a for a in s.scalars(select(CrmAccount))}
        opps = {o.external_ref: o for o in s.scalars(select(CrmOpportunity))}
    assert set(rows) == {None, "a1", "a3"} and rows["a1"].stage == "active" and rows["a3"].name == "a3"
    assert rows[None].name == "Taken Name"
    assert (opps["d1"].stage, opps["d1"].next_step, str(opps["d1"].expected_close_date)) == (
        "won", "Review next action", "2026-03-01")
    assert (opps["d3"].stage, opps["d3"].title) == ("qualified", "Opportunity d3")
    accounts[0]["name"] = "Alpha Renamed"
    with clean.transaction() as s:
        assert crm_svc.mirror_crm(s, scope, accounts[:1], [])["accounts"] == 1
    assert _count(clean, CrmAccount) == 3
