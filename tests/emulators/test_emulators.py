"""The vendor emulators over real HTTP (connectors-rag §17)."""

from __future__ import annotations

import base64
import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.emulators import EmulatorServer, attio, chatwoot, linear
from tests.emulators.chatwoot import MessageList
from tests.emulators.demo_data import (
    DEMO_ATTIO_TOKEN,
    DEMO_ATTIO_WORKSPACE_ID,
    DEMO_CHATWOOT_ACCOUNT_ID,
    DEMO_CHATWOOT_TOKEN,
    DEMO_LINEAR_ORG_ID,
    DEMO_LINEAR_TOKEN,
    build_demo_fixtures,
)
from tests.emulators.openai import embed
from tests.emulators.synthetic import GeneratedAccount, GeneratedMessages

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T0 = int(NOW.timestamp())
CW_TOKEN, AT_TOKEN, LI_TOKEN, OA_KEY = "cw-token", "at-token", "lin_api_test", "sk-test"
WS = "11111111-2222-3333-4444-555555555555"
ISSUES_QUERY = """
query SyncIssues($first: Int!, $after: String, $filter: IssueFilter) {
  issues(first: $first, after: $after, orderBy: updatedAt, includeArchived: %s, filter: $filter) {
    nodes { id identifier updatedAt archivedAt state { id type }
            labels(first: 10) { nodes { id name } }
            inverseRelations(first: 20) { nodes { type issue { id state { type } } } } }
    pageInfo { hasNextPage endCursor }
  }
}"""


# ----------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="module")
def emu() -> Iterator[EmulatorServer]:
    with EmulatorServer() as server:
        yield server


@pytest.fixture(autouse=True)
def clean(emu: EmulatorServer) -> None:
    emu.reset()


@pytest.fixture
def http(emu: EmulatorServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emu.base_url, timeout=5) as client:
        yield client


def cw_fixture(n_conversations: int = 3, n_messages: int = 5) -> dict[str, Any]:
    person = chatwoot.contact(7, "Emily Carter", email="emily@client.example")
    convs, messages, mid = [], {}, 500
    for cid in range(1, n_conversations + 1):
        status = ("open", "resolved", "pending")[cid % 3]
        msgs = []
        for k in range(n_messages):
            mid += 1
            msgs.append(chatwoot.message(mid, cid, content=f"message {mid} in {cid}", message_type=k % 2,
                                         created_at=T0 - 10_000 + cid * 100 + k, sender=person))
        messages[str(cid)] = msgs
        convs.append(chatwoot.conversation(cid, inbox_id=1, status=status, sender=person,
                                           last_activity_at=T0 - 10_000 + cid * 100 + n_messages,
                                           created_at=T0 - 10_000 + cid * 100))
    return {"token": CW_TOKEN, "accounts": {"1": {"inboxes": [chatwoot.inbox(1, "Website")],
                                                  "conversations": convs, "messages": messages}}}


def cw_get(http: httpx.Client, path: str, token: str = CW_TOKEN, **params: Any) -> httpx.Response:
    return http.get(f"/chatwoot/api/v1/accounts/{path}", params=params, headers={"api_access_token": token})


def attio_fixture(n_companies: int = 5, n_notes: int = 60) -> dict[str, Any]:
    companies = []
    for i in range(n_companies):
        at = NOW - timedelta(days=100 - i)
        companies.append(attio.record("companies", f"rec-{i}", workspace_id=WS, created_at=at,
                                      values={"name": [attio.text(f"Company {i}", at)]}))
    companies.reverse()  # stored out of order: the sort must do the work
    notes = [attio.note(f"note-{i}", workspace_id=WS, parent_object="companies", parent_record_id="rec-0",
                        title=f"Note {i}", content="text", created_at=NOW - timedelta(hours=i))
             for i in range(n_notes)]
    return {"token": AT_TOKEN, "workspace_id": WS, "objects": {"companies": companies}, "notes": notes}


