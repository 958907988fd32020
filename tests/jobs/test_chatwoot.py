"""The Chatwoot connector end to end over real HTTP against the emulator (connectors-rag §3, §16, §17)."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select

from jobs.connectors import chatwoot as connector
from shared.db.models.chatwoot import CwAttachmentRaw, CwContact, CwConversation, CwInboxRaw, CwMessage
from shared.db.models.platform import ConnectorError, ConnectorSyncState, ProjectSource, SyncWatermark
from shared.db.models.rag import RagChunk
from shared.errors import TransientError, UpstreamClientError
from shared.normalize import parse_ts
from tests.emulators import EmulatorServer
from tests.emulators import chatwoot as cw
from tests.jobs.connector_support import (  # noqa: F401 - fixtures
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
from tests.support import wait_for

TOKEN = "cw-token"
ACC = 1
AGENT = cw.agent(3, "Anna Kowalski", "anna@agency.example")
STATUSES = ("open", "resolved", "pending", "snoozed")
ROOT = Path(__file__).resolve().parents[2]


def account(now: int, *, conversations: int = 4, per_conversation: int = 5, first_mid: int = 1000,
            acc: int = ACC) -> dict[str, Any]:
    """Conversations of every status, contacts and agents writing, oldest conversation first."""
    convs, messages, mid = [], {}, first_mid
    for i in range(1, conversations + 1):
        person = cw.contact(100 + i, f"Contact {i}", email=f"c{i}@client.example", phone_number=f"+1555000{i:03d}")
        start = now - 7200 + i * 60
        msgs = []
        for k in range(per_conversation):
            mid += 1
            msgs.append(cw.message(mid, i, content=f"Message {mid}: the delivery timeline for phase {k} looks fine",
                                   message_type=k % 2, created_at=start + k, sender=person if k % 2 == 0 else AGENT,
                                   account_id=acc))
        messages[str(i)] = msgs
        convs.append(cw.conversation(i, inbox_id=1, status=STATUSES[(i - 1) % 4], sender=person,
                                     last_activity_at=start + per_conversation, created_at=start, account_id=acc,
                                     assignee=AGENT))
    return {"inboxes": [cw.inbox(1, "Website chat"), cw.inbox(2, "Support email", "Channel::Email")],
            "conversations": convs, "messages": messages}


def edge_conversation(now: int, cid: int = 50) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """One conversation holding the awkward messages of §16."""
    person = cw.contact(150, "Ирина\x00 Соколова", email="irina@romashka.ru")
    at = now - 600

    def msg(mid: int, content: Any, kind: int | str = 0, **kw: Any) -> dict[str, Any]:
        return cw.message(mid, cid, content=content, message_type=kind, created_at=at + mid % 100, sender=person,
                          account_id=ACC, **kw)

    msgs = [
        msg(5001, "x" * 20_000),
        msg(5002, None),
        msg(5003, "", attachments=[cw.attachment(71, 5003, ACC), cw.attachment(72, 5003, ACC, file_type="file",
                                                                              extension="pdf")]),
        msg(5004, "NUL\x00 inside a message that is long enough to chunk"),
        msg(5005, "lone surrogate \ud800 in a message that is long enough"),
        msg(5006, "internal note for the team, long enough to chunk", 1, private=True),
        msg(5007, "Conversation was marked resolved by Anna", 2),
        msg(5008, "This message was deleted", 0, content_attributes={"deleted": True}),
        msg(5009, "   \n\t  "),
    ]
    conv = cw.conversation(cid, inbox_id=2, status="open", sender=person, last_activity_at=at + 100, created_at=at,
                           account_id=ACC)
    return conv, msgs


def fixtures(now: int, **kw: Any) -> dict[str, Any]:
    return {"chatwoot": {"token": TOKEN, "accounts": {str(ACC): account(now, **kw)}}}


@pytest.fixture()
def cw_env(emu: EmulatorServer, fresh, monkeypatch, sleeps: Sleeps):  # noqa: ANN001, ANN201
    """A clean emulator and database, the runtime pointed at the emulator, one bound project."""
    emu.reset()
    now = int(time.time())
    emu.load(fixtures(now))
    set_env(monkeypatch, fresh, emu.env() | {"CHATWOOT_ACCOUNT_ID": str(ACC)})
    scope = make_project(fresh, "Chatwoot")
    bind(fresh, scope, "chatwoot", ACC)
    return {"rt": fresh, "emu": emu, "scope": scope, "now": now, "monkeypatch": monkeypatch, "sleeps": sleeps}


def table_counts(rt: Any, scope: Any) -> dict[str, int]:
    return {m.__tablename__: count(rt, m, scope) for m in (CwInboxRaw, CwConversation, CwContact, CwMessage,
                                                           CwAttachmentRaw, RagChunk)}


def message_requests(emu: EmulatorServer) -> list[dict[str, Any]]:
    return [r for r in emu.requests("chatwoot") if r["path"].endswith("/messages")]


# --- idempotency and incremental changes -------------------------------------------------------------
def test_first_sync_stores_every_status_and_an_immediate_resync_touches_nothing(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    first = sync("chatwoot", scope)
    counts = table_counts(rt, scope)
    assert counts == {"cw_inboxes_raw": 2, "cw_conversations": 4, "cw_contacts": 4, "cw_messages": 20,
                      "cw_attachments_raw": 0, "rag_chunks": 20}
    assert first["processed_messages"] == 20 and first["processed_conversations"] == 4
    assert first["inserted_chunks"] == 20 and first["touched_contacts"] == 4 and first["touched_inboxes"] == 2
    with rt.session() as s:
        assert set(s.scalars(select(CwConversation.status))) == set(STATUSES)
        assert s.scalar(select(CwMessage.message_type).where(CwMessage.message_id == 1002)) == "outgoing"
    listing = [r for r in emu.requests("chatwoot") if r["path"].endswith("/conversations")]
    assert listing[0]["query"] | {} == {"status": "all", "assignee_type": "all", "sort_by": "last_activity_at_desc",
                                        "page": "1"}
    assert all(r["headers"].get("api_access_token") == TOKEN for r in emu.requests("chatwoot"))

    emu.clear_requests()
    second = sync("chatwoot", scope)
    assert table_counts(rt, scope) == counts
    touched = {k: v for k, v in second.items() if k.startswith(("touched_", "processed_messages", "inserted_",
                                                                  "reembedded_", "deleted_chunks"))}
    assert set(touched.values()) == {0}, touched
    with rt.session() as s:
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
        mark = s.scalar(select(SyncWatermark).filter_by(source=f"chatwoot:{ACC}", **scope.as_filter()))
    assert state.status == "ok" and state.cursor_ts is not None and mark.cursor_ts is not None
    assert mark.meta["processed_messages"] == 0 and "scan_floor" in mark.meta


def test_vendor_changes_to_n_messages_change_exactly_those_rows(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    sync("chatwoot", scope)
    with rt.session() as s:
        before = dict(s.execute(select(CwMessage.id, CwMessage.synced_at).filter_by(**scope.as_filter())).all())
        chunk_before = dict(s.execute(select(RagChunk.source_pk, RagChunk.text_hash)
                                      .filter_by(**scope.as_filter())).all())
    emu.mutate_many([
        {"vendor": "chatwoot", "op": "update_message", "account_id": ACC, "conversation_id": 1, "message_id": 1005,
         "set": {"content": "Edited: the delivery moves to next Friday, please confirm"}},
        {"vendor": "chatwoot", "op": "delete_message", "account_id": ACC, "conversation_id": 2, "message_id": 1010},
        {"vendor": "chatwoot", "op": "add_message", "account_id": ACC, "conversation_id": 3,
         "message": {"content": "A brand new question about the invoice for March", "message_type": 0,
                     "private": False, "sender_type": "Contact", "sender_id": 103}},
    ])
    result = sync("chatwoot", scope)
    assert result["processed_messages"] == 3
    assert (result["inserted_chunks"], result["reembedded_chunks"], result["deleted_chunks"]) == (1, 1, 1)
    with rt.session() as s:
        after = dict(s.execute(select(CwMessage.id, CwMessage.synced_at).filter_by(**scope.as_filter())).all())
        deleted = s.scalar(select(CwMessage).filter_by(message_id=1010, **scope.as_filter()))
        chunk_after = dict(s.execute(select(RagChunk.source_pk, RagChunk.text_hash)
                                     .filter_by(**scope.as_filter())).all())
    changed = {k for k in after if before.get(k) != after[k]}
    assert {k.rsplit(":", 1)[1] for k in changed} == {"1005", "1010", "1021"}
    assert deleted.deleted is True and deleted.content == cw.DELETED_TEXT
    assert {k.rsplit(":", 1)[1] for k in set(chunk_before) ^ set(chunk_after)} == {"1010", "1021"}
    assert [k.rsplit(":", 1)[1] for k in chunk_before if k in chunk_after and chunk_before[k] != chunk_after[k]] \
        == ["1005"]


def test_awkward_messages_are_stored_cleanly(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    data = fixtures(now)
    conv, msgs = edge_conversation(now)
    data["chatwoot"]["accounts"][str(ACC)]["conversations"].append(conv)
    data["chatwoot"]["accounts"][str(ACC)]["messages"]["50"] = msgs
    emu.load(data)
    sync("chatwoot", scope)
    with rt.session() as s:
        stored = {m.message_id: m for m in s.scalars(select(CwMessage).filter_by(conversation_id=50,
                                                                                   **scope.as_filter()))}
        chunked = set(s.scalars(select(RagChunk.message_global_id).filter_by(**scope.as_filter())))
        attachments = list(s.scalars(select(CwAttachmentRaw).filter_by(**scope.as_filter())))
        contact = s.scalar(select(CwContact).filter_by(contact_id=150, **scope.as_filter()))
    assert len(stored) == 9
    assert len(stored[5001].content) == 20_000 and stored[5002].content == "" and stored[5003].content == ""
    assert stored[5004].content.startswith("NUL inside") and "\x00" not in json.dumps(stored[5004].data)
    assert "\ufffd" in stored[5005].content
    assert stored[5006].private is True and stored[5007].message_type == "activity" and stored[5008].deleted
    assert stored[5009].content == ""  # whitespace-only
    assert contact.name == "Ирина Соколова"
    assert {a.id.rsplit(":", 1)[1] for a in attachments} == {"71", "72"}
    assert all(a.message_global_id == stored[5003].id for a in attachments)
    expected = {stored[i].id for i in (5001, 5004, 5005)}
    assert expected <= chunked and not {stored[i].id for i in (5002, 5003, 5006, 5007, 5008, 5009)} & chunked
    with rt.session() as s:
        long_chunks = s.scalar(select(RagChunk.chunk_index).filter_by(message_global_id=stored[5001].id)
                               .order_by(RagChunk.chunk_index.desc()).limit(1))
    assert long_chunks == 19  # 20 000 characters in chunks of 1 000


def test_invalid_utf8_bytes_in_a_page_are_replaced(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    raw = json.dumps({"meta": {}, "payload": [cw.message(1002, 1, content="PLACEHOLDER", message_type=0,
                                                         created_at=now - 7000, account_id=ACC)]})
    body = raw.encode().replace(b"PLACEHOLDER", b"bad \xff\xfe bytes and a NUL \\u0000 here, long enough")
    emu.fault("chatwoot", path_regex=r"/conversations/1/messages$", status=200, body=body,
              headers={"Content-Type": "application/json"})
    sync("chatwoot", scope)
    with rt.session() as s:
        content = s.scalar(select(CwMessage.content).filter_by(message_id=1002, **scope.as_filter()))
    assert content == "bad \ufffd\ufffd bytes and a NUL  here, long enough"


def test_backfill_reads_older_pages_with_before_and_later_runs_go_forward_with_after(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=1, per_conversation=65))
    sync("chatwoot", scope)
    assert count(rt, CwMessage, scope) == 65
    queries = [r["query"] for r in message_requests(emu)]
    assert queries == [{}, {"before": "1046"}, {"before": "1026"}, {"before": "1006"}]
    for _ in range(3):
        emu.mutate("chatwoot", "add_message", account_id=ACC, conversation_id=1,
                   message={"content": "follow-up question about the release", "message_type": 0})
    emu.clear_requests()
    result = sync("chatwoot", scope)
    assert result["processed_messages"] == 3 and count(rt, CwMessage, scope) == 68
    assert [r["query"] for r in message_requests(emu)] == [{}, {"after": "1065"}]


def test_capped_conversation_continues_on_the_next_run(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    sync("chatwoot", scope)
    for _ in range(130):
        emu.mutate("chatwoot", "add_message", account_id=ACC, conversation_id=2,
                   message={"content": "bulk import line", "message_type": 1})
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_MESSAGES_LIMIT": "50"})
    capped = sync("chatwoot", scope)
    assert capped["capped_conversations"] == 1 and capped["processed_messages"] == 100
    follow = sync("chatwoot", scope)
    assert follow["capped_conversations"] == 0 and follow["processed_messages"] == 30
    assert count(rt, CwMessage, scope, conversation_id=2) == 135


def test_a_truncated_run_processes_the_most_recent_conversations_and_records_the_rest(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=30, per_conversation=1))
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "20"})
    first = sync("chatwoot", scope)
    assert first["truncated"] is True and first["processed_conversations"] == 20
    with rt.session() as s:
        activity = dict(s.execute(select(CwConversation.conversation_id, CwConversation.updated_at)
                                  .filter_by(**scope.as_filter())).all())
        mark = s.scalar(select(SyncWatermark).filter_by(**scope.as_filter()))
    assert sorted(activity) == list(range(11, 31))  # the 20 most recently active
    # the cursor watches new activity (the newest processed); what is older is owed by the backlog
    assert mark.cursor_ts == activity[30] and mark.meta["truncated"] is True
    [window] = mark.meta["backlog"]["windows"]
    assert parse_ts(window["floor"]) == parse_ts(first["scan_floor"]) and parse_ts(window["below"]) == activity[11]
    assert mark.meta["backlog"] == first["backlog"] and first["backlog_conversations"] == 0
    second = sync("chatwoot", scope)
    assert (second["truncated"], second["backlog"], second["backlog_conversations"]) == (False, None, 10)
    assert second["processed_conversations"] == 16  # the ten owed, then six re-reads of the overlap
    assert count(rt, CwConversation, scope) == 30 and count(rt, CwMessage, scope) == 30


def test_duplicated_conversations_across_pages_and_a_partial_last_page(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    data = fixtures(now, conversations=27, per_conversation=1)
    convs = data["chatwoot"]["accounts"][str(ACC)]["conversations"]
    convs.append({**convs[26], "last_activity_at": now - 7100, "timestamp": now - 7100})  # again, on page 2
    emu.load(data)
    result = sync("chatwoot", scope)
    pages = [r["query"]["page"] for r in emu.requests("chatwoot") if r["path"].endswith("/conversations")]
    assert pages == ["1", "2"]  # 28 listed: 25 + 3, the short page ends the listing
    assert result["processed_conversations"] == 27 and count(rt, CwConversation, scope) == 27


def test_a_conversation_gone_upstream_is_skipped_and_the_run_goes_on(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    emu.fault("chatwoot", path_regex=r"/conversations/3/messages$", status=404)
    result = sync("chatwoot", scope)
    assert result["skipped_conversations"] == 1 and result["processed_conversations"] == 3
    assert count(rt, CwConversation, scope) == 3 and count(rt, CwMessage, scope) == 15


# --- vendor faults ---------------------------------------------------------------------------------------
def test_429_with_retry_after_seconds_is_waited_then_succeeds(cw_env, caplog) -> None:
    emu, scope, sleeps = cw_env["emu"], cw_env["scope"], cw_env["sleeps"]
    emu.fault("chatwoot", kind="rate_limit", path_regex=r"/conversations$", retry_after=3)
    with caplog.at_level("WARNING", logger="shared.retry"):
        sync("chatwoot", scope)
    listing = [r for r in emu.requests("chatwoot") if r["path"].endswith("/conversations")]
    assert [r["status"] for r in listing] == [429, 200, 200] and sleeps.waits == [3.0]  # page 1 twice, page 2
    [warning] = [r for r in caplog.records if r.name == "shared.retry"]  # one WARNING per retry
    fields = warning.fields
    assert fields["operation"] == f"chatwoot GET {emu.chatwoot_url}/api/v1/accounts/{ACC}/conversations"
    assert (fields["status"], fields["attempt"]) == (429, 1) and TOKEN not in repr(warning.__dict__)


def test_429_with_an_http_date_and_without_retry_after(cw_env) -> None:
    emu, scope, sleeps = cw_env["emu"], cw_env["scope"], cw_env["sleeps"]
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    emu.fault("chatwoot", path_regex=r"/inboxes$", status=429, headers={"Retry-After": when})
    emu.fault("chatwoot", path_regex=r"/conversations$", status=429)
    sync("chatwoot", scope)
    assert len(sleeps.waits) == 2
    assert 15 <= sleeps.waits[0] <= 20 and 0 <= sleeps.waits[1] <= 0.5  # named delay; then full jitter


def test_retry_after_above_the_cap_fails_at_once_for_rq_to_retry(cw_env) -> None:
    emu, scope, sleeps = cw_env["emu"], cw_env["scope"], cw_env["sleeps"]
    emu.fault("chatwoot", kind="rate_limit", path_regex=r"/inboxes$", retry_after=600)
    with pytest.raises(TransientError, match="HTTP 429"):
        sync("chatwoot", scope)
    assert sleeps.waits == [] and len(emu.requests("chatwoot")) == 1


@pytest.mark.parametrize("fault", [
    {"status": 502},
    {"status": 503, "body": "<html>maintenance</html>"},
    {"kind": "drop_connection"},
    {"status": 200, "body": "<html>not json</html>"},
    {"status": 200, "body": b"{\"payload\": [1, 2"},
], ids=["502", "503-html", "connection-reset", "html-200", "truncated-json"])
def test_transient_faults_are_retried_and_the_sync_completes(cw_env, fault: dict[str, Any]) -> None:
    emu, scope, sleeps = cw_env["emu"], cw_env["scope"], cw_env["sleeps"]
    emu.fault("chatwoot", path_regex=r"/conversations/2/messages$", times=2, **fault)
    result = sync("chatwoot", scope)
    assert result["processed_messages"] == 20 and len(sleeps.waits) == 2
    calls = [r for r in message_requests(emu) if "/conversations/2/" in r["path"]]
    assert len(calls) == 3


def test_read_timeout_is_retried(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    set_env(cw_env["monkeypatch"], rt, {"CONNECTOR_HTTP_TIMEOUT_SECONDS": "1"})
    emu.fault("chatwoot", path_regex=r"/inboxes$", delay_ms=1500)
    result = sync("chatwoot", scope)
    assert result["touched_inboxes"] == 2 and len([r for r in emu.requests("chatwoot")
                                                   if r["path"].endswith("/inboxes")]) == 2


def test_persistent_failure_leaves_no_half_written_conversation(cw_env) -> None:
    rt, emu, scope = cw_env["rt"], cw_env["emu"], cw_env["scope"]
    emu.fault("chatwoot", path_regex=r"/conversations/2/messages$", times=-1, status=503)
    with pytest.raises(TransientError, match="HTTP 503"):
        sync("chatwoot", scope)
    with rt.session() as s:
        stored = set(s.scalars(select(CwConversation.conversation_id).filter_by(**scope.as_filter())))
        err = s.scalar(select(ConnectorError).filter_by(**scope.as_filter()))
        state = s.scalar(select(ConnectorSyncState).filter_by(**scope.as_filter()))
    assert stored == {4, 3}  # most recent first; 2 failed and nothing of it was written
    assert count(rt, CwMessage, scope, conversation_id=2) == 0
    assert err.error_kind == "http_503" and "HTTP 503" in err.error_message and state.status == "failed"
    assert count(rt, SyncWatermark, scope) == 0  # the watermark moves only on success


def test_persistent_failure_ends_in_the_dlq_with_a_clear_reason(emu, api, runtime, run_jobs, monkeypatch,
                                                                sleeps) -> None:
    from tests.jobs.jobsys import error_rows, promote_scheduled, run_row

    emu.reset()
    emu.load(fixtures(int(time.time())))
    set_env(monkeypatch, runtime, emu.env())
    api.create_project("DLQ")
    assert api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": str(ACC)}).status_code == 201
    emu.fault("chatwoot", path_regex=r"/conversations$", times=-1, status=500)
    run_id = api.post("/connectors/chatwoot/sync").get_json()["job"]["id"]
    run_jobs("chatwoot")
    while promote_scheduled(runtime, "chatwoot"):
        run_jobs("chatwoot")
    row = run_row(runtime, run_id)
    [err] = error_rows(runtime)
    assert (row.status, row.attempt) == ("failed", 3) and "HTTP 500" in row.error
    assert (err.status, err.error_kind, err.attempt) == ("dead_letter", "http_500", 3)
    assert "chatwoot GET" in err.error_message and TOKEN not in err.error_message
    assert len([r for r in emu.requests("chatwoot") if r["path"].endswith("/conversations")]) == 9  # 3 × 3


def test_401_makes_exactly_one_request_and_goes_to_the_dlq(emu, api, runtime, run_jobs, monkeypatch) -> None:
    from shared.queues import failed_registry
    from tests.jobs.jobsys import error_rows, run_row

    emu.reset()
    emu.load(fixtures(int(time.time())))
    set_env(monkeypatch, runtime, emu.env() | {"CHATWOOT_API_TOKEN": "revoked"})
    api.create_project("Revoked")
    api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": str(ACC)})
    job = api.post("/connectors/chatwoot/sync").get_json()["job"]
    run_jobs("chatwoot")
    row = run_row(runtime, job["id"])
    [err] = error_rows(runtime)
    assert row.status == "failed" and row.attempt == 1 and "authentication failed" in row.error
    assert (err.status, err.error_kind) == ("dead_letter", "auth_failed")
    assert job["rq_job_id"] in failed_registry("chatwoot", runtime.redis)
    assert len(emu.requests("chatwoot")) == 1


def test_missing_token_is_skipped_without_any_request(emu, api, runtime, run_jobs, monkeypatch) -> None:
    from tests.jobs.jobsys import error_rows, run_row

    emu.reset()
    emu.load(fixtures(int(time.time())))
    set_env(monkeypatch, runtime, emu.env(), drop=("CHATWOOT_API_TOKEN",))
    api.create_project("No token")
    api.post("/connectors/bindings", {"connector": "chatwoot", "external_id": str(ACC)})
    job = api.post("/connectors/chatwoot/sync").get_json()["job"]
    run_jobs("chatwoot")
    row = run_row(runtime, job["id"])
    assert row.status == "skipped" and row.meta["result"]["skipped"] == "missing_credentials"
    assert row.meta["result"]["missing"] == ["CHATWOOT_API_TOKEN"]
    assert emu.requests() == [] and error_rows(runtime) == []


# --- crash safety ------------------------------------------------------------------------------------------
def neutral_rows(rt: Any, scope: Any) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "conversations": rows(rt, CwConversation, scope, "id", "status", "contact_global_id", "updated_at"),
        "messages": rows(rt, CwMessage, scope, "id", "content", "deleted", "private", "contact_global_id",
                         "created_at", "data"),
        "contacts": rows(rt, CwContact, scope, "id", "name", "updated_at", "data"),
        "chunks": sorted(rows(rt, RagChunk, scope, "source_pk", "chunk_index", "text_hash", "embedding_status",
                              order="source_pk")),
    }


def rebind(rt: Any, old: Any, new: Any) -> None:
    """Move the account's binding from project ``old`` to ``new`` (old rows stay as the reference)."""
    with rt.transaction() as s:
        s.execute(delete(ProjectSource).filter_by(**old.as_filter()))
    bind(rt, new, "chatwoot", ACC)


