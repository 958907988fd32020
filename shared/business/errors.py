"""Domain errors of business.md, each carrying the spec's error code and HTTP status.

Every class here derives from the project tree in ``shared/errors.py`` (``InvalidInput`` 400,
``NotFound`` 404, ``Conflict`` 409, ``RateLimited`` 429, ``KeelError``), so ``web/errors.py`` maps
them to the error envelope with no extra code: ``{"ok": false, "error": exc.code,
"message": exc.message, "details": exc.details}`` with status ``exc.status``.

Generic field errors use the base classes with the field's code, e.g.
``InvalidInput("invalid_stage", "...")``. Conditions with their own name (a state-machine refusal,
a compliance block) get a class, so callers can catch exactly that condition.
"""

from __future__ import annotations

from typing import Any

from shared.errors import Conflict, InvalidInput, KeelError, NotFound, RateLimited

__all__ = [
    "AccountNameConflict",
    "BusinessConflict",
    "Conflict",
    "DiscountApprovalRequired",
    "FrequencyCapReached",
    "InvalidInput",
    "InvalidTransition",
    "KeelError",
    "NotFound",
    "OfferInvalidState",
    "OutboundBlockedOptOut",
    "OutboundBlockedStopOnReply",
    "OutboundDuplicate",
    "OutboundInvalidState",
    "OutboundSendFailed",
]


class BusinessConflict(Conflict):
    """409 raised by a business rule (base for the named conflicts below)."""


class InvalidTransition(BusinessConflict):
    """A state machine refused an event. ``from_status`` and ``event`` are kept for logs/tests."""

    def __init__(self, code: str | None = None, message: str | None = None, *,
                 from_status: str | None = None, event: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
        self.from_status = from_status
        self.event = event
        super().__init__(code, message, details=details)


class AccountNameConflict(BusinessConflict):
    code = "account_name_conflict"


class OfferInvalidState(InvalidTransition):
    code = "offer_invalid_state"


class DiscountApprovalRequired(InvalidTransition):
    code = "discount_approval_required"


class OutboundInvalidState(InvalidTransition):
    code = "outbound_invalid_state"


class OutboundBlockedOptOut(BusinessConflict):
    code = "outbound_blocked_opt_out"


class OutboundBlockedStopOnReply(BusinessConflict):
    code = "outbound_blocked_stop_on_reply"


class OutboundDuplicate(BusinessConflict):
    """Another message of the project already has this ``dedupe_key`` (``details.outbound_id``)."""

    code = "outbound_duplicate"

    def __init__(self, outbound_id: str, message: str | None = None) -> None:
        super().__init__(None, message or "An identical message to this recipient already exists",
                         details={"outbound_id": str(outbound_id)})


class FrequencyCapReached(RateLimited):
    code = "frequency_cap_reached"


class OutboundSendFailed(KeelError):
    """The provider refused or failed the delivery (the state change is still committed)."""

    status, code = 502, "outbound_send_failed"