def attio_headers(token: str = AT_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def linear_fixture() -> dict[str, Any]:
    todo = linear.workflow_state("st-todo", "Todo", "unstarted", 1.0, "team-1", iso(NOW))
    done = linear.workflow_state("st-done", "Done", "completed", 3.0, "team-1", iso(NOW))
    issues = [linear.issue(f"iss-{i}", f"DEL-{i}", f"Issue {i}", team_id="team-1", state=todo,
                           created_at=iso(NOW - timedelta(days=10)),
                           updated_at=iso(NOW - timedelta(days=10 - i)),
                           labels={"nodes": [{"id": "lab-1", "name": "Bug"}]})
              for i in range(5)]
    issues[4]["inverseRelations"] = {"nodes": [{"type": "blocks", "issue": {"id": "iss-0"}}]}
    issues[3]["archivedAt"] = iso(NOW - timedelta(days=7))
    return {"token": LI_TOKEN, "organization": linear.organization("org-1", "Pinewood", "pinewood"),
            "workflowStates": [todo, done], "issues": issues,
            "projects": [{"id": "p1", "name": "Portal", "createdAt": iso(NOW), "updatedAt": iso(NOW)}]}


def gql(http: httpx.Client, operation: str, query: str, variables: dict[str, Any] | None = None,
        token: str = LI_TOKEN) -> httpx.Response:
    body = {"operationName": operation, "query": query, "variables": variables or {}}
    return http.post("/linear/graphql", json=body, headers={"Authorization": token})


def issues_page(http: httpx.Client, first: int = 50, after: str | None = None,
                flt: dict[str, Any] | None = None, include_archived: bool = True) -> dict[str, Any]:
    query = ISSUES_QUERY % ("true" if include_archived else "false")
    response = gql(http, "SyncIssues", query, {"first": first, "after": after, "filter": flt})
    assert response.status_code == 200, response.text
    return response.json()["data"]["issues"]


# ----------------------------------------------------------------------------------------------
# Server


def test_server_binds_loopback_with_ephemeral_port(emu: EmulatorServer) -> None:
    assert emu.base_url.startswith("http://127.0.0.1:") and emu.port > 0
    assert emu.linear_url.endswith("/linear/graphql") and emu.openai_url.endswith("/openai/v1")
    emu.load({"chatwoot": cw_fixture(), "attio": attio_fixture()})
    env = emu.env()
    assert env["CHATWOOT_API_TOKEN"] == CW_TOKEN and env["CHATWOOT_ACCOUNT_ID"] == "1"
    assert env["ATTIO_WORKSPACE_ID"] == WS and env["CHATWOOT_BASE_URL"] == emu.chatwoot_url


# ----------------------------------------------------------------------------------------------
# Chatwoot


def test_chatwoot_auth_and_not_found(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture()})
    assert cw_get(http, "1/conversations", token="wrong").status_code == 401
    assert http.get("/chatwoot/api/v1/accounts/1/inboxes").status_code == 401
    assert cw_get(http, "2/conversations").status_code == 404
    assert cw_get(http, "1/conversations/999/messages").status_code == 404
    assert cw_get(http, "1/inboxes").json() == {"payload": [chatwoot.inbox(1, "Website")]}


def test_chatwoot_conversations_default_open_page_size_and_order(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": {"token": CW_TOKEN, "generate": {"account_id": 3, "conversations": 60,
                                                           "messages_per_conversation": 2, "now": T0}}})
    default = cw_get(http, "3/conversations").json()["data"]
    assert {c["status"] for c in default["payload"]} == {"open"}
    seen, pages = [], []
    for page in range(1, 5):
        data = cw_get(http, "3/conversations", status="all", assignee_type="all",
                      sort_by="last_activity_at_desc", page=page).json()["data"]
        assert data["meta"]["all_count"] == 60
        pages.append(len(data["payload"]))
        seen += data["payload"]
    assert pages == [25, 25, 10, 0]
    activity = [c["last_activity_at"] for c in seen]
    assert activity == sorted(activity, reverse=True) and len({c["id"] for c in seen}) == 60
    assert all(isinstance(c["last_activity_at"], int) and c["meta"]["sender"]["type"] == "contact" for c in seen)
    assert all(c["messages"] and isinstance(c["messages"][0]["message_type"], int) for c in seen)


