"""The Attio connector end to end over real HTTP against the emulator (connectors-rag §4, §16, §17)."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from shared.db.models.attio import AttioAccountRaw, AttioActivityRaw, AttioOpportunityRaw, AttioPersonRaw
from shared.db.models.platform import ConnectorSyncState, SyncWatermark
from shared.db.models.rag import RagChunk
from shared.errors import UpstreamClientError
from tests.emulators import EmulatorServer
from tests.emulators import attio as at
from tests.jobs.connector_support import (  # noqa: F401
    Sleeps,
    bind,
    count,
    emu,
    fresh,
    make_project,
    set_env,
    sleeps,
    sync,
)

TOKEN, WS = "at-token", "0b5e6a2c-1d2e-4f00-9a11-222233334444"


def workspace(now: datetime) -> dict[str, Any]:
    t0 = now - timedelta(days=90)
    companies = [at.record("companies", f"comp-{i}", workspace_id=WS, created_at=t0 + timedelta(days=i), values={
        "name": [at.text(f"Company {i}", t0)], "domains": [at.domain(f"company{i}.example", t0)],
        "stage": [at.status("Active", t0, workspace_id=WS)],
        "annual_revenue": [at.currency(1_000_000.0 * (i + 1), t0)]}) for i in range(3)]
    deals = []
    for i in range(4):
        start = t0 + timedelta(days=10 + i)
        path = [("Lead", start), ("Qualified", start + timedelta(days=5)), ("Proposal", start + timedelta(days=9))]
        deals.append(at.record("deals", f"deal-{i}", workspace_id=WS, created_at=start, values={
            "name": [at.text(f"Deal {i}", start)], "stage": at.stage_history(path[: 1 + i % 3], WS),
            "value": [at.currency(5000.0 + i, start)], "probability": [at.number(0.25, start)],
            "associated_company": [at.record_ref("companies", f"comp-{i % 3}", start)],
            "expected_close_date": [at.date("2025-12-31", start)]}))
    people = [at.record("people", f"person-{i}", workspace_id=WS, created_at=t0 + timedelta(days=20 + i), values={
        "name": [at.personal_name("Emily", f"Carter{i}", t0)], "email_addresses": [at.email(f"e{i}@x.example", t0)],
        "job_title": [at.text("CTO", t0)], "company": [at.record_ref("companies", f"comp-{i}", t0)]})
        for i in range(3)]
    notes = [at.note(f"note-{i}", workspace_id=WS, parent_object="companies", parent_record_id=f"comp-{i % 3}",
                     title=f"Call {i}", content=f"Discussed the renewal and the budget for phase {i} in detail.",
                     created_at=now - timedelta(hours=i), actor_id="member-1") for i in range(5)]
    return {"token": TOKEN, "workspace_id": WS, "objects": {"companies": companies, "deals": deals,
                                                             "people": people}, "notes": notes}


@pytest.fixture()
def at_env(emu: EmulatorServer, fresh, monkeypatch, sleeps: Sleeps):  # noqa: ANN001, ANN201
    emu.reset()
    now = datetime.now(UTC).replace(microsecond=0)
    emu.load({"attio": workspace(now)})
    set_env(monkeypatch, fresh, emu.env())
    scope = make_project(fresh, "Attio")
    ws = f"{WS}-{uuid.uuid4().hex[:8]}"  # the bound id (row ids embed it); the emulator's token decides the data
    bind(fresh, scope, "attio", ws)
    return {"rt": fresh, "emu": emu, "scope": scope, "now": now, "monkeypatch": monkeypatch, "sleeps": sleeps,
            "ws": ws}


def counts(rt: Any, scope: Any) -> dict[str, int]:
    return {m.__tablename__: count(rt, m, scope) for m in (AttioAccountRaw, AttioOpportunityRaw, AttioPersonRaw,
                                                           AttioActivityRaw, RagChunk)}


def test_first_sync_maps_typed_values_and_a_resync_touches_nothing(at_env) -> None:
    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    first = sync("attio", scope)
    assert counts(rt, scope) == {"attio_accounts_raw": 3, "attio_opportunities_raw": 4, "attio_people_raw": 3,
                                 "attio_activities_raw": 5, "rag_chunks": 5}
    assert (first["touched_accounts"], first["touched_opportunities"], first["touched_people"],
            first["touched_activities"], first["inserted_chunks"]) == (3, 4, 3, 5, 5)
    with rt.session() as s:
        deal = s.scalar(select(AttioOpportunityRaw).filter_by(external_id="deal-2", **scope.as_filter()))
        company = s.scalar(select(AttioAccountRaw).filter_by(external_id="comp-1", **scope.as_filter()))
    assert deal.stage == "Proposal" and deal.amount == Decimal("5002.00") and deal.account_external_id == "comp-2"
    assert [e["status"]["title"] for e in deal.data["values"]["stage"]] == ["Lead", "Qualified", "Proposal"]
    assert deal.id == f"attiodeal:{at_env['ws']}:deal-2" and str(deal.expected_close_date) == "2025-12-31"
    assert company.domain == "company1.example" and company.annual_revenue == Decimal("2000000.00")
    bodies = [r["json"] for r in emu.requests("attio") if r["path"].endswith("/records/query")]
    assert bodies[0] == {"limit": 100, "offset": 0, "sorts": [{"attribute": "created_at", "direction": "asc"}]}
    assert all(r["headers"]["authorization"] == f"Bearer {TOKEN}" for r in emu.requests("attio"))
    second = sync("attio", scope)
    assert counts(rt, scope)["attio_activities_raw"] == 5
    assert {k: v for k, v in second.items() if k.startswith("touched_") or k.endswith("_chunks")} == {
        "touched_accounts": 0, "touched_opportunities": 0, "touched_people": 0, "touched_activities": 0,
        "inserted_chunks": 0, "reembedded_chunks": 0, "deleted_chunks": 0}
    if first.get("crm_mirror"):
        assert first["crm_mirror"]["accounts"] == 3 and second["crm_mirror"] == {
            "accounts": 0, "opportunities": 0, "skipped": 0, "skipped_deals": 0}


def test_vendor_changes_touch_exactly_the_changed_records(at_env) -> None:
    rt, emu, scope, now = at_env["rt"], at_env["emu"], at_env["scope"], at_env["now"]
    sync("attio", scope)
    emu.mutate_many([
        {"vendor": "attio", "op": "update_record", "object": "deals", "record_id": "deal-0",
         "values": {"stage": at.status("Won 🎉", now, workspace_id=WS)}},
        {"vendor": "attio", "op": "update_record", "object": "companies", "record_id": "comp-2",
         "values": {"name": "Company Two Renamed"}},
        {"vendor": "attio", "op": "update_note", "note_id": "note-1",
         "set": {"content_plaintext": "The client approved the budget; the renewal is signed."}},
        {"vendor": "attio", "op": "delete_note", "note_id": "note-4"},
    ])
    result = sync("attio", scope)
    assert (result["touched_accounts"], result["touched_opportunities"], result["touched_people"],
            result["touched_activities"], result["reembedded_chunks"]) == (1, 1, 0, 1, 1)
    with rt.session() as s:
        deal = s.scalar(select(AttioOpportunityRaw).filter_by(external_id="deal-0", **scope.as_filter()))
    history = deal.data["values"]["stage"]
    assert deal.stage == "Won 🎉" and [e["status"]["title"] for e in history] == ["Lead", "Won 🎉"]
    assert history[0]["active_until"] is not None and history[1]["active_until"] is None
    assert count(rt, AttioActivityRaw, scope) == 5  # a note deleted upstream is kept (no hard deletes)


def test_rolling_scan_covers_the_workspace_over_runs_and_drops_duplicates(at_env) -> None:
    rt, emu, scope, now = at_env["rt"], at_env["emu"], at_env["scope"], at_env["now"]
    data = workspace(now)
    companies = data["objects"]["companies"]
    companies.append({**companies[0], "created_at": companies[2]["created_at"]})  # listed twice, on two pages
    emu.load({"attio": data})
    set_env(at_env["monkeypatch"], rt, {"ATTIO_SYNC_LIMIT": "2", "ATTIO_PAGE_SIZE": "1"})
    first = sync("attio", scope)
    assert first["offsets"]["companies"] == 2 and first["cycles_completed"] == {}
    assert sync("attio", scope)["offsets"]["companies"] == 4
    third = sync("attio", scope)  # the short (empty) page at offset 4 ends the cycle
    assert third["offsets"]["companies"] == 0 and third["cycles_completed"]["companies"] == 1
    assert count(rt, AttioAccountRaw, scope) == 3
    offsets = [r["json"]["offset"] for r in emu.requests("attio") if r["path"].endswith("companies/records/query")]
    assert offsets == [0, 1, 2, 3, 4]
    with rt.session() as s:
        mark = s.scalar(select(SyncWatermark).filter_by(source=f"attio:{at_env['ws']}", **scope.as_filter()))
    assert mark.meta["offsets"]["companies"] == 0 and mark.meta["cycles_completed"]["companies"] == 1


def test_429_with_an_http_date_retry_after_is_waited(at_env) -> None:
    emu, scope, sleeps = at_env["emu"], at_env["scope"], at_env["sleeps"]
    emu.fault("attio", kind="rate_limit", path_regex="deals/records/query", retry_after=2)
    sync("attio", scope)
    assert len(sleeps.waits) == 1 and 0.5 <= sleeps.waits[0] <= 2.0  # an HTTP-date has whole seconds
    statuses = [r["status"] for r in emu.requests("attio") if "deals" in r["path"]]
    assert statuses == [429, 200]


@pytest.mark.parametrize("step", ["people", "notes"])
def test_optional_steps_that_fail_end_the_run_partial(at_env, step: str) -> None:
    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    path = "people/records/query" if step == "people" else "/v2/notes"
    emu.fault("attio", path_regex=path, status=403, times=-1)
    result = sync("attio", scope)
    assert result["warnings"] and result["warnings"][0].startswith(f"{step}: ")
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
    assert state.status == "partial" and count(rt, AttioOpportunityRaw, scope) == 4


def test_mandatory_object_auth_failure_is_permanent_after_one_request(at_env) -> None:
    emu, scope = at_env["emu"], at_env["scope"]
    emu.fault("attio", path_regex="companies/records/query", status=401)
    with pytest.raises(UpstreamClientError) as info:
        sync("attio", scope)
    assert info.value.error_kind == "auth_failed" and len(emu.requests("attio")) == 1


def test_unbound_project_is_skipped_with_the_workspace_discovered_from_self(at_env) -> None:
    from shared.errors import JobSkipped

    rt, emu = at_env["rt"], at_env["emu"]
    set_env(at_env["monkeypatch"], rt, {}, drop=("ATTIO_WORKSPACE_ID",))
    other = make_project(rt, "Unbound")
    with pytest.raises(JobSkipped) as info:
        sync("attio", other)
    assert info.value.reason == "source_not_bound" and info.value.details["discovered_external_id"] == WS
    assert [r["path"] for r in emu.requests("attio")] == ["/attio/v2/self"]
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**other.as_filter()))
    assert state.status == "skipped" and state.meta["discovered_external_id"] == WS


# --- deletions upstream (§16: raw rows are kept and marked) ----------------------------------------------
def sync_until_cycle(scope: Any, cycle: int, *objects: str) -> list[dict[str, Any]]:
    """Runs until each of ``objects`` completed ``cycle`` scan cycles (bounded; no waiting involved)."""
    results: list[dict[str, Any]] = []
    for _ in range(10):
        results.append(sync("attio", scope))
        if all(results[-1]["cycles_completed"].get(o, 0) >= cycle for o in objects):
            return results
    raise AssertionError(f"cycle {cycle} not completed: {results[-1]['cycles_completed']}")


def marks(rt: Any, model: Any, scope: Any) -> dict[str, Any]:
    """external_id -> deleted_at of a scope's rows."""
    with rt.session() as s:
        stmt = select(model.external_id, model.deleted_at).filter_by(**scope.as_filter())
        return dict(s.execute(stmt).tuples().all())


