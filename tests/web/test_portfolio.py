"""Control tower (§A6) and portfolio (§A7, §A8, worked example G6): figures, cross-checks, scope."""

from __future__ import annotations

from datetime import timedelta

from shared.db.models.business import HealthScore, RiskRadarItem
from shared.db.models.platform import SyncWatermark
from tests import business_seed as seed


def _add(rt, *rows) -> None:  # noqa: ANN001, ANN002
    with rt.transaction() as s:
        s.add_all(rows)


def _g6(api, clean) -> tuple[dict, dict, dict]:  # noqa: ANN001
    gamma = api.create_project("Gamma", scope_key="other", select=False)
    beta = api.create_project("Beta", scope_key="acme", select=False)
    alpha = api.create_project("Alpha", scope_key="acme")
    seed.insert(clean, "attio_opportunities_raw", alpha, [seed.attio_opportunity("Proposal", 100000, 0.3),
                                                          seed.attio_opportunity("Won 🎉", 500, 1)])
    seed.insert(clean, "cw_messages", alpha, [seed.message(created_at=seed.ago(days=1, minutes=i), content=f"m{i}")
                                              for i in range(10)] + [seed.message(created_at=seed.ago(days=9))])
    seed.insert(clean, "cw_messages", gamma, [seed.message(created_at=seed.ago(hours=1), content="secret")])
    seed.insert(clean, "linear_issues_raw", alpha, [seed.issue(), seed.issue(completed=True)])
    a = seed.scope_of(alpha)
    _add(clean, HealthScore(project_id=a.project_id, account_scope_id=a.account_scope_id, score=70,
                            generated_at=seed.ago(days=1)),
         HealthScore(project_id=a.project_id, account_scope_id=a.account_scope_id, score=80, generated_at=seed.ago()),
         *[RiskRadarItem(project_id=a.project_id, account_scope_id=a.account_scope_id, severity=s, probability=0.4,
                         title=f"risk {s}", status=st) for s, st in ((4, "open"), (2, "mitigating"), (5, "closed"))])
    return alpha, beta, gamma


def test_g6_client_value_score_discount_policy_and_selection(api, clean) -> None:  # noqa: ANN001
    alpha, beta, gamma = _g6(api, clean)
    body = api.get(f"/portfolio/overview?project_ids={beta['id']},{alpha['id']}").get_json()
    assert [p["name"] for p in body["projects"]] == ["Alpha", "Beta"]
    assert body["selected_project_ids"] == [alpha["id"], beta["id"]]
    rows = {r["project_name"]: r for r in body["dashboard"]["by_project"]}
    assert (rows["Alpha"]["expected_revenue"], rows["Alpha"]["messages_7d"], rows["Alpha"]["health_score"],
            rows["Alpha"]["risks_open"], rows["Alpha"]["client_value_score"]) == (100000, 10, 80, 2, 81)
    assert (rows["Beta"]["expected_revenue"], rows["Beta"]["health_score"], rows["Beta"]["client_value_score"]) == (
        0, 0, 22)
    assert body["offers"]["discount_policy"] == [
        {"project_id": alpha["id"], "project_name": "Alpha", "client_value_score": 81, "max_discount_pct": 14},
        {"project_id": beta["id"], "project_name": "Beta", "client_value_score": 22, "max_discount_pct": 5}]
    totals = body["dashboard"]["totals"]
    assert (totals["selected_projects"], totals["avg_client_value_score"], totals["avg_health_score"],
            totals["messages_7d"], totals["risks_open"], totals["linear_open_issues"]) == (2, 51.5, 40, 10, 2, 1)
    assert "secret" not in str(body)

    mixed = api.get(f"/portfolio/overview?project_ids={alpha['id']}&project_ids={gamma['id']}").get_json()
    assert mixed["selected_project_ids"] == [alpha["id"]]
    assert api.get("/v1/portfolio/overview").get_json()["selected_project_ids"] == [alpha["id"]]
    empty = api.get(f"/portfolio/overview?project_ids={gamma['id']}").get_json()
    assert empty["projects"] == [] and empty["dashboard"]["totals"] is None and empty["finances"]["totals"] is None
    assert empty["loops"] == {"contacts_with_email": 0, "unique_emails": 0}