def test_chatwoot_message_cursors(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture(n_conversations=1, n_messages=130)})
    ids = lambda r: [m["id"] for m in r.json()["payload"]]  # noqa: E731
    latest = ids(cw_get(http, "1/conversations/1/messages"))
    assert latest == list(range(611, 631))  # ids 501..630
    assert ids(cw_get(http, "1/conversations/1/messages", before=611)) == list(range(591, 611))
    assert ids(cw_get(http, "1/conversations/1/messages", after=501)) == list(range(502, 602))
    assert ids(cw_get(http, "1/conversations/1/messages", after=630)) == []
    assert ids(cw_get(http, "1/conversations/1/messages", before=505)) == [501, 502, 503, 504]
    body = cw_get(http, "1/conversations/1/messages").json()
    assert body["meta"]["contact"]["id"] == 7 and body["payload"][0]["sender_type"] == "Contact"


def test_generated_messages_page_like_a_plain_list() -> None:
    gen = GeneratedAccount({"account_id": 1, "conversations": 3, "messages_per_conversation": 130, "now": T0})
    lazy = GeneratedMessages(gen, 1)
    plain = MessageList(lazy.all())
    for before, after in [(None, None), (300, None), (140, None), (None, 131), (None, 250), (None, 0),
                          (200, 150), (None, 999)]:
        assert lazy.select(before, after) == plain.select(before, after), (before, after)


def test_generated_fixture_holds_100k_messages_lazily(emu: EmulatorServer, http: httpx.Client) -> None:
    started = time.perf_counter()
    loaded = emu.load({"chatwoot": {"token": CW_TOKEN, "generate": {
        "account_id": 1, "conversations": 2000, "messages_per_conversation": 50, "now": T0}}})
    assert loaded["chatwoot"]["1"]["conversations"] == 2000
    assert time.perf_counter() - started < 2
    first = cw_get(http, "1/conversations", status="all").json()["data"]["payload"][0]
    assert first["id"] == 2000 and first["last_activity_at"] <= T0
    ids: list[int] = []
    page = cw_get(http, "1/conversations/2000/messages").json()["payload"]
    while page:
        ids = [m["id"] for m in page] + ids
        page = cw_get(http, "1/conversations/2000/messages", before=ids[0]).json()["payload"]
    assert ids == list(range(99_951, 100_001))


def test_lone_surrogates_still_serve_valid_json(emu: EmulatorServer, http: httpx.Client) -> None:
    fixture = cw_fixture(n_conversations=1, n_messages=1)
    fixture["accounts"]["1"]["messages"]["1"][0]["content"] = "bad \ud800 text, привет"
    emu.load({"chatwoot": fixture})
    response = cw_get(http, "1/conversations/1/messages")
    assert b"\\ud800" in response.content
    assert response.json()["payload"][0]["content"] == "bad \ud800 text, привет"


# ----------------------------------------------------------------------------------------------
# Attio


def test_attio_auth_self_and_unknown_object(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture()})
    denied = http.get("/attio/v2/self", headers=attio_headers("nope"))
    assert denied.status_code == 401 and denied.json()["code"] == "unauthorized"
    me = http.get("/attio/v2/self", headers=attio_headers()).json()
    assert me["active"] is True and me["workspace_id"] == WS
    missing = http.post("/attio/v2/objects/widgets/records/query", json={}, headers=attio_headers())
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"


def test_attio_records_query_limit_offset_sort(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture(n_companies=5)})

    def page(limit: int, offset: int, direction: str = "asc") -> list[str]:
        body = {"limit": limit, "offset": offset, "sorts": [{"attribute": "created_at", "direction": direction}]}
        response = http.post("/attio/v2/objects/companies/records/query", json=body, headers=attio_headers())
        return [r["id"]["record_id"] for r in response.json()["data"]]

    assert page(2, 0) == ["rec-0", "rec-1"]
    assert page(2, 2) == ["rec-2", "rec-3"]
    assert page(2, 4) == ["rec-4"]
    assert page(2, 6) == []
    assert page(2, 0, "desc") == ["rec-4", "rec-3"]
    empty = http.post("/attio/v2/objects/deals/records/query", json={"limit": 10}, headers=attio_headers())
    assert empty.json() == {"data": []}
    entry = http.post("/attio/v2/objects/companies/records/query", json={"limit": 1}, headers=attio_headers())
    name = entry.json()["data"][0]["values"]["name"][0]
    assert name["attribute_type"] == "text" and name["active_until"] is None