def total(results: list[dict[str, Any]], key: str) -> int:
    return sum(r.get(key, 0) for r in results)


def record_gets(emu: EmulatorServer) -> list[str]:
    return sorted(r["path"].rsplit("/v2/", 1)[1] for r in emu.requests("attio")
                  if r["method"] == "GET" and ("/records/" in r["path"] or "/notes/" in r["path"]))


def small_windows(at_env: dict[str, Any], limit: int) -> None:
    """``limit`` records per object and run, pages of 2: a cycle spans several runs (rolling scan)."""
    set_env(at_env["monkeypatch"], at_env["rt"], {"ATTIO_SYNC_LIMIT": str(limit), "ATTIO_PAGE_SIZE": "2"})


def test_records_deleted_upstream_are_marked_once_and_unmarked_when_back(at_env) -> None:
    from shared.db.models.business import CrmOpportunity

    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    other = make_project(rt, "Attio other")
    bind(rt, other, "attio", f"{WS}-other")
    sync("attio", other)  # the same vendor data under another project and workspace id
    small_windows(at_env, 3)  # three records per run: a cycle takes two runs
    sync_until_cycle(scope, 1, "companies", "deals")
    with rt.session() as s:
        crm_deal_3 = s.scalar(select(CrmOpportunity.updated_at).filter_by(external_ref="deal-3", **scope.as_filter()))
    emu.mutate_many([{"vendor": "attio", "op": "delete_record", "object": "companies", "record_id": "comp-1"},
                     {"vendor": "attio", "op": "delete_record", "object": "deals", "record_id": "deal-3"}])
    emu.clear_requests()
    cycle_2 = sync_until_cycle(scope, 2, "companies", "deals")
    assert [total(cycle_2, k) for k in ("deleted_companies", "deleted_deals", "deleted")] == [1, 1, 2]
    assert total(cycle_2, "deleted_people") == 0 and "deleted_people" not in cycle_2[-1]
    assert record_gets(emu) == ["objects/companies/records/comp-1", "objects/deals/records/deal-3"]
    companies, deals = marks(rt, AttioAccountRaw, scope), marks(rt, AttioOpportunityRaw, scope)
    assert {k for k, v in companies.items() if v} == {"comp-1"} and {k for k, v in deals.items() if v} == {"deal-3"}
    assert len(companies) == 3 and len(deals) == 4  # kept, not deleted
    assert not any(marks(rt, AttioPersonRaw, scope).values()) and not any(marks(rt, AttioActivityRaw, scope).values())
    for model in (AttioAccountRaw, AttioOpportunityRaw):  # another project's rows are untouched
        assert len(marks(rt, model, other)) in (3, 4) and not any(marks(rt, model, other).values())
    with rt.session() as s:  # the CRM row mirrored before is left alone; deal-1 (of comp-1) is not mirrored any more
        assert s.scalar(select(CrmOpportunity.updated_at).filter_by(external_ref="deal-3",
                                                                    **scope.as_filter())) == crm_deal_3
    assert total(cycle_2, "crm_mirror_skipped_deleted") >= 1

    emu.clear_requests()
    cycle_3 = sync_until_cycle(scope, 3, "companies", "deals")
    assert total(cycle_3, "deleted") == 0 and record_gets(emu) == []  # marked rows are not asked for again
    assert marks(rt, AttioAccountRaw, scope) == companies and marks(rt, AttioOpportunityRaw, scope) == deals
    assert {k for r in cycle_3 for k, v in r.items() if k.startswith(("touched_", "added_", "updated_")) and v} == set()

    emu.mutate("attio", "add_record", object="companies", record=workspace(at_env["now"])["objects"]["companies"][1])
    cycle_4 = sync_until_cycle(scope, 4, "companies", "deals")
    assert total(cycle_4, "restored_companies") == 1 and total(cycle_4, "deleted") == 0
    assert marks(rt, AttioAccountRaw, scope)["comp-1"] is None and marks(rt, AttioOpportunityRaw, scope)["deal-3"]


