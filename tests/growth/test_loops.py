"""Loops contact sync (business.md §B5) against the Loops emulator over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from jobs.connectors.loops import LoopsHttp
from shared.config import Settings
from shared.db.models.chatwoot import CwContact
from shared.db.models.growth import ContactChannelPolicy
from shared.scope import Scope
from tests.conftest import Api
from tests.emulators import EmulatorServer
from tests.growth.conftest import add_rows, audits, scope_of

KEY = "loops-secret"


@pytest.fixture()
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        server.load({"loops": {"key": KEY}})
        yield server


@pytest.fixture()
def loops_env(runtime, env: dict[str, str], emu: EmulatorServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    extra = {"LOOPS_SECRET_KEY": KEY, "LOOPS_API_BASE_URL": emu.loops_url + "/", "LOOPS_SOURCE_TAG": "keel-test"}
    monkeypatch.setattr(runtime, "settings", Settings.from_env({**env, **extra}))
    monkeypatch.setattr(LoopsHttp, "sleep", staticmethod(lambda _s: None))  # retry waits: no real sleeping
    return extra


def contact(scope: Scope, n: int, name: str | None, email: str | None) -> CwContact:
    return CwContact(id=f"cwc:{scope.project_id}:{n}", project_id=scope.project_id,
                     account_scope_id=scope.account_scope_id, account_id=1, contact_id=n, name=name, email=email)


def opted_out(scope: Scope, contact_global_id: str, channel: str = "email") -> ContactChannelPolicy:
    return ContactChannelPolicy(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                                contact_global_id=contact_global_id, channel=channel, opted_out=True)


def run_sync(api: Api, run_jobs: Any, body: dict | None = None) -> dict:
    resp = api.post("/loops/sync", body or {})
    assert resp.status_code == 202, resp.get_json()
    run_jobs("outbound")
    return api.get(f"/jobs/runs/{resp.get_json()['job']['id']}").get_json()["job"]


def test_sync_pushes_contacts_of_the_scope_and_never_opted_out_ones(api: Api, runtime, run_jobs, emu,
                                                                    loops_env) -> None:
    alpha = scope_of(api.create_project("Alpha", scope_key="client"))
    beta = scope_of(api.create_project("Beta", scope_key="client", select=False))
    other = scope_of(api.create_project("Other", scope_key="elsewhere", select=False))
    add_rows(runtime,
             contact(alpha, 1, "Ann", " Ann@Example.com "), contact(beta, 1, "Anna", "ann@example.com"),
             contact(alpha, 2, None, "bob@example.com"), contact(alpha, 3, "No Mail", None),
             contact(alpha, 4, "Carol", "carol@example.com"), contact(beta, 5, "Dan", "DAN@example.com"),
             contact(alpha, 6, "Broken", "not-an-email"), contact(other, 7, "Eve", "eve@example.com"),
             opted_out(alpha, f"cwc:{alpha.project_id}:4"), opted_out(beta, "dan@example.com"),
             opted_out(alpha, "bob@example.com", channel="chatwoot"))
    emu.load({"loops": {"key": KEY, "contacts": [{"email": "bob@example.com", "firstName": "Old"}]}})
    job = run_sync(api, run_jobs, {"project_ids": f"{alpha.project_id},{other.project_id}", "limit": "10"})
    assert job["status"] == "ok"
    assert job["meta"]["params"] == {"project_ids": [str(alpha.project_id), str(other.project_id)], "limit": 10}
    assert job["meta"]["result"] == {"enabled": True, "selected_project_ids": [str(alpha.project_id)],
                                     "processed": 2, "created": 1, "updated": 1, "failed": 0, "skipped": 1,
                                     "errors": []}
    calls = [(r["method"], r["path"], r["json"]["email"]) for r in emu.requests("loops")]
    assert calls == [("POST", "/loops/api/v1/contacts/create", "ann@example.com"),
                     ("POST", "/loops/api/v1/contacts/create", "bob@example.com"),
                     ("PUT", "/loops/api/v1/contacts/update", "bob@example.com")]
    first = emu.requests("loops")[0]
    assert first["headers"]["authorization"] == f"Bearer {KEY}"
    assert first["json"] == {"email": "ann@example.com", "firstName": "Ann", "source": "keel-test",
                             "projectIds": [str(alpha.project_id)], "projectNames": ["Alpha"]}
    pushed = {r["json"]["email"] for r in emu.requests("loops")}
    assert "carol@example.com" not in pushed and "eve@example.com" not in pushed
    [event] = audits(runtime, "loops.contacts_sync")
    assert (event.status, event.entity_type, event.entity_id) == ("ok", "integration", "loops")
    assert event.project_id == alpha.project_id and event.payload["processed"] == 2

    # every project of the scope: the opted-out email of Beta never leaves the system
    emu.clear_requests()
    job = run_sync(api, run_jobs)
    assert job["meta"]["result"]["selected_project_ids"] == [str(alpha.project_id), str(beta.project_id)]
    pushed = [r["json"] for r in emu.requests("loops")]
    assert "dan@example.com" not in {p["email"] for p in pushed}
    ann = next(p for p in pushed if p["email"] == "ann@example.com")
    assert ann["firstName"] == "Anna" and sorted(ann["projectNames"]) == ["Alpha", "Beta"]
    assert len(audits(runtime, "loops.contacts_sync")) == 3  # one more per selected project


def test_vendor_errors_are_counted_per_contact(api: Api, runtime, run_jobs, emu, loops_env) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime, contact(scope, 1, "A", "a@example.com"), contact(scope, 2, "B", "b@example.com"))
    emu.fault("loops", path_regex="contacts/create", status=503, times=3)  # a@: every attempt fails
    emu.fault("loops", path_regex="contacts/create", status=400, body={"success": False, "message": "Bad name"})
    job = run_sync(api, run_jobs)
    result = job["meta"]["result"]
    assert job["status"] == "ok" and (result["processed"], result["failed"]) == (0, 2)
    assert [e["email"] for e in result["errors"]] == ["a@example.com", "b@example.com"]
    assert "503" in result["errors"][0]["message"] and "Bad name" in result["errors"][1]["message"]
    assert len(emu.requests("loops")) == 4  # three attempts for a@, one for b@
    assert audits(runtime, "loops.contacts_sync")[0].status == "failed"


def test_partial_status_when_some_contacts_fail(api: Api, runtime, run_jobs, emu, loops_env) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime, contact(scope, 1, "A", "a@example.com"), contact(scope, 2, "B", "b@example.com"))
    emu.fault("loops", path_regex="contacts/create", status=401, body={"success": False, "message": "Invalid key"})
    result = run_sync(api, run_jobs)["meta"]["result"]
    assert (result["created"], result["failed"]) == (1, 1)
    assert audits(runtime, "loops.contacts_sync")[0].status == "partial"


def test_unconfigured_sync_is_skipped_without_calls(api: Api, runtime, run_jobs) -> None:
    scope = scope_of(api.create_project("Project P"))
    add_rows(runtime, contact(scope, 1, "A", "a@example.com"))
    job = run_sync(api, run_jobs)
    assert job["status"] == "skipped"
    assert job["meta"]["result"] == {"skipped": "missing_credentials", "missing": ["LOOPS_SECRET_KEY"],
                                     "enabled": False, "processed": 0, "created": 0, "updated": 0, "failed": 0,
                                     "errors": []}
    assert audits(runtime, "loops.contacts_sync") == []


