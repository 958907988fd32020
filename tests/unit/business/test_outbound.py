"""Outbound compliance: worked example G4 and the guardrails C1–C5 (business.md §B4)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.business.errors import (
    FrequencyCapReached,
    InvalidInput,
    KeelError,
    OutboundBlockedOptOut,
    OutboundBlockedStopOnReply,
    OutboundDuplicate,
    OutboundInvalidState,
    OutboundSendFailed,
)
from shared.business.outbound import (
    ChannelPolicy,
    DeliveryResult,
    DraftOutcome,
    OutboundMessage,
    SendOutcome,
    apply_opt_out,
    approve_outbound,
    default_dedupe_key,
    plan_draft,
    plan_send,
    run_send,
    simulate_delivery,
    validate_draft,
    validate_opt_out,
    window_expired,
)

P = "11111111-1111-1111-1111-111111111111"
T0 = datetime(2026, 2, 17, 10, 0, tzinfo=UTC)
R1 = "cwc:P:1:42"


class Outbox:
    """Plays the routes' transactions over in-memory rows, applying the pure plans verbatim."""

    def __init__(self) -> None:
        self.messages: dict[str, dict] = {}
        self.policies: dict[tuple[str, str], ChannelPolicy] = {}
        self.attempts: list[tuple[str, dict]] = []
        self.audits: list[tuple[str, str, str, dict]] = []
        self._ids = itertools.count(1)

    def draft(self, body: dict, now: datetime = T0) -> tuple[int, dict]:
        draft = validate_draft(body, project_id=P)
        existing = next((m for m in self.messages.values() if m["idempotency_key"] == draft.idempotency_key), None)
        duplicate = next((m["id"] for m in self.messages.values()
                          if m["dedupe_key"] == draft.dedupe_key and m is not existing), None)
        decision = plan_draft(existing_status=existing["status"] if existing else None,
                              duplicate_outbound_id=duplicate)
        if decision.outcome is DraftOutcome.INSERT:
            mid = f"M{next(self._ids)}"
            existing = self.messages[mid] = {
                "id": mid, "status": "draft", "channel": draft.channel, "recipient_ref": draft.recipient_ref,
                "idempotency_key": draft.idempotency_key, "payload": draft.payload, "dedupe_key": draft.dedupe_key,
                "max_retries": draft.max_retries, "retry_count": 0, "next_attempt_at": now, "approved_at": None,
                "approved_by": None, "sent_at": None, "last_error": None, "evidence_refs": draft.evidence_refs}
        elif decision.outcome is DraftOutcome.UPDATE:
            existing.update(payload=draft.payload, evidence_refs=draft.evidence_refs, dedupe_key=draft.dedupe_key)
        if decision.writes_audit:
            self.audits.append((existing["id"], "outbound.draft", "ok", {"channel": draft.channel,
                                                                         "recipient_ref": draft.recipient_ref}))
        return decision.http_status, existing

    def approve(self, mid: str, now: datetime = T0, actor: str = "alice") -> dict:
        row = self.messages[mid]
        decision = approve_outbound(row["status"], actor=actor, now=now)
        row.update(decision.message_changes)
        if decision.audit:
            self.audits.append((mid, decision.audit.action, decision.audit.status, decision.audit.payload))
        return row

    def opt_out(self, body: dict, now: datetime) -> ChannelPolicy:
        change = validate_opt_out(body)
        key = (change.contact_global_id, change.channel)
        self.policies[key] = apply_opt_out(self.policies.get(key), change, now=now)
        return self.policies[key]

    def send(self, mid: str, now: datetime) -> dict:
        row = self.messages[mid]
        key = (row["recipient_ref"], row["channel"])
        policy = self.policies.get(key) or ChannelPolicy()
        message = OutboundMessage(status=row["status"], retry_count=row["retry_count"],
                                  max_retries=row["max_retries"], approved_at=row["approved_at"],
                                  payload=row["payload"])
        plan = run_send(message, policy, now=now, deliver=lambda payload: simulate_delivery(payload, now=now))
        row.update(plan.message_changes)  # committed even when an error follows
        self.policies[key] = replace(policy, **plan.policy_changes)
        if plan.attempt:
            self.attempts.append((mid, plan.attempt))
        self.audits.extend((mid, a.action, a.status, a.payload) for a in plan.audits)
        if plan.error:
            raise plan.error
        return row

    def actions(self, mid: str) -> list[tuple[str, str]]:
        return [(action, status) for m, action, status, _ in self.audits if m == mid]