def test_overview_totals_equal_the_control_tower_figures_per_project(api, clean) -> None:  # noqa: ANN001
    alpha, beta, _ = _g6(api, clean)
    seed.insert(clean, "cw_messages", beta, [seed.message(created_at=seed.ago(hours=2)) for _ in range(3)])
    seed.insert(clean, "linear_issues_raw", beta, [seed.issue(due=seed.today() - timedelta(days=1)) for _ in range(4)])
    seed.insert(clean, "upsell_opportunities", beta, [
        {"title": f"Upsell {score}", "score": score, "dedupe_key": f"u{score}", "created_at": seed.ago(minutes=5),
         "suggested_offer_payload": {"discount_recommendation_pct": 5} if score > 0.7 else {}} for score in (0.8, 0.6)])
    month = seed.today().replace(day=1)
    old_month = (month - timedelta(days=1)).replace(day=1)
    seed.insert(clean, "analytics_revenue_snapshots", alpha, [
        {"period_start": old_month, "horizon_days": 30, "pipeline_amount": 50, "costs_amount": 7, "gross_margin": 1,
         "expected_revenue": 8, "generated_at": seed.ago(days=40)},
        *[{"period_start": month, "horizon_days": h, "pipeline_amount": 1000, "costs_amount": 100,
           "gross_margin": 900, "expected_revenue": 1000, "generated_at": seed.ago(hours=1)} for h in (30, 60, 90)]])
    body = api.get(f"/portfolio/overview?project_ids={alpha['id']},{beta['id']}&message_limit=1&card_limit=1000")
    body = body.get_json()
    by_project = body["dashboard"]["by_project"]
    for key in ("messages_7d", "linear_open_issues", "risks_open"):
        assert body["dashboard"]["totals"][key] == sum(r[key] for r in by_project), key
    assert body["dashboard"]["totals"]["expected_revenue"] == sum(r["expected_revenue"] for r in by_project)
    assert len(body["messages"]) == 5 and body["messages"][0]["project_name"] in ("Alpha", "Beta")
    for row, project in zip(by_project, (alpha, beta), strict=True):
        api.select(project["id"])
        tower = api.get("/control-tower").get_json()
        assert tower["integrations"]["chatwoot"]["messages_7d"] == row["messages_7d"]
        assert tower["integrations"]["linear"]["issues_open"] == row["linear_open_issues"]
        assert (tower["risk"]["health"] or {"score": 0})["score"] == row["health_score"]
        assert sum(r["status"] != "closed" for r in tower["risk"]["risks"]) == row["risks_open"]
    assert [p["value"] for p in body["dashboard"]["charts"]["blockers_count"]] == [4]
    assert body["dashboard"]["charts"]["health_score"][-1]["value"] == 80
    assert [c["source"] for c in body["risks"]] == ["risk_radar", "risk_radar"]
    finances = {r["project_name"]: r for r in body["finances"]["by_project"]}
    assert (finances["Alpha"]["costs_amount"], finances["Alpha"]["gross_margin"]) == (100, 900)
    assert (finances["Beta"]["costs_amount"], finances["Beta"]["gross_margin"]) == (0, 0)
    assert body["finances"]["totals"]["costs_amount"] == 100
    assert [(p["period_start"], p["pipeline_amount"], p["costs_amount"]) for p in body["dashboard"]["trend"]] == [
        (old_month.isoformat(), 50, 7), (month.isoformat(), 1000, 100)]
    assert body["finances"]["charts"]["burn_rate_trend"] == body["dashboard"]["charts"]["burn_vs_budget"]
    assert [p["value"] for p in body["dashboard"]["charts"]["upsell_potential_score"]] == [0.7]
    assert [(u["score"], u["suggested_discount_pct"], u["project_name"]) for u in body["offers"]["upsell"]] == [
        (0.8, 5, "Beta"), (0.6, 0, "Beta")]


