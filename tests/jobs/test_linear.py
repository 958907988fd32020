"""The Linear connector end to end over real HTTP against the emulator (connectors-rag §5, §16, §17)."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select

from shared.db.models.linear import LinearCycleRaw, LinearIssueRaw, LinearProjectRaw, LinearStateRaw
from shared.db.models.platform import ConnectorSyncState, ProjectSource, SyncWatermark
from shared.db.models.rag import RagChunk
from shared.db.service import linear as linear_store
from shared.errors import JobSkipped, UpstreamClientError
from tests.emulators import EmulatorServer
from tests.emulators import linear as li
from tests.emulators.state import iso_ms
from tests.jobs.connector_support import (  # noqa: F401
    Sleeps,
    bind,
    count,
    emu,
    fresh,
    make_project,
    rows,
    set_env,
    sleeps,
    sync,
)

TOKEN, ORG = "lin_api_test", "org-7f3a"


def organization_data(now: datetime, issues: int = 7) -> dict[str, Any]:
    t = iso_ms(now - timedelta(days=30))
    states = {k: li.workflow_state(f"st-{k}", name, k, pos, "team-1", t) for k, name, pos in (
        ("unstarted", "Todo", 1.0), ("started", "In Progress", 2.0), ("completed", "Done", 3.0))}
    nodes = []
    for i in range(issues):
        state = states[("unstarted", "started", "completed")[i % 3]]
        nodes.append(li.issue(f"iss-{i}", f"DEL-{i}", f"Issue number {i}", team_id="team-1", state=state,
                              created_at=iso_ms(now - timedelta(days=20)),
                              updated_at=iso_ms(now - timedelta(days=10) + timedelta(minutes=i)),
                              description=f"Details of issue {i}: reproduce, fix, release.",
                              project={"id": "proj-1"}, labels={"nodes": [{"id": "lab-1", "name": "Bug"}]}))
    nodes[4]["inverseRelations"] = {"nodes": [{"type": "blocks", "issue": {"id": "iss-1"}},   # open blocker
                                              {"type": "blocks", "issue": {"id": "iss-2"}}]}  # done blocker
    nodes[5]["archivedAt"] = iso_ms(now - timedelta(days=5))
    return {"token": TOKEN, "organization": li.organization(ORG, "Pinewood", "pinewood"),
            "projects": [{"id": "proj-1", "name": "Portal", "status": {"name": "Started", "type": "started"},
                          "lead": {"name": "Ivan"}, "createdAt": t, "updatedAt": t},
                         {"id": "proj-2", "name": "App", "createdAt": t, "updatedAt": t}],
            "workflowStates": list(states.values()),
            "cycles": [{"id": "cy-1", "number": 3, "name": None, "startsAt": t, "endsAt": t, "completedAt": None,
                        "progress": 0.5, "createdAt": t, "updatedAt": t, "team": {"id": "team-1"}}],
            "issues": nodes}


@pytest.fixture()
def li_env(emu: EmulatorServer, fresh, monkeypatch, sleeps: Sleeps):  # noqa: ANN001, ANN201
    emu.reset()
    now = datetime.now(UTC).replace(microsecond=0)
    emu.load({"linear": organization_data(now)})
    set_env(monkeypatch, fresh, emu.env())
    scope = make_project(fresh, "Linear")
    org = f"{ORG}-{uuid.uuid4().hex[:8]}"  # the bound id (row ids embed it); the emulator's token decides the data
    bind(fresh, scope, "linear", org)
    return {"rt": fresh, "emu": emu, "scope": scope, "now": now, "monkeypatch": monkeypatch, "sleeps": sleeps,
            "org": org}


def issue_requests(emu: EmulatorServer) -> list[dict[str, Any]]:
    return [r for r in emu.requests("linear") if r["operationName"] == "SyncIssues"]


def issue(rt: Any, scope: Any, external_id: str) -> LinearIssueRaw:
    with rt.session() as s:
        row = s.scalar(select(LinearIssueRaw).filter_by(external_id=external_id, **scope.as_filter()))
        s.expunge(row)
        return row


def test_first_sync_then_an_incremental_resync_that_touches_nothing(li_env) -> None:
    rt, emu, scope = li_env["rt"], li_env["emu"], li_env["scope"]
    first = sync("linear", scope)
    assert {m.__tablename__: count(rt, m, scope) for m in (LinearProjectRaw, LinearStateRaw, LinearCycleRaw,
                                                           LinearIssueRaw)} == {
        "linear_projects_raw": 2, "linear_states_raw": 3, "linear_cycles_raw": 1, "linear_issues_raw": 7}
    assert (first["touched_projects"], first["touched_issues"], first["inserted_chunks"]) == (2, 7, 6)
    blocked, archived = issue(rt, scope, "iss-4"), issue(rt, scope, "iss-5")
    assert blocked.blocked is True and blocked.blocked_by_count == 1
    assert [b["blocker"] for b in blocked.data["blocks"]] == ["iss-1", "iss-2"]
    assert archived.archived_at is not None and count(rt, RagChunk, scope, source_pk=archived.id) == 0
    with rt.session() as s:
        text = s.scalar(select(RagChunk.text).filter_by(source_pk=issue(rt, scope, "iss-0").id))
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
    assert text == "DEL-0 Issue number 0 Details of issue 0: reproduce, fix, release."
    assert state.cursor_ts == issue(rt, scope, "iss-6").vendor_updated_at and state.page_cursor is None
    first_vars = issue_requests(emu)[0]["json"]["variables"]
    assert first_vars == {"first": 50, "after": None, "filter": None}
    assert emu.requests("linear")[0]["headers"]["authorization"] == TOKEN

    emu.clear_requests()
    second = sync("linear", scope)
    assert {k: v for k, v in second.items() if k.startswith("touched_") or k.endswith("_chunks")} == {
        "touched_projects": 0, "touched_states": 0, "touched_cycles": 0, "touched_issues": 0,
        "inserted_chunks": 0, "reembedded_chunks": 0, "deleted_chunks": 0}
    since = (state.cursor_ts - timedelta(seconds=120)).isoformat()
    assert issue_requests(emu)[0]["json"]["variables"]["filter"] == {"updatedAt": {"gt": since}}


def test_changed_and_archived_issues_change_exactly_those_rows(li_env) -> None:
    rt, emu, scope = li_env["rt"], li_env["emu"], li_env["scope"]
    sync("linear", scope)
    emu.mutate_many([
        {"vendor": "linear", "op": "update", "id": "iss-0", "set": {"title": "Issue zero, renamed"}},
        {"vendor": "linear", "op": "update", "id": "iss-3", "set": {"priority": 1}},
        {"vendor": "linear", "op": "archive", "id": "iss-6"},
    ])
    result = sync("linear", scope)
    assert result["touched_issues"] == 3 and result["archived_issues"] == 1
    assert (result["reembedded_chunks"], result["deleted_chunks"]) == (1, 1)
    assert issue(rt, scope, "iss-6").archived_at is not None
    assert count(rt, RagChunk, scope, source_pk=issue(rt, scope, "iss-6").id) == 0
    emu.mutate("linear", "unarchive", id="iss-6")
    assert sync("linear", scope)["inserted_chunks"] == 1


def test_completing_a_blocker_unblocks_without_refetching_the_blocked_issue(li_env) -> None:
    rt, emu, scope = li_env["rt"], li_env["emu"], li_env["scope"]
    sync("linear", scope)
    emu.mutate("linear", "update", id="iss-1", set={"state": {"id": "st-completed"}})
    emu.clear_requests()
    result = sync("linear", scope)
    fetched = [n for r in issue_requests(emu) for n in [r]]
    assert fetched and result["touched_issues"] == 1 and result["blocked_recomputed"] == 1
    blocked = issue(rt, scope, "iss-4")
    assert (blocked.blocked, blocked.blocked_by_count) == (False, 0)


def test_ratelimited_as_http_400_is_retried_after_the_reset(li_env) -> None:
    emu, scope, sleeps = li_env["emu"], li_env["emu"] and li_env["scope"], li_env["sleeps"]
    emu.fault("linear", kind="rate_limit", operation="SyncIssues", retry_after=2)
    result = sync("linear", scope)
    assert result["touched_issues"] == 7
    assert [r["status"] for r in issue_requests(emu)] == [400, 200]
    assert len(sleeps.waits) == 1 and 1.0 <= sleeps.waits[0] <= 2.0


def test_other_graphql_errors_and_auth_errors_are_permanent(li_env) -> None:
    emu, scope = li_env["emu"], li_env["scope"]
    emu.fault("linear", operation="SyncProjects", status=200,
              body={"data": None, "errors": [{"message": "bad", "extensions": {"code": "INVALID_INPUT"}}]})
    with pytest.raises(UpstreamClientError) as info:
        sync("linear", scope)
    assert info.value.error_kind == "graphql_error"
    emu.fault("linear", operation="SyncProjects", status=401)
    with pytest.raises(UpstreamClientError) as info:
        sync("linear", scope)
    assert info.value.error_kind == "auth_failed"


def neutral(rt: Any, scope: Any) -> list[tuple[Any, ...]]:
    out = rows(rt, LinearIssueRaw, scope, "external_id", "title", "state_type", "blocked", "blocked_by_count",
               "archived_at", "data", order="external_id")
    return [tuple(out_row) for out_row in out]


def test_a_truncated_scan_resumes_from_the_page_cursor(li_env) -> None:
    rt, emu, scope = li_env["rt"], li_env["emu"], li_env["scope"]
    set_env(li_env["monkeypatch"], rt, {"LINEAR_SYNC_LIMIT": "3", "LINEAR_PAGE_SIZE": "2"})
    first = sync("linear", scope)
    assert first["issues_read"] == 3 and "issues" in first["truncated_entities"]
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
        mark = s.scalar(select(SyncWatermark).filter_by(source=f"linear:{li_env['org']}", **scope.as_filter()))
    assert state.page_cursor and mark.meta["issues_scan"]["after"] == state.page_cursor
    assert state.cursor_ts is None and count(rt, LinearIssueRaw, scope) == 3
    emu.clear_requests()
    second = sync("linear", scope)
    assert issue_requests(emu)[0]["json"]["variables"]["after"] == state.page_cursor
    assert second["issues_read"] == 3
    third = sync("linear", scope)
    assert third["issues_read"] == 1 and third["page_cursor"] is None and count(rt, LinearIssueRaw, scope) == 7
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
    assert state.page_cursor is None and state.cursor_ts == issue(rt, scope, "iss-6").vendor_updated_at


def test_a_crash_mid_scan_resumes_and_ends_with_the_rows_of_an_uninterrupted_run(li_env) -> None:
    rt, emu, scope = li_env["rt"], li_env["emu"], li_env["scope"]
    set_env(li_env["monkeypatch"], rt, {"LINEAR_PAGE_SIZE": "2"})
    sync("linear", scope)
    reference = neutral(rt, scope)
    crashed = make_project(rt, "Crashed")
    with rt.transaction() as s:
        s.execute(delete(ProjectSource).filter_by(**scope.as_filter()))
    bind(rt, crashed, "linear", li_env["org"] + "-b")  # §0.2 ids hold the workspace, not the project
    real, calls = linear_store.upsert_issues, {"n": 0}

    def crashing(**kw: Any) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker crashed")
        return real(**kw)

    li_env["monkeypatch"].setattr(linear_store, "upsert_issues", crashing)
    with pytest.raises(RuntimeError):
        sync("linear", crashed)
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**crashed.as_filter()))
    assert state.status == "failed" and state.page_cursor and count(rt, LinearIssueRaw, crashed) == 4
    li_env["monkeypatch"].setattr(linear_store, "upsert_issues", real)
    emu.clear_requests()
    sync("linear", crashed)
    assert issue_requests(emu)[0]["json"]["variables"]["after"] == state.page_cursor
    assert neutral(rt, crashed) == reference


def test_unbound_project_discovers_the_organization(li_env) -> None:
    rt, emu = li_env["rt"], li_env["emu"]
    set_env(li_env["monkeypatch"], rt, {}, drop=("LINEAR_WORKSPACE_ID",))
    with pytest.raises(JobSkipped) as info:
        sync("linear", make_project(rt, "Unbound"))
    assert info.value.details["discovered_external_id"] == ORG
    assert [r["operationName"] for r in emu.requests("linear")] == ["SyncOrganization"]