def test_a_crash_mid_sync_then_a_rerun_gives_the_rows_of_an_uninterrupted_run(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=6, per_conversation=8))
    sync("chatwoot", scope)
    reference = neutral_rows(rt, scope)
    crashed = make_project(rt, "Crashed")
    rebind(rt, scope, crashed)
    real = connector.ChatwootSync.sync_conversation
    calls = {"n": 0}

    def crashing(self: Any, item: dict[str, Any], since: datetime) -> Any:
        calls["n"] += 1
        if calls["n"] == 4:
            raise RuntimeError("worker crashed")
        return real(self, item, since)

    cw_env["monkeypatch"].setattr(connector.ChatwootSync, "sync_conversation", crashing)
    with pytest.raises(RuntimeError):
        sync("chatwoot", crashed)
    assert count(rt, CwConversation, crashed) == 3
    cw_env["monkeypatch"].setattr(connector.ChatwootSync, "sync_conversation", real)
    sync("chatwoot", crashed)
    assert neutral_rows(rt, crashed) == reference


@pytest.mark.slow
def test_a_killed_worker_process_then_a_rerun_gives_the_rows_of_an_uninterrupted_run(cw_env, pg_url,
                                                                                    redis_url) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=6, per_conversation=8))
    sync("chatwoot", scope)
    reference = neutral_rows(rt, scope)
    victim = make_project(rt, "Killed")
    rebind(rt, scope, victim)
    emu.fault("chatwoot", path_regex=r"/messages$", times=-1, delay_ms=250)
    env = {**os.environ, **rt.settings.environ, "PYTHONPATH": str(ROOT)}
    code = ("import logging; from shared.runtime import current; from shared.scope import Scope;"
            "from jobs.connectors.sync import run_sync;"
            f"run_sync('chatwoot', Scope.of({str(victim.project_id)!r}, {str(victim.account_scope_id)!r}), {{}},"
            " logging.getLogger('victim'))")
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: count(rt, CwConversation, victim) >= 2, timeout=30, message="two committed conversations")
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    emu.reset()
    emu.load(fixtures(now, conversations=6, per_conversation=8))
    assert 2 <= count(rt, CwConversation, victim) < 6
    sync("chatwoot", victim)
    assert neutral_rows(rt, victim) == reference


