"""The retry policy (platform §9.6): pure, no Redis, no database, no real sleeping."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from shared.errors import TransientError, UpstreamClientError
from shared.retry import (
    backoff_ceiling,
    classify_exception,
    db_retrying,
    parse_reset_epoch_ms,
    parse_retry_after,
    retry_db,
    vendor_retrying,
    wait_for_attempt,
)

NOW = datetime(2025, 3, 4, 12, 0, 0, tzinfo=UTC)
SETTINGS = SimpleNamespace(connector_http_max_attempts=3, connector_retry_after_max_seconds=60)


class Flaky:
    """Fails with the given exceptions in order, then returns "done"."""

    def __init__(self, *failures: BaseException) -> None:
        self.failures, self.calls = list(failures), 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return "done"


@pytest.mark.parametrize(("value", "expected"), [
    ("120", 120.0), (" 0 ", 0.0), ("1.5", 1.5), ("Tue, 04 Mar 2025 12:00:30 GMT", 30.0),
    ("Tue, 04 Mar 2025 11:59:00 GMT", 0.0), ("", None), (None, None), ("-5", None), ("soon", None),
    ("nan", None),
])
def test_retry_after_accepts_seconds_and_http_dates(value, expected) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_linear_reset_is_epoch_milliseconds() -> None:
    reset_ms = str(int((NOW + timedelta(seconds=7)).timestamp() * 1000))
    assert parse_reset_epoch_ms(reset_ms, NOW) == pytest.approx(7.0)
    assert parse_reset_epoch_ms("0", NOW) == 0.0
    assert parse_reset_epoch_ms("x", NOW) is None and parse_reset_epoch_ms(None, NOW) is None


def test_backoff_is_full_jitter_under_a_capped_exponential() -> None:
    assert [backoff_ceiling(a) for a in (1, 2, 3, 4, 5, 6, 50)] == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    rng = random.Random(7)
    waits = [wait_for_attempt(4, rng=rng) for _ in range(500)]
    assert all(0 <= w <= 4.0 for w in waits) and max(waits) > 3.0 and min(waits) < 1.0
    assert wait_for_attempt(2, 12.5) == 12.5


def test_classification_follows_the_error_classes() -> None:
    assert classify_exception(TransientError("503", retry_after=3)).retry is True
    assert classify_exception(TransientError("503", retry_after=3)).delay == 3
    assert classify_exception(ConnectionResetError()).retry is True
    assert classify_exception(TimeoutError()).retry is True
    assert classify_exception(UpstreamClientError("401", status=401)).retry is False
    assert classify_exception(ValueError("bug")).retry is False


def test_transient_failures_are_retried_until_success() -> None:
    sleeps: list[float] = []
    call = Flaky(TransientError("502"), TransientError("503"))
    assert vendor_retrying(SETTINGS, sleep=sleeps.append, rng=random.Random(1))(call) == "done"
    assert call.calls == 3 and len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_named_delay_replaces_the_backoff() -> None:
    sleeps: list[float] = []
    call = Flaky(TransientError("429", retry_after=12.0))
    assert vendor_retrying(SETTINGS, sleep=sleeps.append)(call) == "done"
    assert sleeps == [12.0]


def test_named_delay_above_the_cap_stops_in_job_retrying() -> None:
    sleeps: list[float] = []
    call = Flaky(TransientError("429", retry_after=61.0))
    with pytest.raises(TransientError):
        vendor_retrying(SETTINGS, sleep=sleeps.append)(call)
    assert call.calls == 1 and sleeps == []


def test_last_attempt_raises_the_transient_error() -> None:
    call = Flaky(*(TransientError(f"50{i}") for i in range(5)))
    with pytest.raises(TransientError, match="502"):
        vendor_retrying(SETTINGS, sleep=lambda _: None)(call)
    assert call.calls == 3


def test_permanent_errors_are_not_retried() -> None:
    call = Flaky(UpstreamClientError("403 forbidden", status=403))
    with pytest.raises(UpstreamClientError):
        vendor_retrying(SETTINGS, sleep=lambda _: None)(call)
    assert call.calls == 1


def test_custom_classifier_and_attempt_override() -> None:
    def classify(exc: BaseException):  # noqa: ANN202
        from shared.retry import Verdict

        return Verdict(isinstance(exc, KeyError), 0.0)

    call = Flaky(KeyError("a"), KeyError("b"), KeyError("c"), KeyError("d"))
    with pytest.raises(KeyError):
        vendor_retrying(None, classify, max_attempts=4, sleep=lambda _: None)(call)
    assert call.calls == 4


def test_database_operational_errors_are_retried_three_times() -> None:
    op = OperationalError("SELECT 1", {}, Exception("deadlock detected"))
    call = Flaky(op, op)
    assert db_retrying(sleep=lambda _: None)(call) == "done" and call.calls == 3
    call = Flaky(op, op, op)
    with pytest.raises(OperationalError):
        db_retrying(sleep=lambda _: None)(call)
    assert call.calls == 3


def test_database_integrity_errors_propagate_at_once() -> None:
    call = Flaky(IntegrityError("INSERT", {}, Exception("duplicate key")))
    with pytest.raises(IntegrityError):
        retry_db(call, operation="insert")
    assert call.calls == 1