def test_a_record_skipped_by_an_offset_shift_is_not_marked(at_env) -> None:
    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    small_windows(at_env, 2)
    sync_until_cycle(scope, 1, "companies")
    assert sync("attio", scope)["offsets"]["companies"] == 2  # cycle 2 read comp-0 and comp-1
    emu.mutate("attio", "delete_record", object="companies", record_id="comp-0")  # comp-2 moves to offset 1
    emu.clear_requests()
    end_of_2 = sync("attio", scope)  # offset 2 is past the end now: comp-2 was never returned in cycle 2
    assert end_of_2["cycles_completed"]["companies"] == 2 and end_of_2["deleted"] == 0
    assert record_gets(emu) == ["objects/companies/records/comp-2"]  # asked for: still there, so not marked
    assert not any(marks(rt, AttioAccountRaw, scope).values())
    cycle_3 = sync_until_cycle(scope, 3, "companies")
    assert total(cycle_3, "deleted_companies") == 1
    assert {k for k, v in marks(rt, AttioAccountRaw, scope).items() if v} == {"comp-0"}


def test_a_malformed_last_page_marks_nothing(at_env) -> None:
    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    sync("attio", scope)
    emu.fault("attio", path_regex="companies/records/query", status=200, body={"unexpected": True})
    result = sync("attio", scope)  # the page without a list ends the cycle (§16) but proves no absence
    assert result["shape_warnings"] == 1 and result["cycles_completed"]["companies"] == 2
    assert result["deleted"] == 0 and not any(marks(rt, AttioAccountRaw, scope).values())
    assert not [r for r in emu.requests("attio") if r["method"] == "GET" and "/records/" in r["path"]]


def test_a_note_deleted_upstream_is_marked_and_loses_its_chunks(at_env) -> None:
    rt, emu, scope = at_env["rt"], at_env["emu"], at_env["scope"]
    sync("attio", scope)
    note_4 = f"attioact:{at_env['ws']}:note-4"
    assert count(rt, RagChunk, scope, source_pk=note_4) == 1
    emu.mutate("attio", "delete_note", note_id="note-4")
    result = sync("attio", scope)  # five notes fit one run: each run reads the notes whole
    assert (result["deleted_notes"], result["deleted"], result["deleted_chunks"]) == (1, 1, 1)
    assert {k for k, v in marks(rt, AttioActivityRaw, scope).items() if v} == {"note-4"}
    assert count(rt, RagChunk, scope, source_pk=note_4) == 0 and count(rt, AttioActivityRaw, scope) == 5
    assert sync("attio", scope)["deleted"] == 0
