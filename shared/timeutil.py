"""UTC time helpers: one clock and one serialisation for the whole project (platform §2.4)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every value we store is UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime | date | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a ``Z`` suffix; dates stay ``YYYY-MM-DD``."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        return value.isoformat()
    if value.tzinfo is not UTC:
        value = as_utc(value)
    return value.isoformat(timespec="milliseconds")[:-6] + "Z"  # "+00:00" -> "Z"


def seconds_from_now(seconds: float) -> datetime:
    return utcnow() + timedelta(seconds=seconds)