def test_attio_get_one_record_or_note_and_404_once_deleted(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture(n_companies=2, n_notes=2)})
    record = http.get("/attio/v2/objects/companies/records/rec-1", headers=attio_headers()).json()["data"]
    assert record["id"]["record_id"] == "rec-1"
    assert http.get("/attio/v2/notes/note-0", headers=attio_headers()).json()["data"]["id"]["note_id"] == "note-0"
    emu.mutate_many([{"vendor": "attio", "op": "delete_record", "object": "companies", "record_id": "rec-1"},
                     {"vendor": "attio", "op": "delete_note", "note_id": "note-0"}])
    for path in ("/attio/v2/objects/companies/records/rec-1", "/attio/v2/notes/note-0",
                 "/attio/v2/objects/widgets/records/rec-0"):
        gone = http.get(path, headers=attio_headers())
        assert gone.status_code == 404 and gone.json()["code"] == "not_found"


def test_attio_notes_limit_and_newest_first(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture(n_notes=60)})
    too_many = http.get("/attio/v2/notes", params={"limit": 51}, headers=attio_headers())
    assert too_many.status_code == 400 and too_many.json()["type"] == "invalid_request_error"
    first = http.get("/attio/v2/notes", params={"limit": 50, "offset": 0}, headers=attio_headers()).json()
    rest = http.get("/attio/v2/notes", params={"limit": 50, "offset": 50}, headers=attio_headers()).json()
    ids = [n["id"]["note_id"] for n in first["data"] + rest["data"]]
    assert ids == [f"note-{i}" for i in range(60)]


def test_attio_rate_limit_has_http_date_retry_after(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture()})
    emu.fault("attio", kind="rate_limit", retry_after=3)
    emu.fault("attio", status=429)  # a plain 429 gets the HTTP-date header too
    for _ in range(2):
        limited = http.get("/attio/v2/self", headers=attio_headers())
        assert limited.status_code == 429 and limited.json()["code"] == "rate_limit_exceeded"
        when = parsedate_to_datetime(limited.headers["Retry-After"])
        assert datetime.now(UTC) - timedelta(seconds=1) < when < datetime.now(UTC) + timedelta(seconds=5)
    assert http.get("/attio/v2/self", headers=attio_headers()).status_code == 200


# ----------------------------------------------------------------------------------------------
# Linear


