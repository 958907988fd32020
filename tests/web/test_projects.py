"""Projects, active-project scope and isolation (platform §4, §6.3)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from shared.db.models.platform import AuditEvent, Project, ScheduledJob
from shared.scope import Scope
from tests.conftest import Api


def test_create_project_seeds_schedule_and_audits_without_selecting(api: Api, runtime) -> None:
    project = api.create_project("Website relaunch", select=False)
    assert api.get("/auth/me").get_json()["active_project_id"] is None
    with runtime.sessions() as s:
        jobs = set(s.scalars(select(ScheduledJob.job_type).filter_by(project_id=uuid.UUID(project["id"]))))
        actions = list(s.scalars(select(AuditEvent.action)))
    assert {"chatwoot_sync", "attio_sync", "linear_sync", "embeddings_run", "kag_recommendations_refresh"} <= jobs
    assert len(jobs) == 18
    assert actions == ["project.create"]


@pytest.mark.parametrize("body,code", [
    ({}, "invalid_name"), ({"name": 5}, "invalid_name"), ({"name": " a "}, "invalid_name"),
    ({"name": "x" * 161}, "invalid_name"), ({"name": "ok", "account_scope_key": "-bad"}, "invalid_scope_key"),
    ({"name": "ok", "account_scope_key": "Has Space"}, "invalid_scope_key"),
    ({"name": "ok", "account_scope_key": "a" * 65}, "invalid_scope_key"),
    ({"name": "ok", "account_scope_key": 7}, "invalid_scope_key"),
])
def test_invalid_project_bodies_write_nothing(api: Api, runtime, body, code) -> None:
    resp = api.post("/projects", body)
    assert resp.status_code == 400 and resp.get_json()["error"] == code
    with runtime.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Project)) == 0


def test_scope_key_is_reused_and_renamed_only_when_given(api: Api) -> None:
    a = api.create_project("One", scope_key="Acme", select=False)
    b = api.post("/projects", {"name": "Two", "account_scope_key": " acme "}).get_json()["project"]
    assert a["account_scope_id"] == b["account_scope_id"]
    default = api.create_project("Three", select=False)
    assert default["account_scope_id"] != a["account_scope_id"]


def test_list_is_newest_first_with_active_scope(api: Api) -> None:
    first = api.create_project("First", select=False)
    second = api.create_project("Second")
    body = api.get("/projects").get_json()
    assert [p["id"] for p in body["projects"]] == [second["id"], first["id"]]
    assert body["active_project_id"] == second["id"]
    assert body["account_scope_id"] == second["account_scope_id"]


def test_select_errors(api: Api) -> None:
    resp = api.post("/projects/not-a-uuid/select")
    assert resp.status_code == 400 and resp.get_json()["error"] == "invalid_project_id"
    resp = api.post(f"/projects/{uuid.uuid4()}/select")
    assert resp.status_code == 404 and resp.get_json()["error"] == "project_not_found"


def test_scoped_route_needs_an_active_project(api: Api) -> None:
    resp = api.get("/audit")
    assert resp.status_code == 409 and resp.get_json()["error"] == "active_project_required"


def test_deleted_active_project_requires_a_new_selection(api: Api, runtime) -> None:
    project = api.create_project("Doomed")
    with runtime.transaction() as s:
        s.delete(s.get(Project, uuid.UUID(project["id"])))
    assert api.get("/audit").get_json()["error"] == "active_project_required"


def test_audit_of_one_project_is_invisible_from_another(api: Api) -> None:
    a = api.create_project("Alpha", scope_key="client-a")
    api.create_project("Beta", scope_key="client-b")
    events = api.get("/audit").get_json()["events"]
    assert all(e["entity_id"] != a["id"] for e in events)
    assert {e["action"] for e in events} == {"project.create", "project.select"}


def test_orm_scope_guard_rejects_a_cross_scope_write(api: Api, runtime) -> None:
    from shared.audit import write_audit_event
    from shared.errors import ScopeViolation

    a = api.create_project("Alpha", scope_key="client-a", select=False)
    b = api.create_project("Beta", scope_key="client-b", select=False)
    forged = Scope(uuid.UUID(a["id"]), uuid.UUID(b["account_scope_id"]))
    with pytest.raises(ScopeViolation), runtime.transaction() as s:
        write_audit_event(s, forged, actor_username="x", action="forged")


def test_postgres_trigger_rejects_a_cross_scope_write(api: Api, runtime) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    a = api.create_project("Alpha", scope_key="client-a", select=False)
    b = api.create_project("Beta", scope_key="client-b", select=False)
    with pytest.raises(DBAPIError, match="cross-scope write rejected"), runtime.engine.begin() as conn:
        conn.execute(text("INSERT INTO audit_events (project_id, account_scope_id, action, status, payload, "
                          "evidence_refs, created_at) VALUES (:p, :s, 'forged', 'ok', '{}', '[]', now())"),
                     {"p": a["id"], "s": b["account_scope_id"]})
    with runtime.engine.begin() as conn:  # a NULL scope is filled from the project
        conn.execute(text("ALTER TABLE audit_events ALTER COLUMN account_scope_id DROP NOT NULL"))
        conn.execute(text("INSERT INTO audit_events (project_id, action, status, payload, evidence_refs, created_at)"
                          " VALUES (:p, 'filled', 'ok', '{}', '[]', now())"), {"p": a["id"]})
        scope = conn.execute(text("SELECT account_scope_id FROM audit_events WHERE action='filled'")).scalar()
        conn.execute(text("DELETE FROM audit_events WHERE action='filled'"))
        conn.execute(text("ALTER TABLE audit_events ALTER COLUMN account_scope_id SET NOT NULL"))
    assert str(scope) == a["account_scope_id"]
