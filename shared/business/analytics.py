"""Analytics request rules (business.md §A5) needed by the web layer.

``POST /analytics/refresh`` clamps ``period_days`` before enqueuing (the clamped value goes into
``meta.params``); ``GET /analytics/drilldown`` normalises ``source``. The refresh computation is in
``jobs/business/analytics.py``.
"""

from __future__ import annotations

from shared.business.params import parse_lenient_int

__all__ = ["DEFAULT_PERIOD_DAYS", "parse_drilldown_source", "parse_period_days"]

DEFAULT_PERIOD_DAYS = 30


def parse_period_days(value: object) -> int:
    """``period_days``: default 30, clamped into [1, 120] (``0`` → 1, ``500`` → 120, ``"abc"`` → 30)."""
    return parse_lenient_int(value, default=DEFAULT_PERIOD_DAYS, lo=1, hi=120)


def parse_drilldown_source(value: object) -> str | None:
    """``source``: trimmed, lower-cased; empty → None (all). Matches ``source_type`` or ``source_table``."""
    if not isinstance(value, str):
        return None
    return value.strip().lower() or None
