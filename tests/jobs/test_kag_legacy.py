"""Legacy signals and next best actions (kag.md §10): `POST /signals/extract` → `signals_extraction`
on the `intelligence` queue → `GET /signals`, `GET /nba`, status changes that a regeneration never undoes."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from shared.db.models.business import CrmAccount, CrmOpportunity
from shared.db.models.kag import LegacySignal, NextBestAction
from shared.db.models.platform import AuditEvent
from tests.conftest import Api
from tests.jobs.kag_v1_support import add_issue, add_message, count, scope_of, ts


def extract(api: Api, run_jobs) -> dict:
    resp = api.post("/signals/extract")
    assert resp.status_code == 202 and resp.get_json()["job"]["job_type"] == "signals_extraction"
    run_jobs("intelligence")
    job = api.get(resp.headers["Location"]).get_json()["job"]
    assert job["status"] == "ok", job
    return job["meta"]["result"]


def seed(runtime, scope) -> None:
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-16T09:00Z", conversation="cw:7:c1",
                content="We are blocked and the budget is tight. Urgent!")
    add_message(runtime, scope, global_id="cw:7:m2", created_at="2026-02-15T09:00Z", conversation="cw:7:c2",
                content="Thinking about an upgrade next month")
    add_message(runtime, scope, global_id="cw:7:m3", created_at="2026-01-20T09:00Z", content="old delay")
    add_message(runtime, scope, global_id="cw:7:m4", created_at="2026-02-16T10:00Z", content="blocked", private=True)
    for n in (1, 2):
        add_issue(runtime, scope, external_id=f"LIN-{n}", updated_at="2026-02-10T09:00Z", blocked=False,
                  due_date=date(2026, 2, 1))
    add_issue(runtime, scope, external_id="LIN-3", updated_at="2026-02-10T09:00Z", blocked=False,
              due_date=date(2026, 2, 1), completed_at="2026-02-09T09:00Z")
    with runtime.transaction() as s:
        account = CrmAccount(name="Northwind", **scope.as_filter())
        s.add(account)
        s.flush()
        for title, stage, step in (("Renewal", "qualified", "tbd"), ("Won one", "won", ""),
                                   ("Expansion", "proposal", "Send the revised proposal")):
            s.add(CrmOpportunity(account_id=account.id, title=title, stage=stage, next_step=step,
                                 updated_at=ts("2026-02-14T09:00Z"), **scope.as_filter()))


def test_extraction_builds_signals_and_nba_and_keeps_user_status(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed(runtime, scope)
    result = extract(api, run_jobs)
    assert result == {"generated_candidates": 6, "touched_signals": 6, "touched_nba": 6}

    listed = api.get("/signals").get_json()["signals"]
    got = [(s["signal_type"], s["severity"], s["confidence"]) for s in listed]
    assert sorted(got, key=lambda g: (-g[1], -g[2])) == got  # severity desc, confidence desc (ties: created_at)
    assert sorted(got) == sorted([
        ("delivery_risk", 4, 0.82), ("delivery_overdue", 4, 0.76), ("urgency_increase", 4, 0.76),
        ("commercial_pressure", 3, 0.74), ("deal_without_next_step", 3, 0.72), ("upsell_intent", 2, 0.70)])
    by_type = {s["signal_type"]: s for s in listed}
    assert by_type["delivery_overdue"]["summary"] == "Linear overdue issues: 2"
    assert by_type["delivery_overdue"]["evidence_refs"] == ["linissue:ws:LIN-1"]
    assert by_type["delivery_risk"]["evidence_refs"] == ["cw:7:m1", "cw:7:c1"]
    assert "Renewal" in by_type["deal_without_next_step"]["summary"]
    assert {s["status"] for s in listed} == {"proposed"}
    assert {s["signal_type"] for s in api.get("/signals", query_string={"severity_min": "4"}).get_json()["signals"]
            } == {"delivery_risk", "delivery_overdue", "urgency_increase"}

    items = api.get("/nba").get_json()["items"]
    assert [(n["action_type"], n["priority"]) for n in items][:2] == [("review_delivery_blockers", 5)] * 2
    assert sorted(n["action_type"] for n in items[2:]) == [
        "align_priority_and_timeline", "prepare_pricing_response", "prepare_upsell_offer", "triage_signal"]
    with runtime.session() as s:
        opp = s.scalar(select(LegacySignal).filter_by(signal_type="deal_without_next_step", **scope.as_filter()))
    assert opp.opportunity_id is not None and opp.account_id is not None

    signal_id, nba_id = by_type["delivery_risk"]["id"], items[0]["id"]
    assert api.post(f"/signals/{signal_id}/status", {"status": " Accepted "}).get_json()["signal"]["status"] == (
        "accepted")
    done = api.post(f"/nba/{nba_id}/status", {"status": "done"}).get_json()["item"]
    assert done["status"] == "done"

    again = extract(api, run_jobs)  # same inputs: nothing new, statuses kept
    assert again["touched_signals"] == 6
    assert count(runtime, LegacySignal, scope) == 6 and count(runtime, NextBestAction, scope) == 6
    assert {s["id"]: s["status"] for s in api.get("/signals").get_json()["signals"]}[signal_id] == "accepted"
    assert {n["id"]: n["status"] for n in api.get("/nba").get_json()["items"]}[nba_id] == "done"
    assert [n["id"] for n in api.get("/nba", query_string={"status": "done"}).get_json()["items"]] == [nba_id]
    with runtime.session() as s:
        actions = sorted(s.scalars(select(AuditEvent.action).filter_by(**scope.as_filter())
                                   .where(AuditEvent.action.like("%status_update"))))
    assert actions == ["nba.status_update", "signals.status_update"]


def test_same_status_twice(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    seed(runtime, scope)
    extract(api, run_jobs)
    signal = api.get("/signals").get_json()["signals"][0]
    first = api.post(f"/signals/{signal['id']}/status", {"status": "proposed"})
    assert first.status_code == 200 and first.get_json()["signal"] == signal  # untouched
    nba = api.get("/nba").get_json()["items"][0]
    again = api.post(f"/nba/{nba['id']}/status", {"status": nba["status"]}).get_json()["item"]
    assert again["status"] == nba["status"] and again["updated_at"] > nba["updated_at"]


def test_severity_and_confidence_only_grow(api: Api, runtime, run_jobs, frozen) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_issue(runtime, scope, external_id="LIN-1", updated_at="2026-02-10T09:00Z", blocked=False,
              due_date=date(2026, 2, 1))
    add_issue(runtime, scope, external_id="LIN-2", updated_at="2026-02-10T09:00Z", blocked=False,
              due_date=date(2026, 2, 1))
    extract(api, run_jobs)
    add_issue(runtime, scope, external_id="LIN-2", updated_at="2026-02-11T09:00Z", blocked=False,
              due_date=date(2026, 2, 1), completed_at="2026-02-11T09:00Z")
    extract(api, run_jobs)
    [signal] = api.get("/signals").get_json()["signals"]
    assert (signal["severity"], signal["confidence"], signal["summary"]) == (4, 0.76, "Linear overdue issues: 1")
