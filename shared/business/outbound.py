"""Outbound messages and compliance (business.md §B4): validation, state machine, guardrails.

Serves ``POST /outbound/draft``, ``POST /outbound/<id>/approve``, ``POST /outbound/<id>/send``,
``POST /outbound/opt-out``, ``GET /outbound`` (status filter) and ``POST /outbound/process``
(``limit``), and the per-message send of the ``campaign_scheduler`` job; tables
``outbound_messages``, ``outbound_attempts`` and ``contact_channel_policies``.

The send algorithm (§B4 send, steps 1–11) is split so the caller keeps the transaction::

    msg, pol = lock message (NOWAIT) and policy (get-or-create), as OutboundMessage / ChannelPolicy
    plan = run_send(msg, pol, now=now, deliver=simulate_delivery)  # raises OutboundInvalidState
    apply plan.message_changes / plan.policy_changes, insert plan.attempt, write plan.audits
    commit; then raise plan.error if it is set (the state change is committed even on error)

Guardrail order is fixed and tested: C1 state (draft/terminal → 409, nothing changes) → C2 opt-out
(always wins: terminal ``blocked_opt_out``) → C4 stop-on-reply (terminal ``cancelled``) → C3 cap
(``failed``, retry in 1 h, 429) → quota consumed → delivery.

Decisions where the spec is silent:

* **Cap window.** C3 says "rolling window", but the normative algorithm (steps 5–7) and the policy
  columns describe a *reset* window: it opens at the first send after expiry and is expired once
  ``now − window_started_at > frequency_window_hours`` (strictly greater: at exactly 24 h the
  window still applies). This module implements the normative algorithm; within one window at most
  ``frequency_cap`` attempts are made.
* Terminal blocks (``blocked_opt_out``, ``cancelled``) also clear ``next_attempt_at``.
* A successful send clears ``last_error``; ``retry_count`` becomes the attempt number after every
  provider attempt, success included (§B4.1).
* ``idempotency_key`` longer than 200 characters is rejected (400 ``idempotency_key_required``),
  not truncated: two different keys must never collapse into one.
* The default ``dedupe_key`` hashes ``json.dumps(..., sort_keys=True, separators=(",", ":"),
  ensure_ascii=False)`` encoded as UTF-8.
* The simulator fails only when ``payload.force_fail`` is JSON ``true``.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.business.dates import as_utc
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
from shared.business.evidence import normalize_evidence_refs
from shared.business.params import (
    parse_bool,
    parse_enum,
    parse_lenient_int,
    parse_optional_lenient_int,
    parse_text,
)

__all__ = [
    "CHANNELS",
    "SENDABLE_STATUSES",
    "TERMINAL_STATUSES",
    "ApproveDecision",
    "AuditSpec",
    "ChannelPolicy",
    "DeliveryResult",
    "DraftDecision",
    "DraftIn",
    "DraftOutcome",
    "OptOutIn",
    "OutboundMessage",
    "OutboundStatus",
    "SendGate",
    "SendOutcome",
    "SendPlan",
    "apply_opt_out",
    "approve_outbound",
    "default_dedupe_key",
    "effective_sent_in_window",
    "parse_outbound_status_filter",
    "parse_process_limit",
    "plan_draft",
    "plan_send",
    "record_delivery",
    "run_send",
    "simulate_delivery",
    "validate_draft",
    "validate_opt_out",
    "window_expired",
]

CHANNELS: tuple[str, ...] = ("email", "chatwoot", "telegram")
IDEMPOTENCY_KEY_MAX = 200
FREQUENCY_BLOCK_RETRY = timedelta(hours=1)


class OutboundStatus(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    BLOCKED_OPT_OUT = "blocked_opt_out"


SENDABLE_STATUSES = frozenset({OutboundStatus.APPROVED, OutboundStatus.FAILED})
TERMINAL_STATUSES = frozenset({OutboundStatus.SENT, OutboundStatus.CANCELLED, OutboundStatus.BLOCKED_OPT_OUT})


def parse_outbound_status_filter(value: object) -> str | None:
    """``GET /outbound?status=``: trimmed, lower-cased; empty → None; unknown → 400 ``invalid_status``."""
    return parse_enum(value, [s.value for s in OutboundStatus], error_code="invalid_status")


def parse_process_limit(value: object) -> int:
    """``POST /outbound/process`` body ``limit``: default 20, clamped into [1, 200] (scheduled runs use 50)."""
    return parse_lenient_int(value, default=20, lo=1, hi=200)


# --- drafts -------------------------------------------------------------------------------------
def default_dedupe_key(*, channel: str, payload: Mapping[str, Any], project_id: object,
                       recipient_ref: str) -> str:
    """``sha256_hex`` of compact, sorted-key JSON ``{channel, payload, project_id, recipient_ref}``."""
    document = {"channel": channel, "payload": payload, "project_id": str(project_id),
                "recipient_ref": recipient_ref}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DraftIn:
    channel: str
    recipient_ref: str
    idempotency_key: str
    payload: dict[str, Any]
    dedupe_key: str
    max_retries: int
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)


def validate_draft(body: Mapping[str, Any], *, project_id: object) -> DraftIn:
    """Validate ``POST /outbound/draft``: 400 ``invalid_channel``, ``invalid_recipient_ref``,
    ``idempotency_key_required``, ``invalid_evidence_refs`` (in that order)."""
    channel = parse_enum(body.get("channel"), CHANNELS, error_code="invalid_channel")
    if channel is None:
        raise InvalidInput("invalid_channel", f"channel must be one of: {', '.join(CHANNELS)}")
    recipient = parse_text(body.get("recipient_ref"))
    if recipient is None:
        raise InvalidInput("invalid_recipient_ref", "recipient_ref is required")
    key = parse_text(body.get("idempotency_key"))
    if key is None or len(key) > IDEMPOTENCY_KEY_MAX:
        raise InvalidInput("idempotency_key_required",
                           f"idempotency_key is required (at most {IDEMPOTENCY_KEY_MAX} characters)")
    raw_payload = body.get("payload")
    payload = dict(raw_payload) if isinstance(raw_payload, Mapping) else {}
    dedupe = parse_text(body.get("dedupe_key")) or default_dedupe_key(
        channel=channel, payload=payload, project_id=project_id, recipient_ref=recipient)
    max_retries = parse_lenient_int(body.get("max_retries"), default=5, lo=0, hi=20)
    refs = normalize_evidence_refs(body.get("evidence_refs"))
    return DraftIn(channel=channel, recipient_ref=recipient, idempotency_key=key, payload=payload,
                   dedupe_key=dedupe, max_retries=max_retries, evidence_refs=refs)


class DraftOutcome(StrEnum):
    INSERT = "insert"  # 201, audit outbound.draft
    UPDATE = "update"  # 200, replace payload/evidence_refs/dedupe_key, audit outbound.draft
    UNCHANGED = "unchanged"  # 200, return the stored row as is, no audit


@dataclass(frozen=True)
class DraftDecision:
    outcome: DraftOutcome

    @property
    def http_status(self) -> int:
        return 201 if self.outcome is DraftOutcome.INSERT else 200

    @property
    def writes_audit(self) -> bool:
        return self.outcome is not DraftOutcome.UNCHANGED


def plan_draft(*, existing_status: str | None, duplicate_outbound_id: object | None) -> DraftDecision:
    """Decide a draft request (C5).

    ``existing_status``: status of the project's message with this ``idempotency_key``, or None.
    ``duplicate_outbound_id``: id of **another** message of the project with the same
    ``dedupe_key``, or None. A non-draft message is returned unchanged (approved content is never
    mutated); otherwise a duplicate raises 409 ``outbound_duplicate`` with ``details.outbound_id``.
    """
    if existing_status is not None and existing_status != OutboundStatus.DRAFT:
        return DraftDecision(DraftOutcome.UNCHANGED)
    if duplicate_outbound_id is not None:
        raise OutboundDuplicate(str(duplicate_outbound_id))
    if existing_status is None:
        return DraftDecision(DraftOutcome.INSERT)
    return DraftDecision(DraftOutcome.UPDATE)


# --- approval -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AuditSpec:
    action: str
    status: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class ApproveDecision:
    changed: bool
    message_changes: dict[str, Any]
    audit: AuditSpec | None


def approve_outbound(status: str, *, actor: str, now: datetime,
                     evidence_refs: list[dict[str, Any]] | None = None) -> ApproveDecision:
    """``draft`` → ``approved`` (sets ``approved_by``/``approved_at``; non-empty request refs replace
    the stored ones; audit ``outbound.approve``). ``approved`` → unchanged, no audit, the original
    approver kept. Anything else → 409 ``outbound_invalid_state``."""
    if status == OutboundStatus.APPROVED:
        return ApproveDecision(changed=False, message_changes={}, audit=None)
    if status != OutboundStatus.DRAFT:
        raise OutboundInvalidState(None, f"Cannot approve a message in status {status!r}",
                                   from_status=status, event="approve")
    changes: dict[str, Any] = {"status": OutboundStatus.APPROVED.value, "approved_by": actor,
                               "approved_at": now, "updated_at": now}
    if evidence_refs:
        changes["evidence_refs"] = list(evidence_refs)
    audit = AuditSpec("outbound.approve", "ok", {"previous_status": "draft", "status": "approved"})
    return ApproveDecision(changed=True, message_changes=changes, audit=audit)


# --- policy -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ChannelPolicy:
    """A ``contact_channel_policies`` row; the defaults are those of a lazily created policy."""

    opted_out: bool = False
    stop_on_reply: bool = True
    frequency_window_hours: int = 24
    frequency_cap: int = 3
    sent_in_window: int = 0
    window_started_at: datetime | None = None
    last_outbound_at: datetime | None = None
    last_inbound_at: datetime | None = None


def window_expired(policy: ChannelPolicy, now: datetime) -> bool:
    """Step 5: expired when ``window_started_at`` is null or ``now − start > window hours`` (strict)."""
    if policy.window_started_at is None:
        return True
    return as_utc(now) - as_utc(policy.window_started_at) > timedelta(hours=policy.frequency_window_hours)


def effective_sent_in_window(policy: ChannelPolicy, now: datetime) -> int:
    """The count the cap is checked against: 0 when the window expired, else ``sent_in_window``."""
    return 0 if window_expired(policy, now) else policy.sent_in_window


@dataclass(frozen=True)
class OptOutIn:
    contact_global_id: str
    channel: str
    opted_out: bool | None
    stop_on_reply: bool | None
    frequency_window_hours: int | None
    frequency_cap: int | None
    mark_replied: bool
    evidence_refs: list[dict[str, Any]] = field(default_factory=list)

    def audit_payload(self, policy: ChannelPolicy) -> dict[str, Any]:
        """Payload of ``outbound.opt_out`` (``opted_out`` = the resulting flag)."""
        return {"channel": self.channel, "contact_global_id": self.contact_global_id,
                "opted_out": policy.opted_out, "mark_replied": self.mark_replied}


def validate_opt_out(body: Mapping[str, Any]) -> OptOutIn:
    """Validate ``POST /outbound/opt-out``: 400 ``invalid_opt_out_payload`` (missing ids or a
    non-boolean flag), ``invalid_channel``, ``invalid_evidence_refs``. Window and cap are clamped
    into [1, 720] and [1, 200]; absent (or unparseable) means unchanged."""
    code = "invalid_opt_out_payload"
    contact = parse_text(body.get("contact_global_id"))
    raw_channel = body.get("channel")
    if contact is None or parse_text(raw_channel) is None:
        raise InvalidInput(code, "contact_global_id and channel are required")
    channel = parse_enum(raw_channel, CHANNELS, error_code="invalid_channel")
    if channel is None:  # unreachable: non-blank values are either valid or rejected above
        raise InvalidInput(code, "contact_global_id and channel are required")
    return OptOutIn(
        contact_global_id=contact,
        channel=channel,
        opted_out=parse_bool(body.get("opted_out"), error_code=code),
        stop_on_reply=parse_bool(body.get("stop_on_reply"), error_code=code),
        frequency_window_hours=parse_optional_lenient_int(body.get("frequency_window_hours"), lo=1, hi=720),
        frequency_cap=parse_optional_lenient_int(body.get("frequency_cap"), lo=1, hi=200),
        mark_replied=bool(parse_bool(body.get("mark_replied"), error_code=code)),
        evidence_refs=normalize_evidence_refs(body.get("evidence_refs")),
    )


def apply_opt_out(policy: ChannelPolicy | None, change: OptOutIn, *, now: datetime) -> ChannelPolicy:
    """The policy after the opt-out route: created with defaults if missing, then each given field
    applied; ``mark_replied`` sets ``last_inbound_at = now``. Absent fields stay unchanged."""
    result = policy or ChannelPolicy()
    updates: dict[str, Any] = {}
    if change.opted_out is not None:
        updates["opted_out"] = change.opted_out
    if change.stop_on_reply is not None:
        updates["stop_on_reply"] = change.stop_on_reply
    if change.frequency_window_hours is not None:
        updates["frequency_window_hours"] = change.frequency_window_hours
    if change.frequency_cap is not None:
        updates["frequency_cap"] = change.frequency_cap
    if change.mark_replied:
        updates["last_inbound_at"] = now
    return replace(result, **updates)


# --- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OutboundMessage:
    """The columns of an ``outbound_messages`` row the send algorithm reads."""

    status: str
    retry_count: int = 0
    max_retries: int = 5
    approved_at: datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


class SendOutcome(StrEnum):
    DELIVER = "deliver"
    BLOCKED_OPT_OUT = "blocked_opt_out"
    CANCELLED_STOP_ON_REPLY = "cancelled_stop_on_reply"
    FREQUENCY_CAPPED = "frequency_capped"


@dataclass(frozen=True)
class SendGate:
    """Result of the pre-delivery checks (steps 3–7). Keys of the change dicts are column names."""

    outcome: SendOutcome
    message_changes: dict[str, Any]
    policy_changes: dict[str, Any]
    audit: AuditSpec | None
    error: KeelError | None

    @property
    def deliver(self) -> bool:
        return self.outcome is SendOutcome.DELIVER


def _block(outcome: SendOutcome, status: OutboundStatus, reason: str, action: str, error: KeelError,
           now: datetime, *, next_attempt_at: datetime | None = None,
           extra: Mapping[str, Any] | None = None) -> SendGate:
    changes = {"status": status.value, "last_error": reason, "next_attempt_at": next_attempt_at,
               "updated_at": now}
    payload = {"reason": reason, **(extra or {})}
    return SendGate(outcome, changes, {}, AuditSpec(action, "blocked", payload), error)


def plan_send(message: OutboundMessage, policy: ChannelPolicy, *, now: datetime) -> SendGate:
    """Steps 1 and 3–7 of the send algorithm for a locked message and policy.

    Raises ``OutboundInvalidState`` (409, nothing changes) unless the message is ``approved`` or
    ``failed`` (C1). Otherwise returns the gate: opt-out block (C2, 409), stop-on-reply cancel
    (C4, 409), frequency block (C3, 429), or ``DELIVER`` with the quota already consumed.
    """
    if message.status not in SENDABLE_STATUSES:
        raise OutboundInvalidState(None, f"Cannot send a message in status {message.status!r}",
                                   from_status=message.status, event="send")
    if policy.opted_out:
        return _block(SendOutcome.BLOCKED_OPT_OUT, OutboundStatus.BLOCKED_OPT_OUT, "recipient_opted_out",
                      "outbound.opt_out_block", OutboundBlockedOptOut(None, "The recipient opted out"), now)
    if policy.stop_on_reply and policy.last_inbound_at is not None and (
            message.approved_at is None or as_utc(policy.last_inbound_at) > as_utc(message.approved_at)):
        return _block(SendOutcome.CANCELLED_STOP_ON_REPLY, OutboundStatus.CANCELLED, "stop_on_reply",
                      "outbound.stop_on_reply_block",
                      OutboundBlockedStopOnReply(None, "The recipient replied after approval"), now)
    expired = window_expired(policy, now)
    count = 0 if expired else policy.sent_in_window
    if count >= policy.frequency_cap:
        return _block(SendOutcome.FREQUENCY_CAPPED, OutboundStatus.FAILED, "frequency_cap_reached",
                      "outbound.frequency_block",
                      FrequencyCapReached(None, "Frequency cap reached for this recipient and channel"),
                      now, next_attempt_at=now + FREQUENCY_BLOCK_RETRY,
                      extra={"sent_in_window": count, "frequency_cap": policy.frequency_cap})
    if expired:
        quota = {"sent_in_window": 1, "window_started_at": now, "last_outbound_at": now}
    else:
        quota = {"sent_in_window": policy.sent_in_window + 1, "last_outbound_at": now}
    return SendGate(SendOutcome.DELIVER, {}, quota, None, None)


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    provider_message_id: str | None = None
    error: str | None = None


def simulate_delivery(payload: Mapping[str, Any], *, now: datetime, token: str | None = None) -> DeliveryResult:
    """The v1 in-process provider: fails when ``payload.force_fail`` is true, else returns
    ``provider_message_id = "sim:{unix_ms}:{8 hex}"``."""
    if payload.get("force_fail") is True:
        return DeliveryResult(ok=False, error="simulated_provider_failure")
    unix_ms = int(as_utc(now).timestamp() * 1000)
    return DeliveryResult(ok=True, provider_message_id=f"sim:{unix_ms}:{token or secrets.token_hex(4)}")


@dataclass(frozen=True)
class SendPlan:
    """Everything one send writes: apply, insert, audit, commit, then raise ``error`` if set."""

    message_changes: dict[str, Any]
    policy_changes: dict[str, Any]
    attempt: dict[str, Any] | None  # outbound_attempts row (attempt_no, status, provider_message_id, error)
    audits: list[AuditSpec]
    error: KeelError | None

    @property
    def sent(self) -> bool:
        return self.message_changes.get("status") == OutboundStatus.SENT


def record_delivery(message: OutboundMessage, result: DeliveryResult, *, now: datetime) -> SendPlan:
    """Steps 9–11: the attempt row, the message update of §B4.1 and the ``outbound.send`` audit."""
    attempt_no = message.retry_count + 1
    attempt = {"attempt_no": attempt_no, "status": "sent" if result.ok else "failed",
               "provider_message_id": result.provider_message_id, "error": None if result.ok else result.error}
    if result.ok:
        changes = {"status": OutboundStatus.SENT.value, "retry_count": attempt_no, "sent_at": now,
                   "next_attempt_at": None, "last_error": None, "updated_at": now}
        audit = AuditSpec("outbound.send", "ok", {"provider_message_id": result.provider_message_id})
        return SendPlan(changes, {}, attempt, [audit], None)
    reason = result.error or "provider_error"
    if attempt_no < message.max_retries:
        status, next_at = OutboundStatus.APPROVED, now + timedelta(minutes=2 * attempt_no)
    else:
        status, next_at = OutboundStatus.FAILED, None
    changes = {"status": status.value, "retry_count": attempt_no, "next_attempt_at": next_at,
               "last_error": reason, "updated_at": now}
    audit = AuditSpec("outbound.send", "failed", {"reason": reason})
    return SendPlan(changes, {}, attempt, [audit], OutboundSendFailed(None, f"Delivery failed: {reason}"))


Deliver = Callable[[Mapping[str, Any]], DeliveryResult]


def run_send(message: OutboundMessage, policy: ChannelPolicy, *, now: datetime,
             deliver: Deliver | None = None) -> SendPlan:
    """The whole send algorithm for one locked message and policy (steps 1, 3–11).

    ``deliver(payload)`` is the provider adapter; the default is :func:`simulate_delivery`.
    Raises ``OutboundInvalidState`` only for a message that is not sendable (no changes).
    """
    gate = plan_send(message, policy, now=now)
    if not gate.deliver:
        return SendPlan(gate.message_changes, gate.policy_changes, None,
                        [gate.audit] if gate.audit else [], gate.error)
    send = deliver or (lambda payload: simulate_delivery(payload, now=now))
    delivered = record_delivery(message, send(message.payload), now=now)
    return replace(delivered, policy_changes=gate.policy_changes)
