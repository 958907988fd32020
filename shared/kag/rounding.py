"""Number helpers of kag.md §1: `rnd`, `fmt`, `clamp` and tolerant number coercion.

Decisions where the spec is silent:
- `rnd` / `fmt` of a non-finite value give 0 (the value could not be stored in a `numeric`
  column or serialised as JSON anyway).
- `to_number` accepts `int`, `float` and `Decimal` (Postgres `numeric` columns arrive as
  `Decimal`), never `bool`; numeric strings are accepted only where `allow_str=True`.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

__all__ = ["clamp", "fmt", "rnd", "to_number", "to_int"]


def _quantize(x: float, d: int) -> Decimal:
    try:
        value = float(x)
    except (TypeError, ValueError):
        value = 0.0
    if not math.isfinite(value):
        value = 0.0
    exponent = Decimal(1).scaleb(-d)
    return Decimal(value).quantize(exponent, rounding=ROUND_HALF_UP)


def rnd(x: float, d: int) -> float:
    """Round half away from zero on the exact float value (kag.md §1 `rnd`)."""
    result = float(_quantize(x, d))
    return 0.0 if result == 0 else result  # no negative zero in stored values


def fmt(x: float, d: int) -> str:
    """`rnd(x, d)` rendered with exactly `d` decimals (kag.md §1 `fmt`)."""
    q = _quantize(x, d)
    if q == 0:
        q = abs(q)
    return f"{q:.{d}f}"


def clamp(x: Any, lo: float = 0.0, hi: float = 100.0) -> float:
    """Clamp into [lo, hi]; a non-finite or non-numeric x becomes `lo`."""
    try:
        value = float(x)
    except (TypeError, ValueError):
        return float(lo)
    if not math.isfinite(value):
        return float(lo)
    return float(min(max(value, lo), hi))


def to_number(value: Any, *, allow_str: bool = False) -> float | None:
    """A finite float from int/float/Decimal (not bool); None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | Decimal):
        try:
            number = float(value)
        except (OverflowError, ValueError, InvalidOperation):
            return None
        return number if math.isfinite(number) else None
    if allow_str and isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def to_int(value: Any, default: int = 0) -> int:
    """Integer view of a number (truncated toward zero); `default` for non-numbers."""
    number = to_number(value, allow_str=True)
    return default if number is None else int(number)