def expect(error: type[KeelError], status: int, code: str, fn, *args):
    with pytest.raises(error) as err:
        fn(*args)
    assert (err.value.status, err.value.code) == (status, code)
    return err.value


def test_g4_outbound_compliance() -> None:
    box = Outbox()
    box.opt_out({"contact_global_id": R1, "channel": "email", "frequency_cap": 2, "frequency_window_hours": 24,
                 "stop_on_reply": True}, T0 - timedelta(days=1))

    # 1. three drafts; a draft cannot be sent (C1)
    ids = []
    for n in (1, 2, 3):
        status, row = box.draft({"channel": "email", "recipient_ref": R1, "idempotency_key": f"k{n}",
                                 "payload": {"subject": f"Hello {n}"}})
        assert status == 201 and row["status"] == "draft"
        ids.append(row["id"])
    m1, m2, m3 = ids
    expect(OutboundInvalidState, 409, "outbound_invalid_state", box.send, m1, T0)
    assert box.messages[m1]["status"] == "draft" and box.attempts == []

    # 2. approve all; two sends fill the window
    for mid in ids:
        assert box.approve(mid)["status"] == "approved"
    assert box.send(m1, T0)["status"] == "sent"
    assert box.policies[(R1, "email")].sent_in_window == 1
    assert box.send(m2, T0)["status"] == "sent"
    assert box.policies[(R1, "email")].sent_in_window == 2

    # 3. the cap blocks M3: failed, retry in 1 h, retry_count unchanged, audit frequency_block/blocked
    expect(FrequencyCapReached, 429, "frequency_cap_reached", box.send, m3, T0)
    row = box.messages[m3]
    assert (row["status"], row["next_attempt_at"], row["retry_count"]) == ("failed", T0 + timedelta(hours=1), 0)
    assert row["last_error"] == "frequency_cap_reached"
    assert ("outbound.frequency_block", "blocked") in box.actions(m3)
    assert box.audits[-1][3] == {"reason": "frequency_cap_reached", "sent_in_window": 2, "frequency_cap": 2}

    # 4. 25 hours later the window resets and M3 is sent
    later = T0 + timedelta(hours=25)
    assert box.send(m3, later)["status"] == "sent"
    policy = box.policies[(R1, "email")]
    assert (policy.sent_in_window, policy.window_started_at) == (1, later)

    # 5. opt-out wins: M4 is blocked_opt_out (terminal)
    box.opt_out({"contact_global_id": R1, "channel": "email", "opted_out": True}, later)
    _, m4row = box.draft({"channel": "email", "recipient_ref": R1, "idempotency_key": "k4", "payload": {"n": 4}})
    m4 = m4row["id"]
    box.approve(m4, later)
    expect(OutboundBlockedOptOut, 409, "outbound_blocked_opt_out", box.send, m4, later)
    assert box.messages[m4]["status"] == "blocked_opt_out"
    assert box.messages[m4]["last_error"] == "recipient_opted_out"
    assert ("outbound.opt_out_block", "blocked") in box.actions(m4)
    expect(OutboundInvalidState, 409, "outbound_invalid_state", box.approve, m4, later)
    expect(OutboundInvalidState, 409, "outbound_invalid_state", box.send, m4, later)

    # 6. stop on reply: R2 replied at 10:05 after approval at 10:00 → cancelled
    r2 = "cwc:P:1:77"
    _, m5row = box.draft({"channel": "email", "recipient_ref": r2, "idempotency_key": "k5", "payload": {"n": 5}})
    m5 = m5row["id"]
    box.approve(m5, T0)
    box.opt_out({"contact_global_id": r2, "channel": "email", "mark_replied": True}, T0 + timedelta(minutes=5))
    expect(OutboundBlockedStopOnReply, 409, "outbound_blocked_stop_on_reply", box.send, m5, T0 + timedelta(minutes=6))
    assert box.messages[m5]["status"] == "cancelled"
    assert ("outbound.stop_on_reply_block", "blocked") in box.actions(m5)

    # 7. provider failures with max_retries=2 on a fresh recipient (default policy)
    r3 = "cwc:P:1:99"
    _, m6row = box.draft({"channel": "email", "recipient_ref": r3, "idempotency_key": "k6",
                          "payload": {"force_fail": True}, "max_retries": 2})
    m6 = m6row["id"]
    box.approve(m6, T0)
    expect(OutboundSendFailed, 502, "outbound_send_failed", box.send, m6, T0)
    row = box.messages[m6]
    assert (row["status"], row["retry_count"], row["next_attempt_at"]) == ("approved", 1, T0 + timedelta(minutes=2))
    expect(OutboundSendFailed, 502, "outbound_send_failed", box.send, m6, T0 + timedelta(minutes=2))
    assert (row["status"], row["retry_count"], row["next_attempt_at"]) == ("failed", 2, None)
    assert [a["attempt_no"] for mid, a in box.attempts if mid == m6] == [1, 2]
    assert all(a["status"] == "failed" for mid, a in box.attempts if mid == m6)
    assert box.policies[(r3, "email")].sent_in_window == 2
    assert [s for mid, a, s, _payload in box.audits if mid == m6 and a == "outbound.send"] == ["failed", "failed"]