def test_linear_auth_and_unknown_operation(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    denied = gql(http, "SyncOrganization", "query SyncOrganization { organization { id } }", token="bad")
    assert denied.status_code == 401
    assert denied.json()["errors"][0]["extensions"]["code"] == "AUTHENTICATION_ERROR"
    unknown = gql(http, "Whatever", "query Whatever { organization { id } }")
    assert unknown.status_code == 400 and unknown.json()["errors"]
    org = gql(http, "SyncOrganization", "query SyncOrganization { organization { id name urlKey } }")
    assert org.json() == {"data": {"organization": {"id": "org-1", "name": "Pinewood", "urlKey": "pinewood"}}}


def test_linear_relay_pagination_with_opaque_cursors(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    seen, after, cursors = [], None, []
    while True:
        page = issues_page(http, first=2, after=after)
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        cursors.append(after)
        base64.urlsafe_b64decode(after)  # opaque, but base64
    assert [n["id"] for n in seen] == ["iss-4", "iss-3", "iss-2", "iss-1", "iss-0"]  # newest updatedAt first
    assert all(not c.startswith("iss-") for c in cursors)
    assert set(seen[0]) == {"id", "identifier", "updatedAt", "archivedAt", "state", "labels", "inverseRelations"}
    assert seen[0]["labels"] == {"nodes": [{"id": "lab-1", "name": "Bug"}]}


def test_linear_first_over_250_is_an_error(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    response = gql(http, "SyncIssues", ISSUES_QUERY % "true", {"first": 251})
    assert response.status_code == 400 and response.json()["errors"]
    assert issues_page(http, first=250)["pageInfo"]["hasNextPage"] is False


def test_linear_filter_include_archived_and_blocks(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    since = iso(NOW - timedelta(days=8))
    recent = issues_page(http, flt={"updatedAt": {"gt": since}})
    assert [n["id"] for n in recent["nodes"]] == ["iss-4", "iss-3"]
    visible = issues_page(http, include_archived=False)
    assert "iss-3" not in [n["id"] for n in visible["nodes"]] and len(visible["nodes"]) == 4
    blocked = next(n for n in visible["nodes"] if n["id"] == "iss-4")
    assert blocked["inverseRelations"]["nodes"] == [{"type": "blocks", "issue": {"id": "iss-0",
                                                                              "state": {"type": "unstarted"}}}]
    # Completing the blocker changes the relation's state, not the blocked issue's updatedAt.
    emu.mutate("linear", "update", id="iss-0", set={"state": {"id": "st-done"}})
    again = next(n for n in issues_page(http)["nodes"] if n["id"] == "iss-4")
    assert again["inverseRelations"]["nodes"][0]["issue"]["state"]["type"] == "completed"
    assert again["updatedAt"] == blocked["updatedAt"]


def test_linear_ratelimited_is_http_400_with_reset(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    emu.fault("linear", kind="rate_limit", operation="SyncIssues", retry_after=2)
    projects = gql(http, "SyncProjects", "query SyncProjects { projects(first: 5) { nodes { id } } }")
    assert projects.status_code == 200  # the fault only matches SyncIssues
    limited = gql(http, "SyncIssues", ISSUES_QUERY % "true", {"first": 5})
    assert limited.status_code == 400
    assert limited.json()["errors"][0]["extensions"]["code"] == "RATELIMITED"
    reset_ms = int(limited.headers["X-RateLimit-Requests-Reset"])
    assert time.time() * 1000 < reset_ms < (time.time() + 5) * 1000
    assert issues_page(http)["nodes"]


# ----------------------------------------------------------------------------------------------
# OpenAI-compatible embeddings


def test_openai_embeddings_are_deterministic_unit_vectors(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"openai": {"key": OA_KEY, "dim": 64}})
    headers = {"Authorization": f"Bearer {OA_KEY}"}
    assert http.post("/openai/v1/embeddings", json={"input": ["x"]}).status_code == 401
    body = {"model": "text-embedding-3-small", "input": ["счёт не оплачен", "invoice unpaid"]}
    data = http.post("/openai/v1/embeddings", json=body, headers=headers).json()["data"]
    assert [d["index"] for d in data] == [0, 1]
    vectors = [d["embedding"] for d in data]
    assert all(len(v) == 64 and abs(sum(x * x for x in v) - 1) < 1e-9 for v in vectors)
    assert vectors[0] == embed("счёт не оплачен", 64) and vectors[0] != vectors[1]


@pytest.mark.parametrize("kind", ["wrong_count", "wrong_dim"])
def test_openai_shape_faults(emu: EmulatorServer, http: httpx.Client, kind: str) -> None:
    emu.load({"openai": {"key": "", "dim": 32}})
    emu.fault("openai", kind=kind)
    data = http.post("/openai/v1/embeddings", json={"input": ["a", "b", "c"]}).json()["data"]
    if kind == "wrong_count":
        assert len(data) == 2
    else:
        assert {len(d["embedding"]) for d in data} == {31}
    assert len(http.post("/openai/v1/embeddings", json={"input": ["a", "b", "c"]}).json()["data"]) == 3


def test_openai_status_faults_and_reject_marker(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"openai": {"key": "", "dim": 8, "reject_marker": "<<REJECT>>"}})
    emu.fault("openai", kind="rate_limit")
    emu.fault("openai", status=500)
    first = http.post("/openai/v1/embeddings", json={"input": ["a"]})
    assert first.status_code == 429 and first.headers["Retry-After"] == "1"
    assert http.post("/openai/v1/embeddings", json={"input": ["a"]}).status_code == 500
    batch = http.post("/openai/v1/embeddings", json={"input": ["ok", "bad <<REJECT>> one"]})
    assert batch.status_code == 400 and batch.json()["error"]["type"] == "invalid_request_error"
    assert http.post("/openai/v1/embeddings", json={"input": ["ok"]}).status_code == 200


# ----------------------------------------------------------------------------------------------
# Generic faults and the request log


def test_429_with_retry_after_seconds_then_success_is_logged(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture()})
    emu.fault("chatwoot", kind="rate_limit", retry_after=2, path_regex=r"/conversations$")
    limited = cw_get(http, "1/conversations", status="all", page=1)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
    assert cw_get(http, "1/conversations", status="all", page=1).status_code == 200
    log = emu.requests("chatwoot")
    assert [(e["status"], e["fault"]) for e in log] == [(429, "rate_limit"), (200, None)]
    assert log[0]["query"] == {"status": "all", "page": "1"} and log[0]["headers"]["api_access_token"] == CW_TOKEN
    assert emu.pending_faults() == []


def test_500_fault_repeats_times_and_matches_method(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"attio": attio_fixture()})
    emu.fault("attio", method="POST", status=500, times=2, body={"status_code": 500, "code": "boom"})
    assert http.get("/attio/v2/self", headers=attio_headers()).status_code == 200  # GET not matched
    url = "/attio/v2/objects/companies/records/query"
    codes = [http.post(url, json={}, headers=attio_headers()).status_code for _ in range(3)]
    assert codes == [500, 500, 200]


def test_delay_fault_causes_client_timeout(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture()})
    emu.fault("chatwoot", delay_ms=5_000)
    started = time.perf_counter()
    with pytest.raises(httpx.ReadTimeout):
        http.get("/chatwoot/api/v1/accounts/1/inboxes", headers={"api_access_token": CW_TOKEN}, timeout=0.3)
    assert time.perf_counter() - started < 2
    emu.reset()  # wakes the sleeping handler


