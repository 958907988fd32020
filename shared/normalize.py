"""Normalisation helpers used by every vendor mapping (connectors-rag §0.3).

All functions are pure and total: bad input gives ``None`` (or the default), never an exception.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from numbers import Integral, Real
from typing import Any, overload

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
EPOCH_MS_THRESHOLD = 10_000_000_000  # |n| below this is epoch seconds, else epoch milliseconds

_INT_RE = re.compile(r"[+-]?\d+")
_DECIMAL_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_RE = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt ](?P<h>\d{2}):(?P<m>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d{1,9}))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?)?"
)
_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def clip(v: Any, n: int) -> str | None:
    """``str(v)`` trimmed; empty → ``None``; else its first ``n`` characters."""
    if v is None:
        return None
    s = str(v).strip()
    return s[:n] if s else None


def to_int(v: Any) -> int | None:
    """Integers pass, finite floats and decimal strings are truncated toward zero, the rest is ``None``."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, Integral):
        return int(v)
    if isinstance(v, Decimal):
        return int(v) if v.is_finite() else None
    if isinstance(v, Real):
        try:
            return int(v) if math.isfinite(v) else None
        except (OverflowError, ValueError, TypeError):
            return None
    if isinstance(v, str):
        s = v.strip()
        try:
            if _INT_RE.fullmatch(s):
                return int(s, 10)
            if _DECIMAL_RE.fullmatch(s):
                return int(Decimal(s))
        except (ValueError, InvalidOperation):  # e.g. more digits than int() accepts
            return None
    return None


def _from_epoch(value: Decimal) -> datetime | None:
    if abs(value) >= EPOCH_MS_THRESHOLD:
        value = value / 1000
    micros = int(value * 1_000_000)  # truncates toward zero
    try:
        return EPOCH + timedelta(microseconds=micros)
    except OverflowError:
        return None


def parse_ts(v: Any) -> datetime | None:
    """Epoch seconds/milliseconds or an ISO-8601 string → timezone-aware UTC ``datetime``."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
    if isinstance(v, Decimal):
        return _from_epoch(v) if v.is_finite() else None
    if isinstance(v, Real):
        try:
            return _from_epoch(Decimal(v)) if math.isfinite(v) else None
        except (InvalidOperation, ValueError, TypeError):
            return None
    if not isinstance(v, str):
        return None
    s = v.strip()
    if not s:
        return None
    if _DECIMAL_RE.fullmatch(s):
        try:
            return _from_epoch(Decimal(s))
        except InvalidOperation:
            return None
    m = _ISO_RE.fullmatch(s)
    if m is None:
        return None
    try:
        day = date.fromisoformat(m["date"])
        frac = (m["frac"] or "")[:6].ljust(6, "0")
        dt = datetime(day.year, day.month, day.day, int(m["h"] or 0), int(m["m"] or 0),
                      int(m["s"] or 0), int(frac), tzinfo=UTC)
        tz = m["tz"]
        if tz and tz not in ("Z", "z"):
            sign = -1 if tz[0] == "-" else 1
            digits = tz[1:].replace(":", "")
            hours, minutes = int(digits[:2]), int(digits[2:])
            if hours > 23 or minutes > 59:
                return None
            dt -= sign * timedelta(hours=hours, minutes=minutes)
        return dt
    except (ValueError, OverflowError):
        return None


def parse_date(v: Any) -> date | None:
    """The first 10 characters as a valid ``YYYY-MM-DD``, else ``None``."""
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, datetime):
        return v.date()
    if isinstance(v, date):
        return v
    head = str(v)[:10]
    if not _DATE_RE.fullmatch(head):
        return None
    try:
        return date.fromisoformat(head)
    except ValueError:
        return None


def env_int(name: str, default: int, lo: int, hi: int, environ: Mapping[str, str] | None = None) -> int:
    """Base-10 integer from the environment; missing or invalid → ``default``; else clamped to [lo, hi]."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    s = raw.strip()
    if not _INT_RE.fullmatch(s):
        return default
    return max(lo, min(hi, int(s, 10)))


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    raw = (os.environ if environ is None else environ).get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in _TRUE_WORDS:
        return True
    if word in _FALSE_WORDS:
        return False
    return default


def clean_text(s: str) -> str:
    """Drop U+0000 and replace lone surrogates with U+FFFD (a split surrogate pair is re-joined)."""
    if "\x00" in s:
        s = s.replace("\x00", "")
    if _SURROGATE_RE.search(s):
        s = s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return s


def clean_json(o: Any) -> Any:
    """``clean_text`` on every key and string value, recursively; non-finite floats become ``None``."""
    if isinstance(o, str):
        return clean_text(o)
    if isinstance(o, float):
        return o if math.isfinite(o) else None
    if isinstance(o, Mapping):
        return {clean_text(k) if isinstance(k, str) else k: clean_json(v) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [clean_json(v) for v in o]
    return o


@overload
def iso_z(dt: datetime) -> str: ...
@overload
def iso_z(dt: None) -> None: ...
def iso_z(dt: datetime | None) -> str | None:
    """ISO-8601 UTC with milliseconds and ``Z`` (``2026-02-10T09:12:00.000Z``); naive means UTC."""
    if dt is None:
        return None
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")