def test_successful_send_records_attempt_and_provider_id() -> None:
    plan = run_send(OutboundMessage(status="approved"), ChannelPolicy(), now=T0,
                    deliver=lambda p: simulate_delivery(p, now=T0, token="0a1b2c3d"))
    expected_id = f"sim:{int(T0.timestamp() * 1000)}:0a1b2c3d"
    assert plan.sent and plan.error is None
    assert plan.attempt == {"attempt_no": 1, "status": "sent", "provider_message_id": expected_id, "error": None}
    assert plan.message_changes["sent_at"] == T0 and plan.message_changes["next_attempt_at"] is None
    assert [(a.action, a.status, a.payload) for a in plan.audits] == [
        ("outbound.send", "ok", {"provider_message_id": expected_id})]
    assert simulate_delivery({}, now=T0).provider_message_id.startswith(f"sim:{int(T0.timestamp() * 1000)}:")


@pytest.mark.parametrize("status", ["draft", "sent", "cancelled", "blocked_opt_out", "weird"])
def test_only_approved_or_failed_messages_can_be_sent(status: str) -> None:
    with pytest.raises(OutboundInvalidState):
        plan_send(OutboundMessage(status=status), ChannelPolicy(opted_out=True), now=T0)


def test_frequency_window_resets_strictly_after_the_window() -> None:
    policy = ChannelPolicy(frequency_cap=1, frequency_window_hours=24, sent_in_window=1, window_started_at=T0)
    msg = OutboundMessage(status="approved")
    at_boundary = T0 + timedelta(hours=24)
    assert not window_expired(policy, at_boundary)
    assert plan_send(msg, policy, now=at_boundary).outcome is SendOutcome.FREQUENCY_CAPPED
    just_after = at_boundary + timedelta(microseconds=1)
    gate = plan_send(msg, policy, now=just_after)
    assert gate.outcome is SendOutcome.DELIVER
    assert gate.policy_changes == {"sent_in_window": 1, "window_started_at": just_after, "last_outbound_at": just_after}


def test_window_without_start_is_expired_and_naive_timestamps_are_utc() -> None:
    assert window_expired(ChannelPolicy(), T0)
    naive_start = datetime(2026, 2, 17, 9, 0)  # SQLite-style naive UTC
    assert not window_expired(ChannelPolicy(window_started_at=naive_start), T0)


def test_opt_out_wins_over_every_other_rule() -> None:
    policy = ChannelPolicy(opted_out=True, stop_on_reply=True, last_inbound_at=T0, frequency_cap=1,
                           sent_in_window=99, window_started_at=T0)
    gate = plan_send(OutboundMessage(status="failed", approved_at=None), policy, now=T0)
    assert gate.outcome is SendOutcome.BLOCKED_OPT_OUT
    assert gate.message_changes["status"] == "blocked_opt_out" and gate.policy_changes == {}


def test_stop_on_reply_rules() -> None:
    replied = ChannelPolicy(last_inbound_at=T0)
    before = OutboundMessage(status="approved", approved_at=T0 - timedelta(minutes=1))
    assert plan_send(before, replied, now=T0).outcome is SendOutcome.CANCELLED_STOP_ON_REPLY
    unapproved = OutboundMessage(status="failed", approved_at=None)  # approved_at null counts as -infinity
    assert plan_send(unapproved, replied, now=T0).outcome is SendOutcome.CANCELLED_STOP_ON_REPLY
    same_instant = OutboundMessage(status="approved", approved_at=T0)
    assert plan_send(same_instant, replied, now=T0).outcome is SendOutcome.DELIVER
    assert plan_send(before, replace(replied, stop_on_reply=False), now=T0).outcome is SendOutcome.DELIVER