def test_a_revoked_token_mid_run_raises_a_permanent_error(cw_env) -> None:
    emu, scope = cw_env["emu"], cw_env["scope"]
    emu.fault("chatwoot", path_regex=r"/conversations/1/messages$", status=401)
    with pytest.raises(UpstreamClientError) as info:
        sync("chatwoot", scope)
    assert info.value.error_kind == "auth_failed"


# --- backlog of truncated runs (jobs/connectors/chatwoot.py module docstring) -------------------------------
def sync_until_settled(scope: Any, max_runs: int = 30) -> list[dict[str, Any]]:
    """Sync until a run is neither truncated nor left with a backlog; the results of every run."""
    results: list[dict[str, Any]] = []
    while len(results) < max_runs:
        results.append(sync("chatwoot", scope))
        if results[-1]["backlog"] is None and not results[-1]["truncated"]:
            return results
    raise AssertionError(f"still owed after {max_runs} runs: {results[-1]['backlog']}")


def reference_rows(cw_env: dict[str, Any]) -> tuple[dict[str, list[tuple[Any, ...]]], Any]:
    """Rows of one uninterrupted, untruncated sync; then the account bound to a new project."""
    rt, scope = cw_env["rt"], cw_env["scope"]
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "1000"})
    assert sync("chatwoot", scope)["truncated"] is False
    reference = neutral_rows(rt, scope)
    other = make_project(rt, "Small limit")
    rebind(rt, scope, other)
    return reference, other


