"""Daily and weekly digest content (business.md §A3), the pure part of ``daily_digest`` and
``weekly_digest``. Tables written by the handlers: ``daily_digests`` (upsert on
``(project_id, digest_date)``) and ``weekly_digests`` (upsert on ``(project_id, week_start)``);
regenerating replaces ``summary`` and ``evidence_refs`` and resets ``created_at``.

The handler passes counts it gets cheaply from SQL (``proposed_signals``, ``overdue_issues``,
outbound counts by status, open-pipeline count) and the rows it needs in full (open NBAs, the
stored analytics and risk overviews). Evidence refs are copied as found (either form) and are not
de-duplicated here; the audit helper normalises the audit copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.business.crm import is_open_deal_stage
from shared.business.dates import iso_utc
from shared.business.evidence import concat_refs
from shared.business.nba import nba_summary_item, top_open_nbas

__all__ = [
    "DAILY_NBA_LIMIT",
    "WEEKLY_NBA_LIMIT",
    "Digest",
    "build_daily_digest",
    "build_weekly_digest",
    "count_open_pipeline",
]

DAILY_NBA_LIMIT = 8
DAILY_REF_LIMIT = 50
WEEKLY_NBA_LIMIT = 12
WEEKLY_REF_LIMIT = 80
WEEKLY_TOP_RISKS = 5
WEEKLY_PATTERNS = 5
RADAR_ITEMS_MAX = 30


@dataclass(frozen=True)
class Digest:
    summary: dict[str, Any]
    evidence_refs: list[Any]

    def job_result(self, key: str, value: date) -> dict[str, Any]:
        """``{digest_date|week_start, summary, evidence_refs}``."""
        return {key: value.isoformat(), "summary": self.summary, "evidence_refs": self.evidence_refs}


def count_open_pipeline(stages: Iterable[str | None]) -> int:
    """``portfolio.open_pipeline``: how many Attio raw opportunities have an open (normalised) stage."""
    return sum(1 for stage in stages if is_open_deal_stage(stage))


def build_daily_digest(*, project_id: object, account_scope_id: object, generated_at: datetime,
                       proposed_signals: int, overdue_issues: int, outbound_counts: Mapping[str, int],
                       nbas: Iterable[Mapping[str, Any]]) -> Digest:
    """§A3.1 summary: highlights, up to 8 open NBAs (priority desc, updated_at desc) and their refs
    concatenated in order (first 50)."""
    top = top_open_nbas(nbas, limit=DAILY_NBA_LIMIT)
    summary = {
        "project_id": str(project_id),
        "account_scope_id": str(account_scope_id),
        "generated_at": iso_utc(generated_at),
        "highlights": {
            "proposed_signals": int(proposed_signals),
            "overdue_issues": int(overdue_issues),
            "outbound_draft": int(outbound_counts.get("draft", 0)),
            "outbound_approved": int(outbound_counts.get("approved", 0)),
            "outbound_failed": int(outbound_counts.get("failed", 0)),
        },
        "top_nba": [nba_summary_item(n) for n in top],
    }
    return Digest(summary, concat_refs((n.get("evidence_refs") for n in top), limit=DAILY_REF_LIMIT))


def build_weekly_digest(*, project_id: object, account_scope_id: object, generated_at: datetime,
                        open_pipeline: int, analytics_overview: Mapping[str, Any],
                        risk_overview: Mapping[str, Any], nbas: Iterable[Mapping[str, Any]]) -> Digest:
    """§A3.2 summary from the **stored** overviews (``GET /analytics/overview`` and ``GET
    /risk/overview`` payloads; nothing is recomputed). Refs: the NBAs' refs, then the refs of all
    (≤ 30) radar items of the risk overview; first 80."""
    top = top_open_nbas(nbas, limit=WEEKLY_NBA_LIMIT)
    risks: Sequence[Mapping[str, Any]] = list(risk_overview.get("risks") or [])[:RADAR_ITEMS_MAX]
    patterns: Sequence[Mapping[str, Any]] = list(risk_overview.get("patterns") or [])
    summary = {
        "project_id": str(project_id),
        "account_scope_id": str(account_scope_id),
        "generated_at": iso_utc(generated_at),
        "portfolio": {
            "open_pipeline": int(open_pipeline),
            "revenue": list(analytics_overview.get("revenue") or []),
            "delivery": analytics_overview.get("delivery"),
            "comms": analytics_overview.get("comms"),
        },
        "risk": {
            "health": risk_overview.get("health"),
            "top_risks": list(risks[:WEEKLY_TOP_RISKS]),
            "patterns": list(patterns[:WEEKLY_PATTERNS]),
        },
        "growth": {"top_nba": [nba_summary_item(n) for n in top]},
    }
    ref_lists = [n.get("evidence_refs") for n in top] + [r.get("evidence_refs") for r in risks]
    return Digest(summary, concat_refs(ref_lists, limit=WEEKLY_REF_LIMIT))