def test_max_retries_zero_manual_send_makes_one_attempt_then_fails() -> None:
    plan = run_send(OutboundMessage(status="approved", max_retries=0), ChannelPolicy(), now=T0,
                    deliver=lambda p: DeliveryResult(ok=False, error="boom"))
    assert plan.message_changes["status"] == "failed" and plan.message_changes["retry_count"] == 1
    assert plan.attempt["attempt_no"] == 1 and plan.message_changes["last_error"] == "boom"
    assert isinstance(plan.error, OutboundSendFailed)


def test_failed_delivery_still_consumes_quota() -> None:
    plan = run_send(OutboundMessage(status="approved"), ChannelPolicy(sent_in_window=1, window_started_at=T0),
                    now=T0 + timedelta(hours=1), deliver=lambda p: DeliveryResult(ok=False, error="x"))
    assert plan.policy_changes["sent_in_window"] == 2


def test_drafting_is_idempotent_and_never_mutates_approved_content() -> None:
    box = Outbox()
    body = {"channel": "email", "recipient_ref": R1, "idempotency_key": "same", "payload": {"v": 1}}
    assert box.draft(body)[0] == 201
    status, row = box.draft({**body, "payload": {"v": 2}})
    assert status == 200 and row["payload"] == {"v": 2}
    box.approve(row["id"])
    status, row = box.draft({**body, "payload": {"v": 3}})
    assert status == 200 and row["payload"] == {"v": 2} and row["status"] == "approved"
    assert [a for _, a, _, _ in box.audits].count("outbound.draft") == 2
    # approving twice keeps the original approver and writes no audit
    first = dict(row)
    box.approve(row["id"], T0 + timedelta(hours=1), actor="bob")
    assert row["approved_by"] == first["approved_by"] == "alice"
    assert [a for _, a, _, _ in box.audits].count("outbound.approve") == 1


def test_identical_content_under_a_new_key_is_a_duplicate() -> None:
    box = Outbox()
    body = {"channel": "email", "recipient_ref": R1, "idempotency_key": "a", "payload": {"v": 1}}
    _, first = box.draft(body)
    err = expect(OutboundDuplicate, 409, "outbound_duplicate", box.draft, {**body, "idempotency_key": "b"})
    assert err.details == {"outbound_id": first["id"]}
    assert box.draft({**body, "idempotency_key": "c", "dedupe_key": "deliberate-repeat"})[0] == 201


def test_default_dedupe_key_is_sha256_of_compact_sorted_json() -> None:
    import hashlib
    import json

    doc = {"channel": "email", "payload": {"b": 1, "a": "é"}, "project_id": P, "recipient_ref": R1}
    expected = hashlib.sha256(json.dumps(doc, sort_keys=True, separators=(",", ":"),
                                         ensure_ascii=False).encode()).hexdigest()
    assert default_dedupe_key(channel="email", payload={"a": "é", "b": 1}, project_id=P, recipient_ref=R1) == expected