def below(result: dict[str, Any]) -> datetime | None:
    return parse_ts(result["backlog"]["below"]) if result["backlog"] else None


def test_a_small_limit_syncs_every_conversation_and_message_exactly_once(cw_env) -> None:
    rt, emu, now = cw_env["rt"], cw_env["emu"], cw_env["now"]
    emu.load(fixtures(now, conversations=60, per_conversation=3))
    reference, small = reference_rows(cw_env)
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "8", "CHATWOOT_OVERLAP_SECONDS": "120"})
    results = sync_until_settled(small)
    assert results[0]["truncated"] is True and len(results) > 2
    assert all(r["backlog_conversations"] > 0 for r in results[1:])  # every later run pays some back
    owed = [below(r) for r in results[:-1]]
    assert owed == sorted(owed, reverse=True) and len(set(owed)) == len(owed)  # the window only moves down
    assert sum(r["processed_messages"] for r in results) == 180  # each message written once, never again
    assert neutral_rows(rt, small) == reference


def test_new_activity_after_a_truncated_run_still_drains_the_backlog(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=40, per_conversation=2))
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "10"})
    first = sync("chatwoot", scope)
    assert first["truncated"] is True and first["processed_conversations"] == 10
    emu.mutate_many([{"vendor": "chatwoot", "op": "add_message", "account_id": ACC, "conversation_id": cid, "at": now,
                      "message": {"content": f"New question in conversation {cid} about the invoice",
                                  "message_type": 0}} for cid in (3, 20, 35)])
    second = sync("chatwoot", scope)
    assert second["truncated"] is False and second["backlog_conversations"] == 7  # the limit minus new activity
    with rt.session() as s:
        bumped = set(s.scalars(select(CwMessage.conversation_id).filter_by(**scope.as_filter())
                               .where(CwMessage.content.like("New question%"))))
    assert bumped == {3, 20, 35}  # the normal selection took the new activity first
    results = [first, second, *sync_until_settled(scope)]
    assert count(rt, CwConversation, scope) == 40 and count(rt, CwMessage, scope) == 83
    assert sum(r["processed_messages"] for r in results) == 83


