from __future__ import annotations

from typing import Any

from web.validation import Body, Limit, Loose, Query


class RefreshBody(Body):
    period_days: Any = Loose({"type": "integer", "minimum": 1, "maximum": 120}, "default 30; clamped to [1, 120]")


class DrilldownQuery(Query):
    source: str | None = None
    limit: Limit(50, 200)