@pytest.mark.parametrize(("body", "code"), [
    ({}, "invalid_channel"),
    ({"channel": "sms", "recipient_ref": "x", "idempotency_key": "k"}, "invalid_channel"),
    ({"channel": "email", "recipient_ref": "  ", "idempotency_key": "k"}, "invalid_recipient_ref"),
    ({"channel": "email", "recipient_ref": "x"}, "idempotency_key_required"),
    ({"channel": "email", "recipient_ref": "x", "idempotency_key": "k" * 201}, "idempotency_key_required"),
    ({"channel": "email", "recipient_ref": "x", "idempotency_key": "k", "evidence_refs": {}}, "invalid_evidence_refs"),
])
def test_draft_validation_errors(body: dict, code: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_draft(body, project_id=P)
    assert (err.value.status, err.value.code) == (400, code)


def test_draft_field_rules() -> None:
    draft = validate_draft({"channel": " EMAIL ", "recipient_ref": " r ", "idempotency_key": "k", "payload": [1],
                            "max_retries": "99"}, project_id=P)
    assert (draft.channel, draft.recipient_ref, draft.payload, draft.max_retries) == ("email", "r", {}, 20)
    assert validate_draft({"channel": "telegram", "recipient_ref": "r", "idempotency_key": "k"},
                          project_id=P).max_retries == 5


def test_opt_out_route_rules() -> None:
    with pytest.raises(InvalidInput) as err:
        validate_opt_out({"channel": "email"})
    assert err.value.code == "invalid_opt_out_payload"
    with pytest.raises(InvalidInput) as err:
        validate_opt_out({"contact_global_id": "c", "channel": "fax"})
    assert err.value.code == "invalid_channel"
    with pytest.raises(InvalidInput) as err:
        validate_opt_out({"contact_global_id": "c", "channel": "email", "opted_out": "maybe"})
    assert err.value.code == "invalid_opt_out_payload"

    created = apply_opt_out(None, validate_opt_out({"contact_global_id": "c", "channel": "email",
                                                    "frequency_cap": 0, "frequency_window_hours": 9999}), now=T0)
    assert (created.opted_out, created.stop_on_reply, created.frequency_cap, created.frequency_window_hours) == (
        False, True, 1, 720)
    opted = apply_opt_out(created, validate_opt_out({"contact_global_id": "c", "channel": "email",
                                                     "opted_out": True}), now=T0)
    assert opted.opted_out and opted.frequency_cap == 1
    # without opted_out the flag is unchanged, but cap and replied can still change
    change = validate_opt_out({"contact_global_id": "c", "channel": "email", "frequency_cap": 7, "mark_replied": True})
    adjusted = apply_opt_out(opted, change, now=T0)
    assert adjusted.opted_out and adjusted.frequency_cap == 7 and adjusted.last_inbound_at == T0
    assert change.audit_payload(adjusted) == {"channel": "email", "contact_global_id": "c", "opted_out": True,
                                              "mark_replied": True}


def test_opting_back_in_does_not_revive_a_blocked_message() -> None:
    with pytest.raises(OutboundInvalidState):
        plan_send(OutboundMessage(status="blocked_opt_out"), ChannelPolicy(opted_out=False), now=T0)


@given(cap=st.integers(1, 5), hours=st.integers(1, 48),
       gaps=st.lists(st.integers(0, 60 * 30), min_size=1, max_size=40))
def test_cap_never_exceeded_within_a_window_and_never_blocks_permanently(cap: int, hours: int,
                                                                         gaps: list[int]) -> None:
    policy = ChannelPolicy(frequency_cap=cap, frequency_window_hours=hours)
    now, sends_per_window = T0, {}
    for gap in gaps:
        now += timedelta(minutes=gap)
        expired = window_expired(policy, now)
        gate = plan_send(OutboundMessage(status="approved"), policy, now=now)
        if gate.outcome is SendOutcome.FREQUENCY_CAPPED:
            assert not expired and policy.sent_in_window >= cap
            continue
        assert gate.outcome is SendOutcome.DELIVER
        policy = replace(policy, **gate.policy_changes)
        assert now - policy.window_started_at <= timedelta(hours=hours)
        sends_per_window[policy.window_started_at] = sends_per_window.get(policy.window_started_at, 0) + 1
        assert policy.sent_in_window == sends_per_window[policy.window_started_at] <= cap
    later = now + timedelta(hours=hours, seconds=1)
    assert plan_send(OutboundMessage(status="failed"), policy, now=later).outcome is SendOutcome.DELIVER


@given(status=st.sampled_from(["approved", "failed"]), stop=st.booleans(), cap=st.integers(1, 200),
       sent=st.integers(0, 300), replied=st.booleans())
def test_opted_out_recipient_is_never_delivered(status: str, stop: bool, cap: int, sent: int, replied: bool) -> None:
    policy = ChannelPolicy(opted_out=True, stop_on_reply=stop, frequency_cap=cap, sent_in_window=sent,
                           window_started_at=T0, last_inbound_at=T0 if replied else None)
    plan = run_send(OutboundMessage(status=status, approved_at=T0 - timedelta(hours=1)), policy, now=T0,
                    deliver=lambda p: pytest.fail("must not deliver"))
    assert plan.message_changes["status"] == "blocked_opt_out" and plan.attempt is None
    assert plan.policy_changes == {}