def test_a_burst_that_truncates_again_keeps_both_windows_and_drains_them(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=30, per_conversation=1))
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "10"})
    first = sync("chatwoot", scope)
    emu.mutate_many([{"vendor": "chatwoot", "op": "add_message", "account_id": ACC, "conversation_id": cid,
                      "at": now + 60, "message": {"content": f"Burst message {cid}", "message_type": 0}}
                     for cid in range(1, 13)])  # twelve owed conversations, all active in the same second
    second = sync("chatwoot", scope)
    assert second["truncated"] is True and second["processed_conversations"] == 10
    newer, older = second["backlog"]["windows"]
    assert parse_ts(newer["below"]) == datetime.fromtimestamp(now + 60, UTC)  # two conversations tied there
    assert older == first["backlog"]["windows"][0]  # untouched: the selection spent the whole budget
    assert second["backlog"]["floor"] == older["floor"]
    results = [first, second, *sync_until_settled(scope)]
    assert count(rt, CwConversation, scope) == 30 and count(rt, CwMessage, scope) == 42
    assert sum(r["processed_messages"] for r in results) == 42


def test_a_page_limit_truncation_is_paid_back_from_the_page_it_stopped_at(cw_env) -> None:
    rt, emu, scope, now = cw_env["rt"], cw_env["emu"], cw_env["scope"], cw_env["now"]
    emu.load(fixtures(now, conversations=80, per_conversation=1))
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_PAGES_LIMIT": "2", "CHATWOOT_OVERLAP_SECONDS": "0"})
    first = sync("chatwoot", scope)
    assert first["truncated"] is True and first["processed_conversations"] == 50
    assert first["backlog"]["windows"][0]["page"] == 3
    emu.clear_requests()
    results = [first, *sync_until_settled(scope)]
    pages = [r["query"]["page"] for r in emu.requests("chatwoot") if r["path"].endswith("/conversations")]
    assert pages == ["1", "3", "1", "4"]  # straight to the owed pages, within the two-page budget
    assert [r["backlog_conversations"] for r in results] == [0, 25, 5]
    assert count(rt, CwConversation, scope) == 80 and sum(r["processed_messages"] for r in results) == 80


