"""Request shapes of the outbound routes (business.md §B4) and the Outbound / policy objects.

Body fields are declared ``Any`` on purpose: the §0.4 parsing rules (trim, clamp, lenient integers,
the spec's error codes) live in ``shared.business.outbound`` and run on the raw values.
"""

from __future__ import annotations

from typing import Any

from shared.db.models.growth import ContactChannelPolicy, OutboundAttempt, OutboundMessage
from web.validation import Body, Limit, Offset, Query

OUTBOUND_COLUMNS = (
    "id", "project_id", "account_scope_id", "channel", "recipient_ref", "payload", "evidence_refs", "status",
    "idempotency_key", "dedupe_key", "retry_count", "max_retries", "next_attempt_at", "approved_by", "approved_at",
    "sent_at", "last_error", "created_at", "updated_at",
)
POLICY_COLUMNS = (
    "id", "project_id", "account_scope_id", "contact_global_id", "channel", "opted_out", "stop_on_reply",
    "frequency_window_hours", "frequency_cap", "sent_in_window", "window_started_at", "last_outbound_at",
    "last_inbound_at", "updated_at",
)


class OutboundQuery(Query):
    status: str | None = None
    limit: Limit(50, 200)
    offset: Offset


class DraftIn(Body):
    channel: Any = None
    recipient_ref: Any = None
    idempotency_key: Any = None
    payload: Any = None
    dedupe_key: Any = None
    max_retries: Any = None
    evidence_refs: Any = None


class ApproveIn(Body):
    evidence_refs: Any = None


class OptOutIn(Body):
    contact_global_id: Any = None
    channel: Any = None
    opted_out: Any = None
    stop_on_reply: Any = None
    frequency_window_hours: Any = None
    frequency_cap: Any = None
    mark_replied: Any = None
    evidence_refs: Any = None


class ProcessIn(Body):
    limit: Any = None


def outbound_json(message: OutboundMessage) -> dict[str, Any]:
    return {name: getattr(message, name) for name in OUTBOUND_COLUMNS}


def policy_json(policy: ContactChannelPolicy) -> dict[str, Any]:
    return {name: getattr(policy, name) for name in POLICY_COLUMNS}


def attempt_json(attempt: OutboundAttempt) -> dict[str, Any]:
    return {"id": attempt.id, "attempt_no": attempt.attempt_no, "status": attempt.status,
            "provider_message_id": attempt.provider_message_id, "error": attempt.error,
            "created_at": attempt.created_at}
