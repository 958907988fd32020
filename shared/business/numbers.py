"""Arithmetic of business.md §0.6: ``Decimal`` everywhere, round-half-up, never ``round()``.

Business values are computed as ``Decimal`` and only converted to JSON numbers at the edge
(:func:`json_number`). Floats coming from the database or JSON are converted through ``str`` so
``0.9`` stays ``Decimal("0.9")`` and sums such as 60 × 5 × 0.9 are exactly 270.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

__all__ = [
    "MONEY_PLACES",
    "RATIO_PLACES",
    "clamp",
    "json_number",
    "money",
    "ratio",
    "round_half_up",
    "round_int",
    "to_decimal",
]

MONEY_PLACES = 2
RATIO_PLACES = 4  # probability, confidence, score, weight

Number = Decimal | int | float | str


def to_decimal(value: object, default: Decimal | None = None) -> Decimal | None:
    """``value`` as a finite ``Decimal``; ``default`` for None, bools, text that is no number, NaN, ±Inf."""
    if value is None or isinstance(value, bool):
        return default
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return default
        result = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return default
        try:
            result = Decimal(text)
        except InvalidOperation:
            return default
    else:
        return default
    return result if result.is_finite() else default


def _dec(value: Number) -> Decimal:
    result = to_decimal(value)
    if result is None:
        raise ValueError(f"not a finite number: {value!r}")
    return result


def round_half_up(value: Number, places: int = 0) -> Decimal:
    """Round half away from zero to ``places`` decimals (``decimal.ROUND_HALF_UP``)."""
    return _dec(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def round_int(value: Number) -> int:
    """Round half-up to an integer."""
    return int(round_half_up(value, 0))


def money(value: Number) -> Decimal:
    """Money: 2 decimals, half-up."""
    return round_half_up(value, MONEY_PLACES)


def ratio(value: Number) -> Decimal:
    """Probability / confidence / score / weight: 4 decimals, half-up."""
    return round_half_up(value, RATIO_PLACES)


def clamp(value: Decimal, lo: Decimal | int, hi: Decimal | int) -> Decimal:
    """``value`` limited to ``[lo, hi]`` (Decimal in, Decimal out)."""
    lo_d, hi_d = Decimal(lo), Decimal(hi)
    if value < lo_d:
        return lo_d
    if value > hi_d:
        return hi_d
    return value


def json_number(value: Decimal | int | float | None) -> int | float | None:
    """A NUMERIC value as a JSON number (§0.6: never a string). Integral ints stay ints."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("bool is not a number")
    if isinstance(value, int):
        return value
    return float(value)
