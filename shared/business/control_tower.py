"""Control tower helpers (business.md §A6, ``GET /control-tower``, synchronous and read-only).

The route assembles counts from SQL; these helpers fix the pieces with rules: which watermarks are
shown, and the zero-filled integration block (values are 0, never null, when there is no data).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.business.dates import as_utc
from shared.business.numbers import json_number, money, to_decimal

__all__ = ["WATERMARK_PREFIXES", "connector_watermarks", "integrations_block"]

WATERMARK_PREFIXES: tuple[str, ...] = ("chatwoot:", "attio:", "linear:")
_OLDEST = as_utc(datetime(1970, 1, 1))


def connector_watermarks(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Watermarks whose ``source`` starts with ``chatwoot:``/``attio:``/``linear:``, ``updated_at`` desc."""
    chosen = [r for r in rows if isinstance(r.get("source"), str) and r["source"].startswith(WATERMARK_PREFIXES)]
    chosen.sort(key=lambda r: as_utc(r["updated_at"]) if r.get("updated_at") else _OLDEST, reverse=True)
    return [{"source": r["source"], "cursor_ts": r.get("cursor_ts"), "cursor_id": r.get("cursor_id"),
             "updated_at": r.get("updated_at")} for r in chosen]


def _money(value: object) -> float | int | None:
    return json_number(money(to_decimal(value) or 0))


def integrations_block(*, watermarks: Iterable[Mapping[str, Any]] = (), issues_total: int | None = 0,
                       issues_open: int | None = 0, issues_overdue: int | None = 0, attio_accounts: int | None = 0,
                       annual_revenue: object = 0, attio_pipeline_amount: object = 0,
                       conversations: int | None = 0, messages_7d: int | None = 0) -> dict[str, Any]:
    """The ``integrations`` member with every missing count or sum as 0. ``attio_pipeline_amount`` is
    the gross Σ over **all** Attio deals (every stage), unlike the analytics pipeline."""
    return {
        "sync_watermarks": connector_watermarks(watermarks),
        "linear": {"issues_total": issues_total or 0, "issues_open": issues_open or 0,
                   "issues_overdue": issues_overdue or 0},
        "attio": {"accounts": attio_accounts or 0, "annual_revenue": _money(annual_revenue),
                  "pipeline_amount": _money(attio_pipeline_amount)},
        "chatwoot": {"conversations": conversations or 0, "messages_7d": messages_7d or 0},
    }
