"""Parameter parsing of business.md §0.4 for request bodies and query strings (pure, no Flask).

Decisions where §0.4 is silent:

* **Strings** accept only JSON strings; any other type counts as absent (so a required field gets
  its "required" error, an optional one its default). NUL characters are removed, because
  PostgreSQL ``text`` rejects them and a bad byte must never become a 500.
* **Lenient integers** accept JSON integers, finite floats (truncated toward zero, like ``"7.9"``)
  and strings with a leading sign and digits. Booleans are not numbers.
* **Booleans** (opt-out flags) accept JSON booleans, the integers 0/1 and the strings
  ``1/true/yes/on`` and ``0/false/no/off`` (trimmed, case-insensitive); anything else is a 400 with
  the route's code, because silently ignoring a mistyped ``opted_out`` could send to someone who
  asked to stop.
* **Id lists** canonicalise UUIDs (lower-case, hyphenated) *before* de-duplication, so the same
  id written twice in different case counts once.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection
from datetime import date
from decimal import Decimal

from shared.business.errors import InvalidInput
from shared.business.numbers import clamp, round_half_up, to_decimal

__all__ = [
    "parse_bool",
    "parse_bounded_number",
    "parse_enum",
    "parse_id_list",
    "parse_iso_date",
    "parse_lenient_int",
    "parse_optional_lenient_int",
    "parse_text",
    "parse_uuid",
]

_LEADING_INT = re.compile(r"[+-]?\d+")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def _leading_int(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, str):
        match = _LEADING_INT.match(value.strip())
        return int(match.group()) if match else None
    return None


def parse_lenient_int(value: object, *, default: int, lo: int, hi: int) -> int:
    """§0.4 "other integers": leading sign+digits (``"12abc"`` → 12, ``"7.9"`` → 7), else ``default``;
    then clamped into ``[lo, hi]``. Never raises."""
    parsed = _leading_int(value)
    result = default if parsed is None else parsed
    return max(lo, min(hi, result))


def parse_optional_lenient_int(value: object, *, lo: int, hi: int) -> int | None:
    """Like :func:`parse_lenient_int` but "absent = unchanged": ``None`` when nothing parses."""
    parsed = _leading_int(value)
    return None if parsed is None else max(lo, min(hi, parsed))


def parse_bounded_number(value: object, *, default: Decimal | int | str, lo: Decimal | int,
                         hi: Decimal | int, places: int) -> Decimal:
    """§0.4 bounded number: missing/null/""/non-numeric/NaN/±Inf → ``default``; else clamped into
    ``[lo, hi]`` and rounded half-up to ``places`` decimals."""
    parsed = to_decimal(value)
    result = Decimal(default) if parsed is None else clamp(parsed, lo, hi)
    return round_half_up(result, places)


def parse_text(value: object, *, max_len: int | None = None) -> str | None:
    """§0.4 string: trimmed; empty → None; silently truncated to ``max_len``."""
    if not isinstance(value, str):
        return None
    text = value.replace("\x00", "").strip()
    if not text:
        return None
    return text[:max_len] if max_len is not None else text


def parse_enum(value: object, allowed: Collection[str], *, error_code: str,
               default: str | None = None) -> str | None:
    """§0.4 enum: trimmed and lower-cased. Absent/empty → ``default``; outside ``allowed`` → 400."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return default
    if not isinstance(value, str):
        raise InvalidInput(error_code, f"must be one of: {', '.join(allowed)}")
    normalised = value.strip().lower()
    if normalised not in allowed:
        raise InvalidInput(error_code, f"must be one of: {', '.join(allowed)}")
    return normalised


def parse_iso_date(value: object, *, error_code: str) -> date | None:
    """§0.4 date: ``YYYY-MM-DD`` (a real calendar day). None/"" → None; anything else → 400."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        text = value.strip()
        if _ISO_DATE.fullmatch(text):
            try:
                return date.fromisoformat(text)
            except ValueError:
                pass
    raise InvalidInput(error_code, "must be a date in YYYY-MM-DD form")


def parse_uuid(value: object) -> str | None:
    """The canonical lower-case UUID string, or None when ``value`` is not a UUID."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        return None


def parse_bool(value: object, *, error_code: str) -> bool | None:
    """Optional boolean: None when absent; see the module docstring for accepted spellings."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise InvalidInput(error_code, "must be a boolean")


def _raw_items(value: object, *, allow_csv: bool) -> list[object] | None:
    if value is None:
        return []
    if isinstance(value, str):
        return list(value.split(",")) if allow_csv else None
    if isinstance(value, list | tuple):
        items: list[object] = []
        for item in value:
            if allow_csv and isinstance(item, str):
                items.extend(item.split(","))
            else:
                items.append(item)
        return items
    return None


def parse_id_list(value: object, *, max_items: int, allow_csv: bool = False, uuids: bool = False,
                  error_code: str | None = None) -> list[str]:
    """§0.4 id list: trim, drop empty, de-duplicate keeping the first, keep the first ``max_items``.

    ``allow_csv`` also accepts a comma-separated string (and comma-separated items, for repeated
    query keys). With ``error_code`` the list is **strict**: a wrong container type, a non-string
    item or (with ``uuids``) a non-UUID item raises ``InvalidInput(error_code)``. Without it, bad
    values are silently dropped (portfolio ``project_ids``).
    """
    items = _raw_items(value, allow_csv=allow_csv)
    if items is None:
        if error_code:
            raise InvalidInput(error_code, "must be an array of ids")
        return []
    result: list[str] = []
    seen: set[str] = set()
    for item in items:
        if not isinstance(item, str):
            if error_code:
                raise InvalidInput(error_code, "every id must be a string")
            continue
        text = item.strip()
        if not text:
            continue
        if uuids:
            canonical = parse_uuid(text)
            if canonical is None:
                if error_code:
                    raise InvalidInput(error_code, "every id must be a UUID")
                continue
            text = canonical
        if text not in seen:
            seen.add(text)
            result.append(text)
    return result[:max_items]

