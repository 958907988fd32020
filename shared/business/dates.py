"""UTC calendar helpers of business.md §0.6: today, ISO weeks starting Monday, month start, windows.

All functions take the current time explicitly (``now``), so jobs can pin the date fixed at
acceptance and tests need no clock patching. A naive datetime is read as UTC (SQLite returns naive
values; every stored value is UTC).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

__all__ = ["as_utc", "days_until", "iso_utc", "month_start", "period_window", "utc_date", "week_start"]


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime (naive input is taken to be UTC already)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso_utc(value: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a ``Z`` suffix (platform §2.4), e.g. ``2026-02-17T10:00:00.000Z``."""
    value = as_utc(value)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def utc_date(now: datetime) -> date:
    """The UTC calendar date of ``now`` ("today")."""
    return as_utc(now).date()


def week_start(day: date | datetime) -> date:
    """Monday of the ISO week containing ``day`` (a datetime is first taken to its UTC date)."""
    if isinstance(day, datetime):
        day = utc_date(day)
    return day - timedelta(days=day.weekday())


def month_start(day: date | datetime) -> date:
    """First day of the UTC month containing ``day``."""
    if isinstance(day, datetime):
        day = utc_date(day)
    return day.replace(day=1)


def period_window(period_days: int, today: date) -> tuple[date, date]:
    """``(period_start, period_end)`` = ``(today − period_days, today)`` (analytics §A5.1)."""
    return today - timedelta(days=period_days), today


def days_until(target: date, today: date) -> int:
    """Whole days from ``today`` to ``target`` (negative when ``target`` is in the past)."""
    return (target - today).days