def test_short_delay_still_answers(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture()})
    emu.fault("chatwoot", delay_ms=150)
    started = time.perf_counter()
    assert cw_get(http, "1/inboxes").status_code == 200
    assert time.perf_counter() - started >= 0.14


def test_drop_connection(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    emu.fault("linear", kind="drop_connection")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        issues_page(http)
    assert issues_page(http)["nodes"]
    assert [e["fault"] for e in emu.requests("linear")] == ["drop_connection", None]


def test_malformed_json_and_raw_bytes(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture()})
    emu.fault("chatwoot", status=200, body="<html>{not json")
    broken = cw_get(http, "1/inboxes")
    assert broken.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        broken.json()
    raw = b'{"payload": [{"id": 1, "name": "caf\xe9 \xff", "note": "a\\u0000b", "raw": "c\x00d"}]}'
    emu.fault("chatwoot", status=200, body=raw, headers={"Content-Type": "application/json; charset=utf-8"})
    response = cw_get(http, "1/inboxes")
    assert response.content == raw and response.headers["Content-Type"] == "application/json; charset=utf-8"
    decoded = json.loads(response.content.decode("utf-8", errors="replace"), strict=False)
    assert decoded["payload"][0]["name"] == "caf\ufffd \ufffd"
    assert decoded["payload"][0]["note"] == "a\x00b" and decoded["payload"][0]["raw"] == "c\x00d"


def test_invalid_fault_spec_is_rejected(http: httpx.Client) -> None:
    assert http.post("/__emu/faults", json={"vendor": "chatwoot", "kind": "explode"}).status_code == 400
    assert http.post("/__emu/faults", json={"vendor": "nope", "response": {"status": 500}}).status_code == 400
    assert http.post("/__emu/fixtures", json={"zendesk": {}}).status_code == 400


