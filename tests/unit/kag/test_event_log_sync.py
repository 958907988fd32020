"""Domain event-log derivation (kag.md §5.1) and process events (§5.2)."""

from __future__ import annotations

from datetime import timedelta

from jobs.kag.event_log_sync import derive_connector_events, domain_dedupe_key, resolve_window
from jobs.kag.events_log import KagWarning, ProcessContext, ProcessEventRecorder, is_process_event
from jobs.kag.keys import sha1hex
from tests.unit.kag._support import NOW

WINDOW = resolve_window(NOW, since="2026-02-10T00:00:00Z")


def cw(i: int, content: str, sender: str, ts: str, **extra) -> dict:
    return {
        "id": f"cwmsg:p:1:{i}",
        "account_id": 1,
        "conversation_id": 9,
        "message_id": i,
        "conversation_global_id": "cw:p:1:9",
        "sender_type": sender,
        "private": False,
        "message_type": "outgoing",
        "content": content,
        "created_at": ts,
        "updated_at": ts,
    } | extra


def test_window_resolution():
    assert resolve_window(NOW).since == NOW - timedelta(days=14)
    assert resolve_window(NOW, cursor="2026-02-16T00:00Z").since.isoformat() == "2026-02-16T00:00:00+00:00"
    w = resolve_window(
        NOW, since="2026-02-01", until="2026-02-05", cursor="2026-02-16T00:00Z", lookback_days=3
    )
    assert (w.since.day, w.until.day) == (1, 5)


def test_chatwoot_messages_keywords_and_silence():
    messages = [
        cw(1, "Please approve the mockups", "User", "2026-02-12T10:00:00Z"),
        cw(2, "internal: out of scope?", "User", "2026-02-12T11:00:00Z", private=True),
        cw(3, "This is a change request", "Contact", "2026-02-09T10:00:00Z"),  # before the window
    ]
    sync = derive_connector_events("chatwoot", WINDOW, messages=messages)
    assert [(r.event_type, r.source_ref, r.actor) for r in sync.rows] == [
        ("message_sent", "cwmsg:p:1:1", "team"),
        ("approval_requested", "cwmsg:p:1:1", "team"),
        ("message_sent", "cwmsg:p:1:2", "team"),
        ("client_silent_started", "cw:p:1:9", "system"),
    ]
    first = sync.rows[0]
    assert first.source_url == "chatwoot://accounts/1/conversations/9/messages/1"
    assert first.payload_json["snippet"] == "Please approve the mockups"
    assert sync.rows[2].payload_json["private"] is True
    silent = sync.rows[3]
    assert silent.occurred_at.isoformat() == "2026-02-12T10:00:00+00:00"  # private notes do not count
    assert silent.dedupe_key == domain_dedupe_key(
        "chatwoot", "client_silent_started", "cw:p:1:9", silent.occurred_at
    )
    assert sync.result()["generated"] == 4


def test_client_answer_or_recent_team_message_means_no_silence():
    activity = [
        {
            "conversation_global_id": "c1",
            "last_team_at": "2026-02-10T00:00Z",
            "last_client_at": "2026-02-11T00:00Z",
        },
        {"conversation_global_id": "c2", "last_team_at": "2026-02-15T00:00Z", "last_client_at": None},
        {"conversation_global_id": "c3", "last_team_at": "2026-02-13T12:00Z", "last_client_at": None},
    ]
    sync = derive_connector_events("chatwoot", WINDOW, conversation_activity=activity)
    assert [r.source_ref for r in sync.rows] == ["c3"]


def test_linear_created_blocked_unblocked_only_on_change():
    issues = [
        {
            "id": "linissue:w:1",
            "external_id": "1",
            "blocked": True,
            "vendor_created_at": "2026-02-11T00:00Z",
            "vendor_updated_at": "2026-02-12T00:00Z",
        },
        {
            "id": "linissue:w:2",
            "external_id": "2",
            "blocked": False,
            "vendor_created_at": "2026-01-01T00:00Z",
            "vendor_updated_at": "2026-02-13T00:00Z",
        },
        {
            "id": "linissue:w:3",
            "external_id": "3",
            "state": "Blocked",
            "vendor_created_at": "2026-01-01T00:00Z",
            "vendor_updated_at": "2026-02-13T00:00Z",
        },
    ]
    state = {"2": "issue_blocked", "3": "issue_blocked"}
    sync = derive_connector_events("linear", WINDOW, issues=issues, last_block_state=state)
    assert [(r.event_type, r.source_ref) for r in sync.rows] == [
        ("issue_created", "1"),
        ("issue_blocked", "1"),
        ("issue_unblocked", "2"),
    ]
    assert sync.rows[0].source_url == "linear://issues/1" and sync.rows[0].source_linear_issue_id == "1"