def test_control_tower_members(api, clean) -> None:  # noqa: ANN001
    project = api.create_project("Proj P")
    empty = api.get("/control-tower").get_json()
    assert empty["integrations"] == {
        "sync_watermarks": [], "linear": {"issues_total": 0, "issues_open": 0, "issues_overdue": 0},
        "attio": {"accounts": 0, "annual_revenue": 0, "pipeline_amount": 0},
        "chatwoot": {"conversations": 0, "messages_7d": 0}}
    assert (empty["top_nba"], empty["evidence"], empty["risk"]["health"]) == ([], [], None)
    scope = seed.scope_of(project)
    _add(clean, *[SyncWatermark(project_id=scope.project_id, account_scope_id=scope.account_scope_id, source=src,
                                cursor_id="c", updated_at=seed.ago(minutes=m))
                  for src, m in (("chatwoot:1", 5), ("attio:ws", 1), ("kag:events", 0))])
    seed.insert(clean, "linear_issues_raw", project, [seed.issue(), seed.issue(due=seed.today() - timedelta(days=1)),
                                                      seed.issue(completed=True)])
    seed.insert(clean, "attio_accounts_raw", project, [
        {"id": f"attioacct:ws:{i}", "workspace_id": "ws", "external_id": str(i), "annual_revenue": 1000.5}
        for i in range(2)])
    seed.insert(clean, "attio_opportunities_raw", project, [seed.attio_opportunity("Lost", 7000),
                                                            seed.attio_opportunity("Proposal", 3000)])
    seed.insert(clean, "cw_conversations", project, [{"id": "cw:x:1:1", "account_id": 1, "conversation_id": 1}])
    seed.insert(clean, "cw_messages", project, [seed.message(created_at=seed.ago(days=d)) for d in (1, 2, 8)])
    seed.insert(clean, "next_best_actions", project, [seed.nba(priority=p) for p in (1, 2, 3, 4, 5, 5, 4, 3, 2, 1)])
    for i in range(14):
        api.post("/crm/accounts", {"name": f"Account {i}", "evidence_refs": [f"ext-{i}"]})
    tower = api.get("/control-tower").get_json()
    assert [w["source"] for w in tower["integrations"]["sync_watermarks"]] == ["attio:ws", "chatwoot:1"]
    assert tower["integrations"]["linear"] == {"issues_total": 3, "issues_open": 2, "issues_overdue": 1}
    assert tower["integrations"]["attio"] == {"accounts": 2, "annual_revenue": 2001, "pipeline_amount": 10000}
    assert tower["integrations"]["chatwoot"] == {"conversations": 1, "messages_7d": 2}
    assert [n["priority"] for n in tower["top_nba"]] == [5, 5, 4, 4, 3, 3, 2, 2]
    assert len(tower["evidence"]) == 12 and tower["evidence"][0]["source_pk"] == "ext-13"
    assert tower["project_id"] == project["id"] and set(tower["analytics"]) == {"revenue", "delivery", "comms"}