def test_a_crash_while_paying_back_the_backlog_then_reruns_give_the_rows_of_an_uninterrupted_run(cw_env) -> None:
    rt, emu, now = cw_env["rt"], cw_env["emu"], cw_env["now"]
    emu.load(fixtures(now, conversations=30, per_conversation=4))
    reference, crashed = reference_rows(cw_env)
    set_env(cw_env["monkeypatch"], rt, {"CHATWOOT_CONVERSATIONS_LIMIT": "10"})
    assert sync("chatwoot", crashed)["truncated"] is True
    with rt.session() as s:
        before = s.scalar(select(SyncWatermark).filter_by(**crashed.as_filter()))
        before = (before.cursor_ts, before.meta["backlog"])
    real = connector.ChatwootSync.sync_conversation
    calls = {"n": 0}

    def crashing(self: Any, item: dict[str, Any], since: datetime) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:  # the overlap is synced already: the backlog's third conversation
            raise RuntimeError("worker crashed")
        return real(self, item, since)

    cw_env["monkeypatch"].setattr(connector.ChatwootSync, "sync_conversation", crashing)
    with pytest.raises(RuntimeError):
        sync("chatwoot", crashed)
    with rt.session() as s:
        after = s.scalar(select(SyncWatermark).filter_by(**crashed.as_filter()))
        assert (after.cursor_ts, after.meta["backlog"]) == before  # nothing moved: the rows are re-done
    assert count(rt, CwConversation, crashed) == 12  # ten of the first run and two of the backlog
    cw_env["monkeypatch"].setattr(connector.ChatwootSync, "sync_conversation", real)
    sync_until_settled(crashed)
    assert neutral_rows(rt, crashed) == reference
