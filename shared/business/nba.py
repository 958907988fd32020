"""Next-best-action and signal selections shared by digests (§A3) and the control tower (§A6).

The ``signals`` and ``next_best_actions`` tables are owned by kag.md §10; business features only
read them. An **open** NBA has status ``proposed`` or ``accepted``; "top NBA" orders open NBAs by
priority desc, then ``updated_at`` desc.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from shared.business.dates import as_utc

__all__ = ["ACTIVE_SIGNAL_STATUSES", "OPEN_NBA_STATUSES", "is_open_nba", "nba_summary_item", "top_open_nbas"]

OPEN_NBA_STATUSES = frozenset({"proposed", "accepted"})
ACTIVE_SIGNAL_STATUSES = frozenset({"proposed", "accepted"})

_EPOCH = datetime(1970, 1, 1)


def is_open_nba(status: str | None) -> bool:
    """``proposed`` / ``accepted`` are open; ``done``, ``dismissed``, ``cancelled`` are terminal."""
    return status in OPEN_NBA_STATUSES


def top_open_nbas(nbas: Iterable[Mapping[str, Any]], *, limit: int) -> list[Mapping[str, Any]]:
    """Open NBAs ordered by ``priority`` desc, then ``updated_at`` desc (nulls last), first ``limit``."""
    open_items = [n for n in nbas if is_open_nba(n.get("status"))]

    def updated(n: Mapping[str, Any]) -> datetime:
        value = n.get("updated_at")
        return as_utc(value) if isinstance(value, datetime) else as_utc(_EPOCH)

    open_items.sort(key=lambda n: (n.get("updated_at") is not None, updated(n)), reverse=True)
    open_items.sort(key=lambda n: int(n.get("priority") or 0), reverse=True)  # stable
    return open_items[:limit]


def nba_summary_item(nba: Mapping[str, Any]) -> dict[str, Any]:
    """The digest shape of an NBA: ``{id, action_type, priority, status, summary}``."""
    return {"id": str(nba.get("id")), "action_type": nba.get("action_type"),
            "priority": int(nba.get("priority") or 0), "status": nba.get("status"), "summary": nba.get("summary")}