def test_portfolio_message_feed(api, clean) -> None:  # noqa: ANN001
    alpha, _, gamma = _g6(api, clean)
    seed.insert(clean, "cw_contacts", alpha, [seed.contact(1, name="Zoe"), seed.contact(2, email="amy@x.test"),
                                              seed.contact(3)])
    zoe, amy = "cwc:x:1:1", "cwc:x:1:2"
    seed.insert(clean, "cw_messages", alpha, [
        seed.message(created_at=seed.ago(minutes=30 - i), contact=amy, content=f"amy {i}") for i in range(25)] + [
        seed.message(created_at=seed.ago(minutes=1), contact=zoe, sender_type="agent", content="reply",
                     data={"sender": {"name": "Bob"}, "channel": "email",
                           "attachments": [{"id": 7, "file_name": "a.pdf", "data_url": "http://f"}, {"name": "x"}]}),
        seed.message(created_at=None, contact=zoe, content="")])
    body = api.get(f"/portfolio/messages?project_id={alpha['id']}&limit=5").get_json()
    assert [p["person_name"] for p in body["persons"]] == ["3", "amy@x.test", "Zoe"]
    assert body["selected_contact_global_id"] == "cwc:x:1:3" and body["messages"] == []
    body = api.get(f"/portfolio/messages?project_id={alpha['id']}&contact_global_id={amy}&limit=5").get_json()
    assert body["selected_contact_global_id"] == amy and len(body["messages"]) == 20
    assert body["messages"][-1]["content"] == "amy 24" and body["messages"][0]["content"] == "amy 5"
    assert body["messages"][0]["author_name"] == "amy@x.test" and body["messages"][0]["channel"] == "chatwoot"
    body = api.get(f"/portfolio/messages?project_id={alpha['id']}&contact_global_id={zoe}").get_json()
    reply, blank = body["messages"]
    assert (reply["author_name"], reply["sender_type"], reply["channel"]) == ("Bob", "agent", "email")
    assert reply["attachments"] == [{"id": "7", "name": "a.pdf", "url": "http://f", "content_type": "file"}]
    assert blank["created_at"] is None and blank["content"] == ""
    assert body["project"] == {"id": alpha["id"], "name": "Alpha", "account_scope_id": alpha["account_scope_id"]}
    for query, status, code in (("", 400, "project_id_required"), (f"project_id={gamma['id']}", 404,
                                                                  "project_not_found"),
                                ("project_id=nope", 404, "project_not_found")):
        resp = api.get(f"/portfolio/messages?{query}")
        assert (resp.status_code, resp.get_json()["error"]) == (status, code), query


def test_scope_routes_need_an_active_project(api) -> None:  # noqa: ANN001
    for path in ("/portfolio/overview", "/portfolio/messages?project_id=x"):
        resp = api.get(path)
        assert (resp.status_code, resp.get_json()["error"]) == (409, "account_scope_required")
    for path in ("/control-tower", "/crm/overview", "/risk/overview", "/analytics/overview", "/offers"):
        resp = api.get(path)
        assert (resp.status_code, resp.get_json()["error"]) == (409, "active_project_required")


def test_openapi_lists_the_business_routes(api) -> None:  # noqa: ANN001
    paths = api.get("/openapi.json").get_json()["paths"]
    for path in ("/crm/accounts", "/crm/opportunities/{opportunity_id}/stage", "/crm/overview", "/offers",
                 "/offers/{offer_id}/approve-discount", "/offers/{offer_id}/approve-send", "/digests/daily",
                 "/digests/daily/generate", "/digests/weekly", "/digests/weekly/generate", "/risk/refresh",
                 "/risk/overview", "/analytics/refresh", "/analytics/overview", "/analytics/drilldown",
                 "/control-tower", "/portfolio/overview", "/portfolio/messages"):
        assert path in paths, path
    assert "post" in paths["/crm/accounts"] and "get" in paths["/crm/accounts"]


def test_agreement_cards_match_keywords_case_insensitively(api) -> None:  # noqa: ANN001
    api.create_project("Proj P")
    api.post("/crm/accounts", {"name": "Acme", "evidence_refs": [
        {"ref": "doc-1", "snippet": "ДОГОВОР подписан"}, {"ref": "doc-2", "meta": {"note": "DeadLine moved"}},
        {"ref": "doc-3", "snippet": "nothing to see"}, {"ref": "doc-4", "snippet": "100%_off"},
        {"ref": "doc-5", "snippet": "We COMMIT to it"}]})
    body = api.get("/portfolio/overview?card_limit=4").get_json()
    cards = {c["source_pk"]: c["summary"] for c in body["agreements"]}
    assert cards == {"doc-1": "ДОГОВОР подписан", "doc-2": '{"note": "DeadLine moved"}', "doc-5": "We COMMIT to it"}
    [week] = body["dashboard"]["charts"]["agreements_created_vs_completed"]
    assert (week["created"], week["completed"]) == (3, 0)
