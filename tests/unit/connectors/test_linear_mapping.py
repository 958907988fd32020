"""Linear node mapping and blocker counting (connectors-rag §5.4, §5.6), without HTTP or a database."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from jobs.connectors.linear import (
    Issues,
    issue_chunk_text,
    to_cycle_row,
    to_issue_row,
    to_project_row,
    to_state_row,
)
from shared.db.service.linear import blocked_count
from tests.emulators import linear as li

WS = "org-1"
TODO = li.workflow_state("st-1", "Todo", "unstarted", 1.0, "team-1", "2025-05-01T10:00:00.000Z")


def issue(**fields: object) -> dict:
    node = li.issue("iss-1", "DEL-1", "Fix login", team_id="team-1", state=TODO, created_at="2025-05-01T10:00:00.000Z",
                    updated_at="2025-05-02T11:00:00.123Z")
    return {**node, **fields}


def test_issue_row() -> None:
    node = issue(description="Steps:\n1. open", priority=2, dueDate="2025-06-01",
                 cycle={"id": "cy-1", "number": 7, "name": None}, project={"id": "pr-1"},
                 assignee={"name": "Maria"}, labels={"nodes": [{"id": "l1", "name": "Bug"}, {"id": "l2", "name": ""},
                                                               {"id": "l3", "name": None}]})
    node["inverseRelations"] = {"nodes": [
        {"type": "blocks", "issue": {"id": "iss-9", "state": {"type": "started"}}},
        {"type": "blocks", "issue": {"id": "iss-8", "state": {"type": "completed"}}},
        {"type": "related", "issue": {"id": "iss-7", "state": {"type": "started"}}}]}
    row = to_issue_row(node, workspace_id=WS)
    assert row["id"] == "linissue:org-1:iss-1" and row["identifier"] == "DEL-1" and row["title"] == "Fix login"
    assert (row["state"], row["state_type"], row["state_external_id"]) == ("Todo", "unstarted", "st-1")
    assert row["cycle_name"] == "Cycle 7" and row["linear_project_external_id"] == "pr-1"
    assert row["labels"] == ["Bug", "l2", "l3"] and row["priority"] == 2 and row["due_date"] == date(2025, 6, 1)
    assert row["blocked_by_count"] == 1 and row["blocked"] is True
    assert [b["blocker"] for b in row["data"]["blocks"]] == ["iss-9", "iss-8"]
    assert row["vendor_updated_at"] == datetime(2025, 5, 2, 11, 0, 0, 123000, tzinfo=UTC) == row["updated_at"]
    assert issue_chunk_text(row) == "DEL-1 Fix login\n\nSteps:\n1. open"


def test_archived_issue_has_no_chunk_text_and_empty_title_gets_a_default() -> None:
    row = to_issue_row(issue(archivedAt="2025-05-03T00:00:00Z", title=" "), workspace_id=WS)
    assert row["archived_at"] is not None and issue_chunk_text(row) is None and row["title"] == "Issue iss-1"
    assert to_issue_row({"id": ""}, workspace_id=WS) is None


def test_blocked_count_prefers_the_stored_blocker_state() -> None:
    blocks = [{"blocker": "a", "blocker_state_type": "started"}, {"blocker": "b", "blocker_state_type": "started"}]
    assert blocked_count(blocks, {}) == 2
    assert blocked_count(blocks, {"a": "completed", "b": "canceled"}) == 0
    assert blocked_count(None, {}) == 0


def test_projects_states_cycles() -> None:
    p = to_project_row({"id": "pr-1", "name": "", "status": {"name": "Started"}, "lead": {"name": "Ivan"},
                        "updatedAt": "2025-05-01T00:00:00Z"}, workspace_id=WS)
    assert (p["name"], p["state"], p["lead_name"]) == ("Project pr-1", "Started", "Ivan")
    assert to_project_row({"id": "pr-2", "name": "Old", "state": "paused"}, workspace_id=WS)["state"] == "paused"
    s = to_state_row(TODO, workspace_id=WS)
    assert (s["name"], s["type"], s["position"], s["team_external_id"]) == ("Todo", "unstarted", 1.0, "team-1")
    assert to_state_row({**TODO, "position": "NaN"}, workspace_id=WS)["position"] is None
    c = to_cycle_row({"id": "cy-1", "number": "3", "progress": 0.41666, "startsAt": "2025-05-01",
                      "team": {"id": "team-1"}}, workspace_id=WS)
    assert c["number"] == 3 and c["progress"] == Decimal("0.417") and c["starts_at"] == datetime(2025, 5, 1, tzinfo=UTC)
    assert to_cycle_row({"id": "cy-2", "progress": 1e9}, workspace_id=WS)["progress"] is None


def test_issue_query_stays_in_the_documented_shape() -> None:
    query = Issues.query()
    assert "labels(first: 10)" in query and "inverseRelations(first: 20)" in query
    assert "includeArchived: true" in query and "orderBy: updatedAt" in query and "pageInfo" in query
