"""The KAG event log (kag.md §5.1): domain events derived from stored connector rows, inline in the
connector sync (platform §9.1 step 6) and by the `kag_event_log_sync` backfill job; re-syncs never
duplicate an event."""
# ruff: noqa: F811 - pytest fixtures imported from tests.jobs.connector_support

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select

from jobs.connectors.sync import run_sync
from jobs.kag.handlers import sync_connector_event_log
from shared.db.models.attio import AttioActivityRaw
from shared.db.models.kag import KagEventLog
from shared.jobs import enqueue
from tests.emulators import chatwoot as cw
from tests.jobs.connector_support import bind, emu, fresh, make_project, set_env, sleeps  # noqa: F401
from tests.jobs.kag_v1_support import NOW, add_deal, add_issue, add_message, job_runs, scope_of, ts

LOG = logging.getLogger("tests.kag_event_log")
WINDOW = {"since": "2026-02-01T00:00Z", "until": "2026-02-17T12:00Z"}


def logged(rt: Any, scope: Any, source: str | None = None) -> list[tuple[str, str, str]]:
    with rt.session() as s:
        stmt = select(KagEventLog.event_type, KagEventLog.source_ref, KagEventLog.actor).filter_by(
            **scope.as_filter()).where(KagEventLog.source != "system")
        if source:
            stmt = stmt.where(KagEventLog.source == source)
        return [tuple(r) for r in s.execute(stmt.order_by(KagEventLog.occurred_at, KagEventLog.id))]


def test_chatwoot_messages_become_domain_events_once(api, runtime) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_message(runtime, scope, global_id="cw:7:t1", created_at="2026-02-10T09:00Z", sender_type="user",
                content="Please approve the mockups", conversation="cw:7:c1")
    add_message(runtime, scope, global_id="cw:7:n1", created_at="2026-02-10T09:30Z", sender_type="user",
                content="internal: client wants a change request", conversation="cw:7:c1", private=True)
    add_message(runtime, scope, global_id="cw:7:c2m", created_at="2026-02-16T09:00Z", sender_type="contact",
                content="This is out of scope, I know", conversation="cw:7:c2")
    first = sync_connector_event_log(runtime, scope, "chatwoot", now=NOW, **WINDOW)
    assert (first["connector"], first["generated"], first["inserted"]) == ("chatwoot", 6, 6)
    assert (first["since_ts"], first["until_ts"]) == ("2026-02-01T00:00:00.000Z", "2026-02-17T12:00:00.000Z")
    assert logged(runtime, scope) == [
        ("message_sent", "cw:7:t1", "team"), ("approval_requested", "cw:7:t1", "team"),
        ("client_silent_started", "cw:7:c1", "system"),  # team wrote last, 7 days before `until`
        ("message_sent", "cw:7:n1", "team"),  # a private note: message_sent only
        ("message_sent", "cw:7:c2m", "client"), ("scope_change_detected", "cw:7:c2m", "client")]
    with runtime.session() as s:
        note = s.scalar(select(KagEventLog).filter_by(source_ref="cw:7:n1", **scope.as_filter()))
    assert note.payload_json["private"] is True and note.source_message_id == "cw:7:n1"
    assert note.source_url.startswith("chatwoot://accounts/7/conversations/1/messages/")

    again = sync_connector_event_log(runtime, scope, "chatwoot", now=NOW, **WINDOW)
    assert (again["generated"], again["inserted"]) == (6, 0)
    assert len(logged(runtime, scope)) == 6


def test_linear_issue_blocked_then_unblocked_once_each(api, runtime) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_issue(runtime, scope, external_id="LIN-1", created_at="2026-02-05T09:00Z", updated_at="2026-02-06T09:00Z",
              blocked=True)
    assert sync_connector_event_log(runtime, scope, "linear", now=NOW, since="2026-02-01T00:00Z",
                                    until="2026-02-08T00:00Z")["inserted"] == 2
    add_issue(runtime, scope, external_id="LIN-1", created_at="2026-02-05T09:00Z", updated_at="2026-02-09T09:00Z",
              blocked=True)  # touched, still blocked: no second issue_blocked
    assert sync_connector_event_log(runtime, scope, "linear", now=NOW, since="2026-02-08T00:00Z",
                                    until="2026-02-10T00:00Z")["inserted"] == 0
    add_issue(runtime, scope, external_id="LIN-1", created_at="2026-02-05T09:00Z", updated_at="2026-02-11T09:00Z",
              blocked=False, state="Done")
    for _ in range(2):
        sync_connector_event_log(runtime, scope, "linear", now=NOW, since="2026-02-10T00:00Z",
                                 until="2026-02-12T00:00Z")
    assert logged(runtime, scope) == [("issue_created", "LIN-1", "system"), ("issue_blocked", "LIN-1", "system"),
                                      ("issue_unblocked", "LIN-1", "system")]


