"""The one retry policy for work inside jobs (platform §9.6), built on tenacity.

Vendor calls (``vendor_retrying``) retry only what ``classify`` calls transient: up to
``CONNECTOR_HTTP_MAX_ATTEMPTS`` attempts, waiting ``wait_for_attempt()`` — the named delay of the
response (``Retry-After`` as delta-seconds or HTTP-date, Linear's ``X-RateLimit-Requests-Reset`` in
epoch milliseconds) when there is one, else exponential backoff with full jitter capped at 8 s. A
named delay above ``CONNECTOR_RETRY_AFTER_MAX_SECONDS`` stops in-job retrying at once: the transient
error is re-raised and RQ's ``Retry(max=2, interval=[30, 120])`` takes over (platform §9.5 a).
Database and Redis work (``db_retrying`` / ``retry_db``) retries operational errors (connection loss,
serialization failures, deadlocks) with the same wait, 3 attempts. Everything here is pure apart from
the ``sleep`` it is given.

The vendor HTTP client raises ``TransientError(retry_after=...)`` for 408/429/5xx, Linear
``RATELIMITED`` and invalid JSON, and ``UpstreamClientError`` for other 4xx; ``classify_exception``
maps those (and plain connection errors and timeouts) to a ``Verdict``.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Protocol, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception
from tenacity.stop import stop_base
from tenacity.wait import wait_base

from shared.errors import PermanentJobError, TransientError

log = logging.getLogger(__name__)
T = TypeVar("T")

BACKOFF_MULTIPLIER = 0.5  # wait_random_exponential(multiplier=0.5, max=8)
BACKOFF_CAP_S = 8.0
DB_ATTEMPTS = 3


@dataclass(frozen=True)
class Verdict:
    """What the policy does with an exception: retry it or not, and the delay the response named."""

    retry: bool
    delay: float | None = None


Classify = Callable[[BaseException], Verdict]


class RetrySettings(Protocol):
    connector_http_max_attempts: int
    connector_retry_after_max_seconds: int


# --- named delays --------------------------------------------------------------------------------
def _now(now: datetime | float | None) -> float:
    if now is None:
        return time.time()
    return now.timestamp() if isinstance(now, datetime) else float(now)


def parse_retry_after(value: str | None, now: datetime | float | None = None) -> float | None:
    """``Retry-After`` (RFC 9110 §10.2.3) as seconds from ``now``: delta-seconds or an HTTP-date.

    A date in the past gives 0; an absent, empty, negative or unparseable value gives None.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if seconds >= 0 and seconds == seconds else None  # rejects NaN
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - _now(now))


def parse_reset_epoch_ms(value: str | None, now: datetime | float | None = None) -> float | None:
    """Linear's ``X-RateLimit-Requests-Reset`` (epoch milliseconds) as seconds from ``now`` (≥ 0)."""
    if value is None:
        return None
    try:
        reset_ms = float(value.strip())
    except ValueError:
        return None
    if reset_ms != reset_ms or reset_ms < 0:
        return None
    return max(0.0, reset_ms / 1000.0 - _now(now))


# --- waiting ---------------------------------------------------------------------------------------
def backoff_ceiling(attempt: int, *, multiplier: float = BACKOFF_MULTIPLIER, cap: float = BACKOFF_CAP_S) -> float:
    """Upper bound of the jittered wait after failed attempt ``attempt`` (1-based), as tenacity computes it."""
    try:
        return min(cap, multiplier * 2 ** max(0, attempt - 1))
    except OverflowError:
        return cap


