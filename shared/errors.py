"""One error tree for the whole project.

Web errors carry the envelope code and HTTP status (only ``web/errors.py`` maps them to a
response). Job errors say whether a failure is permanent; only ``jobs/runner.py`` classifies them.
"""

from __future__ import annotations

from typing import Any


class KeelError(Exception):
    status = 500
    code = "internal_error"

    def __init__(self, code: str | None = None, message: str | None = None, *,
                 status: int | None = None, details: dict[str, Any] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        self.code = code or self.code
        self.message = message or self.code.replace("_", " ").capitalize()
        if status is not None:
            self.status = status
        self.details = details
        self.headers = headers or {}
        super().__init__(self.message)


# --- web (4xx / 503) -----------------------------------------------------------------------------
class InvalidInput(KeelError):
    status, code = 400, "invalid_body"


class Unauthorized(KeelError):
    status, code = 401, "unauthorized"


class Forbidden(KeelError):
    status, code = 403, "csrf_invalid"


class NotFound(KeelError):
    status, code = 404, "not_found"


class MethodNotAllowed(KeelError):
    status, code = 405, "method_not_allowed"


class Conflict(KeelError):
    status, code = 409, "conflict"


class Gone(KeelError):
    status, code = 410, "gone"


class PayloadTooLarge(KeelError):
    status, code = 413, "payload_too_large"


class UnsupportedMediaType(KeelError):
    status, code = 415, "unsupported_media_type"


class RateLimited(KeelError):
    status, code = 429, "login_rate_limited"


class ServiceUnavailable(KeelError):
    status, code = 503, "queue_unavailable"


class QueueUnavailable(ServiceUnavailable):
    code = "queue_unavailable"


# --- scope guard ---------------------------------------------------------------------------------
class ScopeViolation(KeelError):
    """A write whose account scope differs from its project's: a server bug (surfaces as 500)."""

    status, code = 500, "internal_error"


# --- jobs ----------------------------------------------------------------------------------------
class JobSkipped(Exception):
    """Not a failure: the run ends ``skipped`` with ``reason`` (platform §7.5 step 7)."""

    def __init__(self, reason: str, details: dict[str, Any] | None = None) -> None:
        self.reason = reason
        self.details = details or {}
        super().__init__(reason)


class PermanentJobError(Exception):
    """Base of the non-retryable job failures: RQ retries are skipped, straight to the DLQ."""

    error_kind = "permanent_error"


class ConfigurationError(PermanentJobError):
    error_kind = "configuration_error"


class JobValidationError(PermanentJobError):
    error_kind = "validation_error"


class UnsupportedConnectorError(PermanentJobError):
    error_kind = "unsupported_connector"


class UpstreamClientError(PermanentJobError):
    """The vendor answered a 4xx other than 408/429 (and not Linear RATELIMITED)."""

    error_kind = "upstream_client_error"

    def __init__(self, message: str, *, status: int | None = None, error_kind: str | None = None) -> None:
        self.status = status
        if error_kind:
            self.error_kind = error_kind
        super().__init__(message)


class TransientError(Exception):
    """Retryable: timeouts, connection errors, 408/429/5xx after in-job retries, malformed JSON."""

    error_kind = "transient_error"

    def __init__(self, message: str, *, retry_after: float | None = None, error_kind: str | None = None,
                 status: int | None = None) -> None:
        self.retry_after = retry_after
        self.status = status
        if error_kind:
            self.error_kind = error_kind
        super().__init__(message)


def is_permanent(exc: BaseException) -> bool:
    from sqlalchemy.exc import DataError, IntegrityError

    return isinstance(exc, PermanentJobError | IntegrityError | DataError)
