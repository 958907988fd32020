"""Analytics aggregates (business.md §A5.1), the pure part of the ``analytics_aggregates`` job.

Inputs (project rows): ``cw_messages`` (``created_at``, ``contact_global_id``), ``linear_issues_raw``
(``completed_at``, ``due_date``) and ``attio_opportunities_raw`` (``stage``, ``amount``,
``probability``). Outputs: the job result and the rows for ``analytics_delivery_snapshots``,
``analytics_comms_snapshots`` and the three ``analytics_revenue_snapshots`` horizons.

Open opportunities use the **normalised** stage (connectors-rag §4.6): ``closed-won`` and
``Won 🎉`` are won, ``Lost`` is lost, NULL is open. Money sums are rounded half-up to 2 dp once,
at the end. Worked example G5: pipeline 12000.00, expected 5200.00, 3 open / 1 overdue issues,
5 inbound messages from 3 distinct contacts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from shared.business.crm import is_open_deal_stage
from shared.business.dates import as_utc, month_start, period_window
from shared.business.delivery import is_overdue_issue
from shared.business.numbers import json_number, money, to_decimal

__all__ = ["REVENUE_HORIZONS", "AnalyticsResult", "compute_analytics"]

REVENUE_HORIZONS: tuple[int, ...] = (30, 60, 90)
_ZERO = Decimal(0)


@dataclass(frozen=True)
class AnalyticsResult:
    period_start: date
    period_end: date
    inbound_messages: int
    unique_contacts: int
    open_issues: int
    overdue_issues: int
    completed_issues: int
    pipeline_amount: Decimal
    expected_revenue: Decimal

    def job_result(self) -> dict[str, Any]:
        """The job result, also the ``analytics.refresh`` audit payload."""
        return {"period_start": self.period_start.isoformat(), "period_end": self.period_end.isoformat(),
                "pipeline_amount": json_number(self.pipeline_amount),
                "expected_revenue": json_number(self.expected_revenue), "open_issues": self.open_issues,
                "overdue_issues": self.overdue_issues, "inbound_messages": self.inbound_messages}

    def delivery_snapshot(self) -> dict[str, Any]:
        """Upserted on ``(project_id, period_start, period_end)`` (the writer sets ``created_at``)."""
        return {"period_start": self.period_start, "period_end": self.period_end,
                "open_issues": self.open_issues, "overdue_issues": self.overdue_issues,
                "completed_issues": self.completed_issues, "throughput": self.completed_issues,
                "lead_time_days": Decimal("0.00")}  # v1 placeholder

    def comms_snapshot(self) -> dict[str, Any]:
        """Upserted on ``(project_id, period_start, period_end)``."""
        return {"period_start": self.period_start, "period_end": self.period_end,
                "inbound_messages": self.inbound_messages, "unique_contacts": self.unique_contacts,
                "outbound_messages": 0, "avg_response_minutes": Decimal("0.00")}  # v1 placeholders

    def revenue_snapshots(self) -> list[dict[str, Any]]:
        """Three rows upserted on ``(project_id, period_start = month start, horizon_days)``; in v1
        every horizon carries the same values."""
        costs = money(0)
        return [{"period_start": month_start(self.period_end), "horizon_days": horizon,
                 "pipeline_amount": self.pipeline_amount, "commit_amount": self.expected_revenue,
                 "won_amount": money(0), "expected_revenue": self.expected_revenue, "costs_amount": costs,
                 "gross_margin": money(self.expected_revenue - costs), "attribution": {}}
                for horizon in REVENUE_HORIZONS]


def compute_analytics(*, today: date, period_days: int, messages: Iterable[Mapping[str, Any]],
                      issues: Iterable[Mapping[str, Any]],
                      opportunities: Iterable[Mapping[str, Any]]) -> AnalyticsResult:
    """The §A5.1 metrics. ``period_days`` must already be clamped (``parse_period_days``)."""
    period_start, period_end = period_window(period_days, today)
    window_start = datetime.combine(period_start, time.min, tzinfo=UTC)
    inbound = 0
    contacts: set[str] = set()
    for message in messages:
        created = message.get("created_at")
        if created is None or as_utc(created) < window_start:
            continue
        inbound += 1
        if message.get("contact_global_id") is not None:
            contacts.add(message["contact_global_id"])
    open_issues = overdue = completed = 0
    for issue in issues:
        if issue.get("completed_at") is None:
            open_issues += 1
            if is_overdue_issue(completed_at=None, due_date=issue.get("due_date"), today=today):
                overdue += 1
        else:
            completed += 1
    pipeline = expected = _ZERO
    for opp in opportunities:
        if not is_open_deal_stage(opp.get("stage")):
            continue
        amount = to_decimal(opp.get("amount")) or _ZERO
        pipeline += amount
        expected += amount * (to_decimal(opp.get("probability")) or _ZERO)
    return AnalyticsResult(period_start=period_start, period_end=period_end, inbound_messages=inbound,
                           unique_contacts=len(contacts), open_issues=open_issues, overdue_issues=overdue,
                           completed_issues=completed, pipeline_amount=money(pipeline),
                           expected_revenue=money(expected))