def test_attio_stage_changes_compare_normalised_stages_and_activities_are_typed():
    deals = [
        {
            "id": "attiodeal:w:a",
            "external_id": "a",
            "stage": "Won 🎉",
            "amount": 10,
            "updated_at": "2026-02-12T00:00Z",
        },
        {
            "id": "attiodeal:w:b",
            "external_id": "b",
            "stage": "Frozen",
            "amount": 5,
            "updated_at": "2026-02-12T00:00Z",
        },
    ]
    activities = [
        {
            "id": "attioact:w:1",
            "external_id": "n1",
            "activity_type": "note",
            "record_external_id": "a",
            "occurred_at": "2026-02-11T00:00Z",
            "updated_at": "2026-02-12T00:00Z",
        },
        {
            "id": "attioact:w:2",
            "external_id": "n2",
            "activity_type": "invoice_paid_event",
            "record_external_id": "a",
            "occurred_at": None,
            "updated_at": "2026-02-13T00:00Z",
        },
        {
            "id": "attioact:w:3",
            "external_id": "n3",
            "activity_type": "call",
            "updated_at": "2026-02-13T00:00Z",
        },
    ]
    sync = derive_connector_events(
        "attio", WINDOW, deals=deals, activities=activities, last_deal_stage={"a": "won", "b": "discovery"}
    )
    assert [(r.event_type, r.source_ref, r.actor) for r in sync.rows] == [
        ("deal_stage_changed", "b", "system"),
        ("note_logged", "n1", "team"),
        ("invoice_paid", "n2", "team"),
        ("activity_logged", "n3", "team"),
    ]
    deal_row = sync.rows[0]
    assert deal_row.payload_json["deal_id"] == "attiodeal:w:b" and deal_row.source_url == "attio://deals/b"
    assert sync.rows[1].occurred_at.isoformat() == "2026-02-11T00:00:00+00:00"
    assert sync.rows[1].source_attio_record_id == "a"


def test_unknown_connector_is_a_no_op_and_rows_are_deterministic():
    assert derive_connector_events("jira", WINDOW).result()["inserted"] == 0
    messages = [cw(1, "hi", "Contact", "2026-02-12T10:00:00Z")]
    a = derive_connector_events("chatwoot", WINDOW, messages=messages)
    b = derive_connector_events("chatwoot", WINDOW, messages=messages)
    assert [r.to_row() for r in a.rows] == [r.to_row() for r in b.rows]
    assert a.rows[0].dedupe_key == sha1hex("chatwoot|message_sent|cwmsg:p:1:1|2026-02-12T10:00:00.000Z")


def test_process_events_numbering_and_payloads():
    ctx = ProcessContext(
        job_run_id=7, job_type="kag_v2_forecast_refresh", queue="kag_forecast", attempt=2, rq_job_id="rq-1"
    )
    rec = ProcessEventRecorder(ctx)
    rec.started(NOW)
    w0 = rec.warning(NOW, KagWarning("forecast_unpublishable", "m", {"risk_types": ["x"]}))
    w1 = rec.warning(NOW, KagWarning("no_evidence_dropped", "m"))
    rec.finished(NOW, duration_ms=12, counters={"touched": 4})
    failed = ProcessEventRecorder(ctx).failed(NOW, duration_ms=5, error=ValueError("x" * 2000))
    assert [r.event_type for r in rec.rows] == [
        "process_started",
        "process_warning",
        "process_warning",
        "process_finished",
    ]
    assert w0.dedupe_key == sha1hex("system|process_warning|7|2|0")
    assert w1.dedupe_key == sha1hex("system|process_warning|7|2|1")
    assert rec.rows[0].dedupe_key == sha1hex("system|process_started|7|2|0")
    assert all(
        (r.source, r.actor, r.source_ref) == ("system", "system", "kag_v2_forecast_refresh") for r in rec.rows
    )
    assert (
        rec.rows[-1].payload_json["counters"] == {"touched": 4}
        and rec.rows[-1].payload_json["skipped"] is None
    )
    assert (
        failed.payload_json["error"]["type"] == "ValueError"
        and len(failed.payload_json["error"]["message"]) == 1000
    )
    assert all(is_process_event(r) for r in rec.rows)
    assert not is_process_event({"event_type": "message_sent"})