def wait_for_attempt(attempt: int, named_delay: float | None = None, *, multiplier: float = BACKOFF_MULTIPLIER,
                     cap: float = BACKOFF_CAP_S, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt ``attempt``: the named delay, else full jitter in [0, ceiling]."""
    if named_delay is not None:
        return max(0.0, named_delay)
    return (rng or random).uniform(0.0, backoff_ceiling(attempt, multiplier=multiplier, cap=cap))


# --- classification --------------------------------------------------------------------------------
def _transport_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [ConnectionError, TimeoutError]
    try:
        import httpx

        errors.append(httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency
        pass
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        errors += [RedisConnectionError, RedisTimeoutError]
    except ImportError:  # pragma: no cover - redis is a dependency
        pass
    return tuple(errors)


_TRANSPORT = _transport_errors()


def classify_exception(exc: BaseException) -> Verdict:
    """Default vendor classification: transient errors and transport failures retry, the rest does not."""
    if isinstance(exc, PermanentJobError):
        return Verdict(False)
    if isinstance(exc, TransientError):
        return Verdict(True, exc.retry_after)
    if isinstance(exc, _TRANSPORT):
        return Verdict(True)
    return Verdict(False)


def is_db_transient(exc: BaseException) -> bool:
    """Operational database errors (connection lost, serialization failure, deadlock) and Redis outages."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DBAPIError, OperationalError

    if isinstance(exc, OperationalError | RedisConnectionError | RedisTimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


# --- tenacity pieces ---------------------------------------------------------------------------------
def _exception(state: RetryCallState) -> BaseException | None:
    return state.outcome.exception() if state.outcome is not None and state.outcome.failed else None


class _NamedDelayWait(wait_base):
    def __init__(self, classify: Classify, rng: random.Random | None) -> None:
        self.classify, self.rng = classify, rng

    def __call__(self, retry_state: RetryCallState) -> float:
        exc = _exception(retry_state)
        named = self.classify(exc).delay if exc is not None else None
        return wait_for_attempt(retry_state.attempt_number, named, rng=self.rng)


class _VendorStop(stop_base):
    """Stop after ``max_attempts``, or at once when the response names a delay above ``max_named_delay``."""

    def __init__(self, classify: Classify, max_attempts: int, max_named_delay: float) -> None:
        self.classify, self.max_attempts, self.max_named_delay = classify, max_attempts, max_named_delay

    def __call__(self, retry_state: RetryCallState) -> bool:
        if retry_state.attempt_number >= self.max_attempts:
            return True
        exc = _exception(retry_state)
        delay = self.classify(exc).delay if exc is not None else None
        return delay is not None and delay > self.max_named_delay


def _log_retry(operation: str) -> Callable[[RetryCallState], None]:
    def before_sleep(state: RetryCallState) -> None:
        exc = _exception(state)
        log.warning("retrying", extra={"fields": {
            "operation": operation, "attempt": state.attempt_number, "status": getattr(exc, "status", None),
            "error_class": type(exc).__name__ if exc else None,
            "wait_s": round(state.next_action.sleep, 3) if state.next_action else None,
        }})

    return before_sleep


def vendor_retrying(settings: RetrySettings | None = None, classify: Classify = classify_exception, *,
                    operation: str = "http", max_attempts: int | None = None,
                    max_named_delay: float | None = None, sleep: Callable[[float], None] = time.sleep,
                    rng: random.Random | None = None) -> Retrying:
    """The tenacity ``Retrying`` for one vendor call (``operation`` = method and URL without secrets).

    Use as ``vendor_retrying(settings, classify, operation=...)(call, *args)``; the last exception is
    re-raised as is (``reraise=True``), so a transient error that survives goes on to RQ's retry.
    """
    attempts = max_attempts or (settings.connector_http_max_attempts if settings else 3)
    cap = max_named_delay if max_named_delay is not None else (
        settings.connector_retry_after_max_seconds if settings else 60)
    return Retrying(
        stop=_VendorStop(classify, max(1, attempts), float(cap)),
        wait=_NamedDelayWait(classify, rng),
        retry=retry_if_exception(lambda exc: classify(exc).retry),
        reraise=True, sleep=sleep, before_sleep=_log_retry(operation),
    )


def db_retrying(*, operation: str = "db", attempts: int = DB_ATTEMPTS, sleep: Callable[[float], None] = time.sleep,
                rng: random.Random | None = None) -> Retrying:
    """The tenacity ``Retrying`` for database/Redis work inside jobs (one unit of work per call)."""
    def classify(exc: BaseException) -> Verdict:
        return Verdict(is_db_transient(exc))

    return Retrying(
        stop=_VendorStop(classify, max(1, attempts), float("inf")),
        wait=_NamedDelayWait(classify, rng),
        retry=retry_if_exception(is_db_transient),
        reraise=True, sleep=sleep, before_sleep=_log_retry(operation),
    )


def retry_db(fn: Callable[..., T], *args: Any, operation: str = "db", **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` (which opens and commits its own transaction) under ``db_retrying``."""
    return db_retrying(operation=operation)(fn, *args, **kwargs)
