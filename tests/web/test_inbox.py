"""``GET /contacts``, ``/conversations``, ``/messages`` (connectors-rag §10) over synced emulator data."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from shared.scope import Scope
from tests.conftest import Api
from tests.emulators import EmulatorServer
from tests.emulators import chatwoot as cw
from tests.jobs.connector_support import emu, set_env, sync  # noqa: F401
from tests.jobs.test_chatwoot import TOKEN, account

ROUTES = ("/contacts", "/conversations", "/messages")


def scope_of(project: dict[str, Any]) -> Scope:
    return Scope(uuid.UUID(project["id"]), uuid.UUID(project["account_scope_id"]))


@pytest.fixture()
def two_projects(emu: EmulatorServer, api: Api, runtime, monkeypatch):  # noqa: ANN001, ANN201
    """Project A bound to account 1 (4 conversations, 20 messages), B to account 2 (1 conversation)."""
    emu.reset()
    now = int(time.time())
    acc1 = account(now)
    acc1["conversations"][0]["meta"]["sender"].update(name="Anna 100% _real_ \\ Smith", email="anna@client.example")
    acc2 = account(now, conversations=1, per_conversation=2, first_mid=9000, acc=2)
    emu.load({"chatwoot": {"token": TOKEN, "accounts": {"1": acc1, "2": acc2}}})
    set_env(monkeypatch, runtime, emu.env())
    b = api.create_project("Project B", scope_key="scope-b")
    assert api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": "2"}).status_code == 201
    a = api.create_project("Project A", scope_key="scope-a")
    assert api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": "1"}).status_code == 201
    sync("chatwoot", scope_of(a))
    sync("chatwoot", scope_of(b))
    return a, b


def test_lists_have_the_documented_items_and_order(api: Api, two_projects) -> None:
    contacts = api.get("/contacts").get_json()
    assert contacts["ok"] is True and contacts["page"] == {"limit": 100, "offset": 0, "next_offset": None}
    assert len(contacts["contacts"]) == 4
    assert set(contacts["contacts"][0]) == {"id", "account_id", "contact_id", "name", "email", "phone_number",
                                            "identifier", "updated_at"}
    convs = api.get("/conversations").get_json()["conversations"]
    assert [c["conversation_id"] for c in convs] == [4, 3, 2, 1]  # latest activity first
    assert set(convs[0]) == {"id", "account_id", "conversation_id", "contact_global_id", "inbox_id", "status",
                             "assignee_id", "updated_at", "created_at"}
    assert convs[0]["updated_at"].endswith("Z")
    messages = api.get("/messages").get_json()["messages"]
    assert len(messages) == 20 and messages[0]["id"].endswith(":1020")
    assert set(messages[0]) == {"id", "conversation_global_id", "contact_global_id", "sender_type", "message_type",
                                "private", "content_snippet", "created_at", "updated_at"}
    assert "data" not in str(messages[0].keys()) and "file_url" not in str(messages)


def test_paging_and_filters(api: Api, two_projects) -> None:
    first = api.get("/messages?limit=7").get_json()
    assert len(first["messages"]) == 7 and first["page"] == {"limit": 7, "offset": 0, "next_offset": 7}
    last = api.get("/v1/messages?limit=7&offset=14").get_json()
    assert len(last["messages"]) == 6 and last["page"]["next_offset"] is None
    assert api.get("/messages?limit=100000").get_json()["page"]["limit"] == 500
    assert api.get("/messages?offset=-5").get_json()["page"]["offset"] == 0
    convs = api.get("/conversations").get_json()["conversations"]
    resolved = api.get("/conversations?status=%20Resolved%20").get_json()["conversations"]
    assert [c["status"] for c in resolved] == ["resolved"]
    by_contact = api.get(f"/conversations?contact_global_id={convs[1]['contact_global_id']}").get_json()
    assert [c["id"] for c in by_contact["conversations"]] == [convs[1]["id"]]
    in_conv = api.get(f"/messages?conversation_global_id={convs[0]['id']}").get_json()["messages"]
    assert len(in_conv) == 5 and {m["conversation_global_id"] for m in in_conv} == {convs[0]["id"]}


def test_contact_search_matches_wildcards_literally(api: Api, two_projects) -> None:
    assert [c["name"] for c in api.get("/contacts?q=100%25%20_REAL_").get_json()["contacts"]] == [
        "Anna 100% _real_ \\ Smith"]
    assert [c["name"] for c in api.get("/contacts?q=%5C").get_json()["contacts"]] == ["Anna 100% _real_ \\ Smith"]
    assert api.get("/contacts?q=%25%25").get_json()["contacts"] == []
    assert len(api.get("/contacts?q=client.example").get_json()["contacts"]) == 4
    assert len(api.get("/contacts?q=%2B1555000002").get_json()["contacts"]) == 1


def test_bad_parameters_are_400(api: Api, two_projects) -> None:
    for query, code in (("/messages?limit=abc", "invalid_limit"), ("/contacts?offset=1.5", "invalid_offset"),
                        ("/conversations?status=closed", "invalid_status")):
        resp = api.get(query)
        assert resp.status_code == 400 and resp.get_json()["error"] == code, query


def test_another_projects_rows_are_invisible(api: Api, two_projects) -> None:
    a, b = two_projects
    a_conv = api.get("/conversations").get_json()["conversations"][0]["id"]
    api.select(b["id"])
    assert [c["conversation_id"] for c in api.get("/conversations").get_json()["conversations"]] == [1]
    assert len(api.get("/messages").get_json()["messages"]) == 2
    assert api.get(f"/messages?conversation_global_id={a_conv}").get_json()["messages"] == []
    assert all(c["account_id"] == 2 for c in api.get("/contacts").get_json()["contacts"])


def test_routes_need_an_active_project(client) -> None:
    api = Api(client)
    api.login()
    for path in ROUTES:
        resp = api.get(path)
        assert resp.status_code == 409 and resp.get_json()["error"] == "active_project_required"


def test_private_messages_are_listed_and_flagged(api: Api, emu: EmulatorServer, runtime, monkeypatch) -> None:
    emu.reset()
    now = int(time.time())
    data = account(now, conversations=1, per_conversation=1)
    data["messages"]["1"].append(cw.message(7000, 1, content="internal note", message_type=1, created_at=now,
                                            sender=cw.agent(3, "Anna"), private=True, account_id=1))
    emu.load({"chatwoot": {"token": TOKEN, "accounts": {"1": data}}})
    set_env(monkeypatch, runtime, emu.env())
    project = api.create_project("Private")
    api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": "1"})
    sync("chatwoot", scope_of(project))
    messages = api.get("/messages").get_json()["messages"]
    assert [(m["content_snippet"], m["private"]) for m in messages][0] == ("internal note", True)
