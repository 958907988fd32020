"""Outbound messages, attempts and contact channel policies (business.md §B4). Callers own the transaction.

The rules live in ``shared.business.outbound``; this module loads and locks rows, applies the
planned changes and writes the audit rows in the caller's transaction.

Concurrency: :func:`send_outbound` locks the message with ``FOR UPDATE NOWAIT`` (a second sender of
the same message gets ``409 outbound_busy`` at once; once the first commits, its status makes any
later sender fail with ``409 outbound_invalid_state``), then the recipient's policy with ``FOR
UPDATE`` (two messages to one recipient serialize on the frequency counter). Lock order is always
message → policy. ``UNIQUE(outbound_id, attempt_no)`` backs this up in the schema: an attempt
number can be recorded once.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from shared import timeutil
from shared.audit import write_audit_event
from shared.business import outbound as rules
from shared.db.models.growth import ContactChannelPolicy, OutboundAttempt, OutboundMessage
from shared.db.service.projects import dialect_insert
from shared.errors import Conflict, KeelError, NotFound
from shared.scope import Scope

ENTITY = "outbound_message"
LOCK_NOT_AVAILABLE = "55P03"


def _now(now: datetime | None) -> datetime:
    return now or timeutil.utcnow()


# --- reads --------------------------------------------------------------------------------------
def list_outbound(*, session: Session, scope: Scope, status: str | None, limit: int,
                  offset: int = 0) -> list[OutboundMessage]:
    stmt = select(OutboundMessage).filter_by(**scope.as_filter())
    if status:
        stmt = stmt.where(OutboundMessage.status == status)
    stmt = stmt.order_by(OutboundMessage.created_at.desc(), OutboundMessage.id.desc()).offset(offset).limit(limit)
    return list(session.scalars(stmt))


def get_outbound(*, session: Session, scope: Scope, outbound_id: uuid.UUID) -> OutboundMessage | None:
    return session.scalar(select(OutboundMessage).filter_by(id=outbound_id, **scope.as_filter()))


def get_outbound_or_raise(*, session: Session, scope: Scope, outbound_id: uuid.UUID) -> OutboundMessage:
    message = get_outbound(session=session, scope=scope, outbound_id=outbound_id)
    if message is None:
        raise NotFound("outbound_not_found", "Outbound message not found")
    return message


def _lock_outbound(session: Session, scope: Scope, outbound_id: uuid.UUID, *, nowait: bool) -> OutboundMessage:
    stmt = select(OutboundMessage).filter_by(id=outbound_id, **scope.as_filter()).with_for_update(nowait=nowait)
    try:
        message = session.scalar(stmt)
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise Conflict("outbound_busy", "The message is being sent by another request") from None
        raise
    if message is None:
        raise NotFound("outbound_not_found", "Outbound message not found")
    return message


def attempts_of(*, session: Session, scope: Scope, outbound_id: uuid.UUID) -> list[OutboundAttempt]:
    stmt = (select(OutboundAttempt).filter_by(outbound_id=outbound_id, **scope.as_filter())
            .order_by(OutboundAttempt.attempt_no))
    return list(session.scalars(stmt))


def get_policy(*, session: Session, scope: Scope, contact_global_id: str, channel: str) -> ContactChannelPolicy | None:
    return session.scalar(select(ContactChannelPolicy).filter_by(
        contact_global_id=contact_global_id, channel=channel, **scope.as_filter()))


def _audit(session: Session, scope: Scope, message: OutboundMessage, spec: rules.AuditSpec, *,
           actor: str | None, request_id: str | None, idempotency_key: str | None = None) -> None:
    write_audit_event(session, scope, actor_username=actor, action=spec.action, entity_type=ENTITY,
                      entity_id=str(message.id), status=spec.status, request_id=request_id, payload=spec.payload,
                      evidence_refs=list(message.evidence_refs or []), idempotency_key=idempotency_key)


# --- drafts -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class DraftResult:
    message: OutboundMessage
    outcome: rules.DraftOutcome

    @property
    def http_status(self) -> int:
        return rules.DraftDecision(self.outcome).http_status


def _decide_draft(session: Session, scope: Scope, draft: rules.DraftIn) -> tuple[OutboundMessage | None,
                                                                                   rules.DraftDecision]:
    existing = session.scalar(select(OutboundMessage).filter_by(
        idempotency_key=draft.idempotency_key, **scope.as_filter()).with_for_update())
    duplicate = None
    if existing is None or existing.status == rules.OutboundStatus.DRAFT:
        stmt = select(OutboundMessage.id).filter_by(dedupe_key=draft.dedupe_key, **scope.as_filter())
        if existing is not None:
            stmt = stmt.where(OutboundMessage.id != existing.id)
        duplicate = session.scalar(stmt.limit(1))
    decision = rules.plan_draft(existing_status=existing.status if existing else None,
                                duplicate_outbound_id=duplicate)
    return existing, decision


def save_draft(*, session: Session, scope: Scope, draft: rules.DraftIn, actor: str | None,
               request_id: str | None, now: datetime | None = None) -> DraftResult:
    """Insert (201), update a draft (200) or return a non-draft unchanged (200); 409 on a duplicate."""
    now = _now(now)
    for _ in range(2):
        existing, decision = _decide_draft(session, scope, draft)
        if decision.outcome is rules.DraftOutcome.UNCHANGED:
            return DraftResult(existing, decision.outcome)
        if decision.outcome is rules.DraftOutcome.UPDATE:
            existing.payload, existing.evidence_refs = dict(draft.payload), list(draft.evidence_refs)
            existing.dedupe_key, existing.updated_at = draft.dedupe_key, now
            message = existing
            break
        message = OutboundMessage(
            project_id=scope.project_id, account_scope_id=scope.account_scope_id, channel=draft.channel,
            recipient_ref=draft.recipient_ref, payload=dict(draft.payload), evidence_refs=list(draft.evidence_refs),
            status=rules.OutboundStatus.DRAFT.value, idempotency_key=draft.idempotency_key,
            dedupe_key=draft.dedupe_key, retry_count=0, max_retries=draft.max_retries, next_attempt_at=now,
            created_at=now, updated_at=now)
        try:
            with session.begin_nested():
                session.add(message)
        except IntegrityError:  # a concurrent request took the key or the content: decide again
            continue
        break
    else:  # pragma: no cover - two consecutive races on the same key
        raise Conflict("outbound_busy", "The draft is being written by another request")
    session.flush()
    _audit(session, scope, message, rules.AuditSpec("outbound.draft", "ok", {
        "channel": message.channel, "recipient_ref": message.recipient_ref}),
        actor=actor, request_id=request_id, idempotency_key=message.idempotency_key)
    return DraftResult(message, decision.outcome)


# --- approval -----------------------------------------------------------------------------------
def approve_outbound(*, session: Session, scope: Scope, outbound_id: uuid.UUID, actor: str | None,
                     request_id: str | None, evidence_refs: list[dict[str, Any]] | None = None,
                     now: datetime | None = None) -> OutboundMessage:
    """``draft`` → ``approved`` (audited); ``approved`` stays unchanged; anything else → 409."""
    message = _lock_outbound(session, scope, outbound_id, nowait=False)
    decision = rules.approve_outbound(message.status, actor=actor or "", now=_now(now), evidence_refs=evidence_refs)
    if decision.changed:
        for column, value in decision.message_changes.items():
            setattr(message, column, value)
        session.flush()
        _audit(session, scope, message, decision.audit, actor=actor, request_id=request_id)
    return message


# --- policies -----------------------------------------------------------------------------------
def _policy_values(row: ContactChannelPolicy) -> rules.ChannelPolicy:
    return rules.ChannelPolicy(
        opted_out=row.opted_out, stop_on_reply=row.stop_on_reply, frequency_window_hours=row.frequency_window_hours,
        frequency_cap=row.frequency_cap, sent_in_window=row.sent_in_window, window_started_at=row.window_started_at,
        last_outbound_at=row.last_outbound_at, last_inbound_at=row.last_inbound_at)


def lock_policy(*, session: Session, scope: Scope, contact_global_id: str, channel: str,
                now: datetime | None = None) -> ContactChannelPolicy:
    """Get-or-create the (contact, channel) policy with the defaults, locked ``FOR UPDATE``."""
    insert = dialect_insert(session)
    session.execute(insert(ContactChannelPolicy).values(
        id=uuid.uuid4(), project_id=scope.project_id, account_scope_id=scope.account_scope_id,
        contact_global_id=contact_global_id, channel=channel, updated_at=_now(now),
    ).on_conflict_do_nothing(index_elements=["project_id", "contact_global_id", "channel"]))
    stmt = select(ContactChannelPolicy).filter_by(
        contact_global_id=contact_global_id, channel=channel, **scope.as_filter()).with_for_update()
    return session.execute(stmt.execution_options(populate_existing=True)).scalar_one()


def set_policy(*, session: Session, scope: Scope, change: rules.OptOutIn, actor: str | None,
               request_id: str | None, now: datetime | None = None) -> ContactChannelPolicy:
    """``POST /outbound/opt-out``: create the policy if missing, apply the given fields, audit."""
    now = _now(now)
    row = lock_policy(session=session, scope=scope, contact_global_id=change.contact_global_id,
                      channel=change.channel, now=now)
    after = rules.apply_opt_out(_policy_values(row), change, now=now)
    for column in ("opted_out", "stop_on_reply", "frequency_window_hours", "frequency_cap", "last_inbound_at"):
        setattr(row, column, getattr(after, column))
    row.updated_at = now
    session.flush()
    write_audit_event(session, scope, actor_username=actor, action="outbound.opt_out",
                      entity_type="contact_channel_policy", entity_id=str(row.id), request_id=request_id,
                      payload=change.audit_payload(after), evidence_refs=change.evidence_refs)
    return row


# --- sending ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class SendResult:
    message: OutboundMessage
    policy: ContactChannelPolicy | None
    error: KeelError | None  # raise after the commit (the state change is kept)
    skipped: bool = False  # campaign run: no longer due once locked

    @property
    def sent(self) -> bool:
        return self.error is None and not self.skipped


Deliver = Callable[[Mapping[str, Any]], rules.DeliveryResult]


def send_outbound(*, session: Session, scope: Scope, outbound_id: uuid.UUID, actor: str | None,
                  request_id: str | None, now: datetime | None = None, deliver: Deliver | None = None,
                  only_if: Callable[[Mapping[str, Any]], bool] | None = None) -> SendResult:
    """The send algorithm (§B4, steps 1–11) in the caller's transaction.

    Raises (nothing written): ``outbound_not_found``, ``outbound_busy``, ``outbound_invalid_state``.
    Otherwise returns the updated rows and, for blocks and provider failures, the error the caller
    raises **after** committing. ``only_if(row_dict)`` re-checks a batch selection under the lock
    (a message that is no longer due is skipped untouched).
    """
    now = _now(now)
    message = _lock_outbound(session, scope, outbound_id, nowait=True)
    if only_if is not None and not only_if(_row_dict(message)):
        return SendResult(message, None, None, skipped=True)
    if message.status not in rules.SENDABLE_STATUSES:
        raise rules.OutboundInvalidState(None, f"Cannot send a message in status {message.status!r}",
                                         from_status=message.status, event="send")
    policy = lock_policy(session=session, scope=scope, contact_global_id=message.recipient_ref,
                         channel=message.channel, now=now)
    snapshot = rules.OutboundMessage(status=message.status, retry_count=message.retry_count,
                                     max_retries=message.max_retries, approved_at=message.approved_at,
                                     payload=dict(message.payload or {}))
    send = deliver or (lambda payload: rules.simulate_delivery(payload, now=now))
    plan = rules.run_send(snapshot, _policy_values(policy), now=now, deliver=send)
    for column, value in plan.message_changes.items():
        setattr(message, column, value)
    for column, value in plan.policy_changes.items():
        setattr(policy, column, value)
    if plan.policy_changes:
        policy.updated_at = now
    if plan.attempt is not None:
        session.add(OutboundAttempt(project_id=scope.project_id, account_scope_id=scope.account_scope_id,
                                    outbound_id=message.id, created_at=now, **plan.attempt))
    session.flush()
    for spec in plan.audits:
        _audit(session, scope, message, spec, actor=actor, request_id=request_id)
    return SendResult(message, policy, plan.error)


def _row_dict(message: OutboundMessage) -> dict[str, Any]:
    return {"status": message.status, "next_attempt_at": message.next_attempt_at, "created_at": message.created_at,
            "retry_count": message.retry_count, "max_retries": message.max_retries}


def due_outbound_ids(*, session: Session, scope: Scope, now: datetime | None = None, limit: int) -> list[uuid.UUID]:
    """``campaign_scheduler`` selection: approved/failed, due, retries left; oldest first."""
    now = _now(now)
    stmt = (select(OutboundMessage.id).filter_by(**scope.as_filter())
            .where(OutboundMessage.status.in_([s.value for s in rules.SENDABLE_STATUSES]),
                   or_(OutboundMessage.next_attempt_at.is_(None), OutboundMessage.next_attempt_at <= now),
                   OutboundMessage.retry_count < OutboundMessage.max_retries)
            .order_by(OutboundMessage.created_at, OutboundMessage.id).limit(limit))
    return list(session.scalars(stmt))
