"""Outbound pipeline through the routes (business.md §B4, §G4): drafts, approval, compliance, sending."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.timeutil import iso
from tests.conftest import Api
from tests.growth.conftest import Clock, attempts, audits, message_row, policy_row

R1 = "cwc:P:1:42"


def draft(api: Api, recipient: str, key: str, *, text: str | None = None, **extra: Any) -> dict:
    body = {"channel": "email", "recipient_ref": recipient, "idempotency_key": key,
            "payload": {"subject": "Hi", "body_text": text or f"message {key}"}, **extra}
    resp = api.post("/outbound/draft", body)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["outbound"]


def approve(api: Api, outbound_id: str) -> dict:
    resp = api.post(f"/outbound/{outbound_id}/approve")
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["outbound"]


def send(api: Api, outbound_id: str) -> tuple[int, dict]:
    resp = api.post(f"/outbound/{outbound_id}/send")
    return resp.status_code, resp.get_json()


def test_g4_outbound_compliance_worked_example(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    policy = api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "frequency_cap": 2,
                                            "frequency_window_hours": 24, "stop_on_reply": True}).get_json()["policy"]
    assert (policy["frequency_cap"], policy["frequency_window_hours"], policy["opted_out"]) == (2, 24, False)

    # 1. drafts; a draft cannot be sent (C1)
    m1, m2, m3 = (draft(api, R1, f"m{i}")["id"] for i in (1, 2, 3))
    assert send(api, m1)[1]["error"] == "outbound_invalid_state"
    assert message_row(runtime, m1).status == "draft" and attempts(runtime, m1) == []

    # 2. approve all three; two sends fit the cap
    for mid in (m1, m2, m3):
        approved = approve(api, mid)
        assert approved["status"] == "approved" and approved["approved_by"] == "operator"
    status, body = send(api, m1)
    assert status == 200 and body["outbound"]["status"] == "sent" and policy_row(runtime, R1).sent_in_window == 1
    assert body["outbound"]["retry_count"] == 1 and body["outbound"]["sent_at"] == iso(clock.now)
    assert body["outbound"]["next_attempt_at"] is None
    assert send(api, m2)[0] == 200 and policy_row(runtime, R1).sent_in_window == 2

    # 3. the cap is reached: failed, retry in 1 h, retry_count unchanged, audited as blocked
    status, body = send(api, m3)
    assert (status, body["error"]) == (429, "frequency_cap_reached")
    row = message_row(runtime, m3)
    assert row.status == "failed" and row.retry_count == 0 and row.last_error == "frequency_cap_reached"
    assert iso(row.next_attempt_at) == iso(clock.now + timedelta(hours=1))
    block = audits(runtime, "outbound.frequency_block", entity_id=m3)
    assert len(block) == 1 and block[0].status == "blocked"
    assert block[0].payload == {"reason": "frequency_cap_reached", "sent_in_window": 2, "frequency_cap": 2}

    # 4. 25 hours later the window has reset
    clock.advance(hours=25)
    status, body = send(api, m3)
    assert status == 200 and body["outbound"]["status"] == "sent"
    pol = policy_row(runtime, R1)
    assert pol.sent_in_window == 1 and iso(pol.window_started_at) == iso(clock.now)

    # 5. opt-out wins, and blocked_opt_out is terminal
    resp = api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "opted_out": True})
    assert resp.status_code == 200 and resp.get_json()["policy"]["opted_out"] is True
    m4 = draft(api, R1, "m4")["id"]
    approve(api, m4)
    status, body = send(api, m4)
    assert (status, body["error"]) == (409, "outbound_blocked_opt_out")
    assert message_row(runtime, m4).status == "blocked_opt_out" and attempts(runtime, m4) == []
    assert [a.status for a in audits(runtime, "outbound.opt_out_block", entity_id=m4)] == ["blocked"]
    assert api.post(f"/outbound/{m4}/approve").get_json()["error"] == "outbound_invalid_state"
    assert send(api, m4)[1]["error"] == "outbound_invalid_state"

    # 6. stop on reply: R2 replied after approval
    r2 = "cwc:P:1:43"
    m5 = draft(api, r2, "m5")["id"]
    approve(api, m5)
    clock.advance(minutes=5)
    assert api.post("/outbound/opt-out", {"contact_global_id": r2, "channel": "email",
                                          "mark_replied": True}).status_code == 200
    status, body = send(api, m5)
    assert (status, body["error"]) == (409, "outbound_blocked_stop_on_reply")
    assert message_row(runtime, m5).status == "cancelled"
    assert [a.status for a in audits(runtime, "outbound.stop_on_reply_block", entity_id=m5)] == ["blocked"]

    # 7. provider failures: retry with backoff, then failed; both attempts count against the cap
    r3 = "cwc:P:1:44"
    m6 = draft(api, r3, "m6", max_retries=2, payload={"body_text": "x", "force_fail": True})["id"]
    approve(api, m6)
    status, body = send(api, m6)
    assert (status, body["error"]) == (502, "outbound_send_failed")
    row = message_row(runtime, m6)
    assert (row.status, row.retry_count) == ("approved", 1)
    assert iso(row.next_attempt_at) == iso(clock.now + timedelta(minutes=2))
    status, body = send(api, m6)
    assert (status, body["error"]) == (502, "outbound_send_failed")
    row = message_row(runtime, m6)
    assert (row.status, row.retry_count, row.next_attempt_at) == ("failed", 2, None)
    assert [(a.attempt_no, a.status) for a in attempts(runtime, m6)] == [(1, "failed"), (2, "failed")]
    assert policy_row(runtime, r3).sent_in_window == 2
    assert [a.status for a in audits(runtime, "outbound.send", entity_id=m6)] == ["failed", "failed"]


def test_sent_message_records_attempt_and_audit(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    mid = draft(api, R1, "k1", evidence_refs=["cwmsg:1:2"])["id"]
    approve(api, mid)
    status, body = send(api, mid)
    assert status == 200
    [attempt] = attempts(runtime, mid)
    unix_ms = int(clock.now.timestamp() * 1000)
    assert attempt.status == "sent" and attempt.provider_message_id.startswith(f"sim:{unix_ms}:")
    [event] = audits(runtime, "outbound.send", entity_id=mid)
    assert event.status == "ok" and event.payload == {"provider_message_id": attempt.provider_message_id}
    assert event.actor_username == "operator" and event.evidence_refs[0]["ref"] == "cwmsg:1:2"
    assert send(api, mid)[1]["error"] == "outbound_invalid_state"  # sent is terminal
    assert len(attempts(runtime, mid)) == 1


def test_drafts_are_idempotent_and_approved_content_never_changes(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    first = api.post("/outbound/draft", {"channel": "Email ", "recipient_ref": R1, "idempotency_key": "k",
                                         "payload": {"body_text": "v1"}})
    assert first.status_code == 201 and first.get_json()["outbound"]["channel"] == "email"
    mid = first.get_json()["outbound"]["id"]
    again = api.post("/outbound/draft", {"channel": "email", "recipient_ref": R1, "idempotency_key": "k",
                                         "payload": {"body_text": "v2"}})
    assert again.status_code == 200 and again.get_json()["outbound"]["payload"] == {"body_text": "v2"}
    assert again.get_json()["outbound"]["id"] == mid
    approve(api, mid)
    after = api.post("/outbound/draft", {"channel": "email", "recipient_ref": R1, "idempotency_key": "k",
                                         "payload": {"body_text": "v3"}})
    assert after.status_code == 200
    assert after.get_json()["outbound"]["payload"] == {"body_text": "v2"}
    assert after.get_json()["outbound"]["status"] == "approved"
    assert len(audits(runtime, "outbound.draft")) == 2  # insert + update; the unchanged answer writes none
    assert audits(runtime, "outbound.draft")[0].idempotency_key == "k"
    # approving twice keeps the original approval and writes no second audit
    assert api.post(f"/outbound/{mid}/approve").status_code == 200
    assert len(audits(runtime, "outbound.approve")) == 1


def test_identical_content_needs_an_explicit_dedupe_key(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    body = {"channel": "email", "recipient_ref": R1, "payload": {"body_text": "same"}}
    first = api.post("/outbound/draft", {**body, "idempotency_key": "a"}).get_json()["outbound"]
    dup = api.post("/outbound/draft", {**body, "idempotency_key": "b"})
    assert dup.status_code == 409 and dup.get_json()["error"] == "outbound_duplicate"
    assert dup.get_json()["details"] == {"outbound_id": first["id"]}
    ok = api.post("/outbound/draft", {**body, "idempotency_key": "b", "dedupe_key": "resend-1"})
    assert ok.status_code == 201 and ok.get_json()["outbound"]["dedupe_key"] == "resend-1"
    assert len(api.get("/outbound").get_json()["outbound"]) == 2


def test_opting_back_in_never_revives_blocked_messages(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "opted_out": True})
    mid = draft(api, R1, "k")["id"]
    approve(api, mid)
    assert send(api, mid)[0] == 409
    resp = api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "opted_out": False})
    assert resp.get_json()["policy"]["opted_out"] is False
    assert send(api, mid)[1]["error"] == "outbound_invalid_state"
    # opt-out without opted_out leaves the flag unchanged but can change the cap
    resp = api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "frequency_cap": 999})
    assert resp.get_json()["policy"]["opted_out"] is False and resp.get_json()["policy"]["frequency_cap"] == 200
    event = audits(runtime, "outbound.opt_out")[-1]
    assert event.payload == {"channel": "email", "contact_global_id": R1, "opted_out": False, "mark_replied": False}
    assert event.entity_type == "contact_channel_policy" and event.entity_id == resp.get_json()["policy"]["id"]


def test_opt_out_is_per_channel(api: Api, runtime, clock: Clock) -> None:
    api.create_project("Project P")
    api.post("/outbound/opt-out", {"contact_global_id": R1, "channel": "email", "opted_out": True})
    mid = draft(api, R1, "k", channel="chatwoot")["id"]
    approve(api, mid)
    assert send(api, mid)[0] == 200


def test_list_filters_and_pages(api: Api, clock: Clock) -> None:
    api.create_project("Project P")
    ids = []
    for i in range(3):
        ids.append(draft(api, R1, f"k{i}")["id"])
        clock.advance(seconds=1)
    approve(api, ids[0])
    listed = api.get("/outbound").get_json()["outbound"]
    assert [m["id"] for m in listed] == ids[::-1]
    assert set(listed[0]) >= {"id", "project_id", "account_scope_id", "channel", "recipient_ref", "payload",
                              "evidence_refs", "status", "idempotency_key", "dedupe_key", "retry_count",
                              "max_retries", "next_attempt_at", "approved_by", "approved_at", "sent_at",
                              "last_error", "created_at", "updated_at"}
    assert [m["id"] for m in api.get("/outbound?status=APPROVED").get_json()["outbound"]] == [ids[0]]
    assert [m["id"] for m in api.get("/outbound?limit=1&offset=1").get_json()["outbound"]] == [ids[1]]
    assert api.get("/outbound?status=bogus").get_json()["error"] == "invalid_status"


def test_campaign_scheduler_sends_due_messages(api: Api, runtime, run_jobs, clock: Clock) -> None:
    api.create_project("Project P")
    due = draft(api, R1, "due")["id"]
    approve(api, due)
    never = draft(api, "cwc:P:1:50", "never", max_retries=0)["id"]
    approve(api, never)
    blocked = draft(api, "cwc:P:1:51", "blocked")["id"]
    approve(api, blocked)
    api.post("/outbound/opt-out", {"contact_global_id": "cwc:P:1:51", "channel": "email", "opted_out": True})
    later = draft(api, "cwc:P:1:52", "later", max_retries=3, payload={"force_fail": True})["id"]
    approve(api, later)
    assert send(api, later)[0] == 502  # next attempt in 2 minutes: not due yet
    untouched = draft(api, "cwc:P:1:53", "draft-only")["id"]

    job = api.post("/outbound/process", {"limit": "500"}).get_json()["job"]
    assert job["queue"] == "outbound" and job["meta"]["params"] == {"limit": 200}
    run_jobs("outbound")
    run = api.get(f"/jobs/runs/{job['id']}").get_json()["job"]
    assert run["status"] == "ok" and run["meta"]["result"] == {"processed": 2, "sent": 1, "failed": 1}
    assert message_row(runtime, due).status == "sent"
    assert message_row(runtime, blocked).status == "blocked_opt_out"
    assert message_row(runtime, never).status == "approved" and message_row(runtime, untouched).status == "draft"
    assert message_row(runtime, later).retry_count == 1
    [event] = audits(runtime, "outbound.send", entity_id=due)
    assert event.actor_username == "operator" and event.request_id == job["request_id"]

    clock.advance(minutes=3)  # the failed delivery is due again
    job = api.post("/outbound/process").get_json()["job"]
    run_jobs("outbound")
    result = api.get(f"/jobs/runs/{job['id']}").get_json()["job"]["meta"]["result"]
    assert result == {"processed": 1, "sent": 0, "failed": 1} and message_row(runtime, later).retry_count == 2