def test_attio_stage_changes_and_activities(api, runtime) -> None:
    scope = scope_of(api.create_project("Studio Redesign"))
    add_deal(runtime, scope, external_id="deal-1", updated_at="2026-02-10T10:00Z", amount=5000, stage="Proposal")
    with runtime.transaction() as s:
        s.add(AttioActivityRaw(id="attio:act:1", workspace_id="ws", external_id="act-1", record_external_id="deal-1",
                               activity_type="note", note="Call went well", occurred_at=ts("2026-02-10T11:00Z"),
                               updated_at=ts("2026-02-10T11:00Z"), **scope.as_filter()))
    sync_connector_event_log(runtime, scope, "attio", now=NOW, since="2026-02-01T00:00Z", until="2026-02-11T00:00Z")
    add_deal(runtime, scope, external_id="deal-1", updated_at="2026-02-12T10:00Z", amount=6000, stage="Proposal")
    sync_connector_event_log(runtime, scope, "attio", now=NOW, since="2026-02-11T00:00Z", until="2026-02-13T00:00Z")
    add_deal(runtime, scope, external_id="deal-1", updated_at="2026-02-14T10:00Z", amount=6000, stage="Frozen")
    sync_connector_event_log(runtime, scope, "attio", now=NOW, since="2026-02-13T00:00Z", until="2026-02-15T00:00Z")
    assert logged(runtime, scope) == [("deal_stage_changed", "deal-1", "system"), ("note_logged", "act-1", "team"),
                                      ("deal_stage_changed", "deal-1", "system")]
    assert sync_connector_event_log(runtime, scope, "hubspot", now=NOW) == {"connector": "hubspot", "inserted": 0}


def test_backfill_job_runs_the_same_function_for_an_explicit_window(api, runtime, run_jobs, monkeypatch) -> None:
    monkeypatch.setattr("jobs.kag.handlers_common.clock", lambda: NOW)
    scope = scope_of(api.create_project("Studio Redesign"))
    add_message(runtime, scope, global_id="cw:7:m1", created_at="2026-02-16T09:00Z", content="hello")
    params = {"connector": "chatwoot", "since_ts": "2026-02-15T00:00:00Z", "until_ts": "2026-02-17T00:00:00Z"}
    for _ in range(2):
        enqueue(runtime, scope=scope, job_type="kag_event_log_sync", params=params, requested_by="operator")
        run_jobs("kag_signals")
    first, second = job_runs(runtime, scope, "kag_event_log_sync")
    assert first.status == second.status == "ok"
    assert first.meta["result"] == {"connector": "chatwoot", "generated": 1, "inserted": 1,
                                    "since_ts": "2026-02-15T00:00:00.000Z", "until_ts": "2026-02-17T00:00:00.000Z"}
    assert (second.meta["result"]["inserted"], second.processed_count) == (0, 0)
    assert [e[0] for e in logged(runtime, scope)] == ["message_sent"]
    events = api.get("/kag/events", query_string={"source": "system"}).get_json()["events"]
    assert {e["source_ref"] for e in events} == {"kag_event_log_sync"}

    enqueue(runtime, scope=scope, job_type="kag_event_log_sync", params={**params, "since_ts": "yesterday"},
            requested_by="operator")
    run_jobs("kag_signals")
    assert job_runs(runtime, scope, "kag_event_log_sync")[-1].status == "failed"  # permanent: bad params


def test_connector_sync_derives_events_inline_and_a_resync_adds_none(emu, fresh, monkeypatch, sleeps) -> None:
    emu.reset()
    now = int(time.time())
    team, person = cw.agent(3, "Anna"), cw.contact(101, "Client")
    messages = [cw.message(2001, 1, content="Please approve the design", message_type=1, created_at=now - 600,
                           sender=team, account_id=1),
                cw.message(2002, 1, content="Looks good, but the blog is out of scope?", message_type=0,
                           created_at=now - 300, sender=person, account_id=1)]
    emu.load({"chatwoot": {"token": "cw-token", "accounts": {"1": {
        "inboxes": [cw.inbox(1, "Website chat")], "messages": {"1": messages},
        "conversations": [cw.conversation(1, inbox_id=1, status="open", sender=person, last_activity_at=now - 300,
                                          created_at=now - 900, account_id=1, assignee=team)]}}}})
    set_env(monkeypatch, fresh, emu.env() | {"CHATWOOT_ACCOUNT_ID": "1"})
    scope = make_project(fresh, "Chatwoot events")
    bind(fresh, scope, "chatwoot", 1)

    out = run_sync("chatwoot", scope, {}, LOG)
    assert out["event_log"]["connector"] == "chatwoot" and out["event_log"]["inserted"] == 4
    assert sorted(e[0] for e in logged(fresh, scope)) == ["approval_requested", "message_sent", "message_sent",
                                                          "scope_change_detected"]
    again = run_sync("chatwoot", scope, {}, LOG)
    assert again["event_log"]["inserted"] == 0 and len(logged(fresh, scope)) == 4