def test_request_log_records_linear_operation_and_body(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture()})
    issues_page(http, first=3)
    (entry,) = emu.requests("linear")
    assert entry["method"] == "POST" and entry["path"] == "/linear/graphql"
    assert entry["operationName"] == "SyncIssues" and entry["json"]["variables"]["first"] == 3
    assert entry["headers"]["authorization"] == LI_TOKEN and entry["status"] == 200
    emu.clear_requests()
    assert emu.requests() == []


# ----------------------------------------------------------------------------------------------
# Mutations


def test_mutate_chatwoot_edit_delete_add_bump_activity(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": cw_fixture(n_conversations=3, n_messages=5)})
    at = T0 + 60
    emu.mutate("chatwoot", "update_message", account_id=1, conversation_id=1, message_id=501,
               set={"content": "edited"}, at=at)
    emu.mutate("chatwoot", "delete_message", account_id=1, conversation_id=1, message_id=502, at=at)
    added = emu.mutate("chatwoot", "add_message", account_id=1, conversation_id=1, at=at,
                       message={"content": "new one", "message_type": 0})
    assert added["id"] == 516 and added["created_at"] == at  # next free id of the account
    top = cw_get(http, "1/conversations", status="all").json()["data"]["payload"][0]
    assert top["id"] == 1 and top["last_activity_at"] == at
    msgs = {m["id"]: m for m in cw_get(http, "1/conversations/1/messages").json()["payload"]}
    assert msgs[501]["content"] == "edited" and msgs[501]["updated_at"] == at
    assert msgs[502]["content_attributes"]["deleted"] is True
    assert [m["id"] for m in cw_get(http, "1/conversations/1/messages", after=505).json()["payload"]] == [516]
    emu.mutate("chatwoot", "delete_conversation", account_id=1, conversation_id=2)
    assert cw_get(http, "1/conversations/2/messages").status_code == 404
    assert http.post("/__emu/mutate", json={"vendor": "chatwoot", "op": "update_message", "account_id": 1,
                                            "conversation_id": 1, "message_id": 9999}).status_code == 404


def test_mutate_generated_conversation_materialises_it(emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"chatwoot": {"token": CW_TOKEN, "generate": {"account_id": 1, "conversations": 10,
                                                           "messages_per_conversation": 30, "now": T0}}})
    before = cw_get(http, "1/conversations/4/messages").json()["payload"]
    target = before[-1]["id"]
    emu.mutate("chatwoot", "update_message", account_id=1, conversation_id=4, message_id=target,
               set={"content": "changed"})
    after = cw_get(http, "1/conversations/4/messages").json()["payload"]
    assert [m["id"] for m in after] == [m["id"] for m in before] and after[-1]["content"] == "changed"
    assert cw_get(http, "1/conversations", status="all").json()["data"]["payload"][0]["id"] == 4


def test_vendor_changes_n_records_and_an_incremental_read_sees_exactly_n(
        emu: EmulatorServer, http: httpx.Client) -> None:
    emu.load({"linear": linear_fixture(), "attio": attio_fixture()})
    high_water = max(n["updatedAt"] for n in issues_page(http)["nodes"])
    later = NOW + timedelta(minutes=5)
    emu.mutate_many([{"vendor": "linear", "op": "update", "id": f"iss-{i}", "set": {"title": "x"},
                      "at": later.isoformat()} for i in (0, 1)]
                    + [{"vendor": "linear", "op": "archive", "id": "iss-2", "at": later.isoformat()}])
    changed = issues_page(http, flt={"updatedAt": {"gt": high_water}})["nodes"]
    assert sorted(n["id"] for n in changed) == ["iss-0", "iss-1", "iss-2"]
    assert "iss-2" not in [n["id"] for n in issues_page(http, include_archived=False)["nodes"]]
    rec = emu.mutate("attio", "update_record", object="companies", record_id="rec-1",
                     values={"name": attio.text("Renamed", later)}, at=later.isoformat())
    history = rec["values"]["name"]
    assert [e["value"] for e in history] == ["Company 1", "Renamed"]
    assert history[0]["active_until"] is not None and history[1]["active_until"] is None


