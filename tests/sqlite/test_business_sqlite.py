"""Business core on the embedded SQLite default: CRM, offer approvals, jobs and the portfolio SQL."""

from __future__ import annotations

from datetime import timedelta

from tests import business_seed as seed
from tests.conftest import Api


def test_crm_offers_and_risk_on_sqlite(api: Api, runtime, run_jobs) -> None:  # noqa: ANN001
    assert runtime.settings.is_sqlite
    project = api.create_project("Embedded")
    account = api.post("/crm/accounts", {"name": "Acme"}).get_json()["account"]
    assert api.post("/crm/accounts", {"name": "Acme"}).get_json()["error"] == "account_name_conflict"
    opp = api.post("/crm/opportunities", {"title": "Deal", "account_id": account["id"], "next_step": "Call them",
                                          "amount_estimate": 1000, "probability": 0.5}).get_json()["opportunity"]
    moved = api.post(f"/crm/opportunities/{opp['id']}/stage", {"stage": "Won"}).get_json()
    assert moved["opportunity"]["stage"] == "won"
    offer = api.post("/offers", {"title": "Quote", "subtotal": 12000, "discount_pct": 10}).get_json()["offer"]
    assert api.post(f"/offers/{offer['id']}/approve-send").get_json()["error"] == "discount_approval_required"
    assert api.post(f"/offers/{offer['id']}/approve-discount").get_json()["offer"]["status"] == "approved"
    assert api.post(f"/offers/{offer['id']}/approve-send").get_json()["offer"]["status"] == "sent"
    assert api.post(f"/offers/{offer['id']}/approve-send").get_json()["error"] == "offer_invalid_state"
    seed.insert(runtime, "signals", project, [seed.signal(5, 0.9) for _ in range(60)])
    seed.insert(runtime, "linear_issues_raw", project, [seed.issue(due=seed.today() - timedelta(days=2))
                                                        for _ in range(7)])
    for path in ("/risk/refresh", "/analytics/refresh", "/digests/daily/generate", "/digests/weekly/generate"):
        assert api.post(path).status_code == 202
    run_jobs("intelligence")
    api.post("/risk/refresh")
    run_jobs("intelligence")
    risk = api.get("/risk/overview").get_json()
    assert risk["health"]["score"] == 59.0 and len(risk["risks"]) == 1 and len(risk["patterns"]) == 1
    assert api.get("/digests/daily").get_json()["digests"][0]["summary"]["highlights"]["overdue_issues"] == 7
    assert api.get("/analytics/overview").get_json()["delivery"]["overdue_issues"] == 7


def test_portfolio_and_control_tower_on_sqlite(api: Api, runtime) -> None:  # noqa: ANN001
    other = api.create_project("Other", scope_key="acme", select=False)
    project = api.create_project("Embedded", scope_key="acme")
    seed.insert(runtime, "cw_messages", project, [seed.message(created_at=seed.ago(hours=h), content=c)
                                                  for h, c in ((1, "Договор signed"), (2, " \n "), (3, "hi"))])
    seed.insert(runtime, "cw_contacts", project, [seed.contact(1, name="Zoe", email="Z@x.test"),
                                                  seed.contact(2, email="z@x.test")])
    seed.insert(runtime, "linear_issues_raw", project, [seed.issue(completed=True),
                                                        seed.issue(due=seed.today() - timedelta(days=3))])
    api.post("/crm/accounts", {"name": "Acme", "evidence_refs": [{"ref": "doc", "snippet": "ДОГОВОР on terms"}]})
    body = api.get(f"/portfolio/overview?project_ids={project['id']},{other['id']}").get_json()
    assert body["dashboard"]["totals"]["messages_7d"] == 3 and len(body["messages"]) == 2
    assert [a["source_pk"] for a in body["agreements"]] == ["doc"]
    assert body["loops"] == {"contacts_with_email": 2, "unique_emails": 1}
    assert body["dashboard"]["charts"]["velocity_completed_issues"][0]["value"] == 1
    assert body["dashboard"]["charts"]["blockers_count"][0]["value"] == 1
    tower = api.get("/control-tower").get_json()
    assert tower["integrations"]["chatwoot"]["messages_7d"] == 3
    feed = api.get(f"/portfolio/messages?project_id={project['id']}").get_json()
    assert [p["person_name"] for p in feed["persons"]] == ["z@x.test", "Zoe"]


from tests.db.test_health_score_days import test_roll_up_follows_every_write as test_health_roll_up_on_sqlite  # noqa: E402, F401
