"""UTC time helpers of kag.md §1 and connectors-rag.md §0.3 (`parse_ts`, `parse_date`).

Decisions where the spec is silent:
- Every timestamp KAG writes into a JSON payload or a dedupe key is rendered by `iso_z`:
  `YYYY-MM-DDTHH:MM:SS.mmmZ` (milliseconds, `Z`), the same form the spec uses for outcome times
  (`<date>T23:59:59.000Z`). One rendering everywhere keeps dedupe keys stable.
- `parse_ts` accepts `datetime` (naive = UTC), `date` (midnight UTC), epoch numbers and ISO strings.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

__all__ = [
    "DAY",
    "date_key",
    "day_key",
    "days_between",
    "iso_z",
    "parse_date",
    "parse_ts",
    "utc_date",
]

DAY = timedelta(days=1)
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_ts(value: Any) -> datetime | None:
    """Timezone-aware UTC datetime, or None when missing/unparseable (connectors-rag §0.3)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal):
        return _from_epoch(float(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return _from_epoch(float(text))
    except ValueError:
        pass
    text = _FRACTION.sub(r"\1", text)
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _from_epoch(number: float) -> datetime | None:
    if not math.isfinite(number):
        return None
    seconds = number if abs(number) < 10_000_000_000 else number / 1000.0
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_date(value: Any) -> date | None:
    """`YYYY-MM-DD` from the first 10 characters (or a date/datetime); else None."""
    if isinstance(value, datetime):
        return parse_ts(value).date()  # type: ignore[union-attr]
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or len(value.strip()) < 10:
        return None
    try:
        return date.fromisoformat(value.strip()[:10])
    except ValueError:
        return None


def iso_z(value: datetime | None) -> str | None:
    """`2026-02-17T12:00:00.000Z` (UTC, milliseconds); None stays None."""
    if value is None:
        return None
    utc = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def days_between(earlier: datetime, later: datetime) -> float:
    """Seconds/86400 between two instants, floored at 0 (kag.md §1)."""
    return max(0.0, (later - earlier).total_seconds() / 86400.0)


def utc_date(value: datetime) -> date:
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).date()


def day_key(value: datetime) -> str:
    """The UTC date of an instant as `YYYY-MM-DD`."""
    return utc_date(value).isoformat()


def date_key(value: date) -> str:
    return value.isoformat()