# ----------------------------------------------------------------------------------------------
# Demo data


def test_demo_dataset_is_deterministic_recent_and_bilingual(emu: EmulatorServer, http: httpx.Client) -> None:
    now = datetime(2025, 6, 1, tzinfo=UTC)
    fixtures = build_demo_fixtures(now)
    assert fixtures == build_demo_fixtures(now)
    assert fixtures["chatwoot"]["accounts"][str(DEMO_CHATWOOT_ACCOUNT_ID)]["conversations"][0]["created_at"] < \
        build_demo_fixtures(now + timedelta(days=1))["chatwoot"]["accounts"][str(DEMO_CHATWOOT_ACCOUNT_ID)][
            "conversations"][0]["created_at"]
    loaded = emu.load(fixtures)
    assert loaded["chatwoot"][str(DEMO_CHATWOOT_ACCOUNT_ID)]["conversations"] == 250
    assert loaded["linear"]["issues"] == 150

    acc, headers = DEMO_CHATWOOT_ACCOUNT_ID, {"api_access_token": DEMO_CHATWOOT_TOKEN}
    convs = http.get(f"/chatwoot/api/v1/accounts/{acc}/conversations", params={"status": "all", "page": 10},
                     headers=headers).json()["data"]
    assert convs["meta"]["all_count"] == 250 and len(convs["payload"]) == 25
    texts = [m.get("content") or "" for msgs in fixtures["chatwoot"]["accounts"][str(acc)]["messages"].values()
             for m in msgs]
    assert sum(bool(re.search("[А-Яа-яЁё]", t)) for t in texts) > 200
    assert sum(bool(re.fullmatch(r"[\x00-\x7f’—–…\-]+", t)) for t in texts if t) > 200
    all_msgs = [m for msgs in fixtures["chatwoot"]["accounts"][str(acc)]["messages"].values() for m in msgs]
    assert sum(1 for m in all_msgs if m["content"] is None and m.get("attachments")) == 1
    assert sum(1 for m in all_msgs if m["content"] == "") == 1
    assert any(m["private"] for m in all_msgs) and any(m["message_type"] == 2 for m in all_msgs)
    assert all(now.timestamp() - 61 * 86400 < m["created_at"] <= now.timestamp() for m in all_msgs)

    me = http.get("/attio/v2/self", headers={"Authorization": f"Bearer {DEMO_ATTIO_TOKEN}"}).json()
    assert me["workspace_id"] == DEMO_ATTIO_WORKSPACE_ID
    deals = fixtures["attio"]["objects"]["deals"]
    titles = {e["status"]["title"] for d in deals for e in d["values"]["stage"]}
    assert {"Lead", "Qualified", "Won 🎉"} <= titles
    assert any(len(d["values"]["stage"]) > 2 for d in deals)

    org = gql(http, "SyncOrganization", "query SyncOrganization { organization { id } }", token=DEMO_LINEAR_TOKEN)
    assert org.json()["data"]["organization"]["id"] == DEMO_LINEAR_ORG_ID
    issues = fixtures["linear"]["issues"]
    assert any(i["archivedAt"] for i in issues) and any(i["inverseRelations"]["nodes"] for i in issues)
    assert any(re.search("[а-я]", i["title"]) for i in issues) and any(re.search("^[A-Z][a-z]", i["title"])
                                                                        for i in issues)


def test_standalone_command_serves_the_demo() -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "tests.emulators", "--port", "0", "--demo", "--quiet"],
                            cwd=root, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line.startswith("CHATWOOT_BASE_URL=http://127.0.0.1:")
        base = line.split("=", 1)[1].removesuffix("/chatwoot")
        loaded = httpx.get(f"{base}/__emu/fixtures", timeout=5).json()["loaded"]
        assert loaded["chatwoot"][str(DEMO_CHATWOOT_ACCOUNT_ID)]["conversations"] == 250
    finally:
        proc.terminate()
        proc.wait(timeout=5)
