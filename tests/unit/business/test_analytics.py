"""Analytics: worked example G5 (business.md §A5)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from jobs.business.analytics import compute_analytics
from shared.business.analytics import parse_drilldown_source, parse_period_days

TODAY = date(2026, 2, 17)

OPPORTUNITIES = [
    {"stage": "Proposal", "amount": 10_000, "probability": 0.5},
    {"stage": "closed-won", "amount": 5_000, "probability": 1.0},
    {"stage": None, "amount": 2_000, "probability": 0.1},
    {"stage": "Lost", "amount": 7_000, "probability": 0.3},
]
ISSUES = [
    {"completed_at": datetime(2026, 2, 1, tzinfo=UTC), "due_date": None},
    {"completed_at": datetime(2026, 2, 3, tzinfo=UTC), "due_date": date(2026, 1, 1)},
    {"completed_at": None, "due_date": date(2026, 2, 16)},
    {"completed_at": None, "due_date": date(2026, 2, 18)},
    {"completed_at": None, "due_date": None},
]
MESSAGES = [
    {"created_at": datetime(2026, 1, 18, 0, 0, tzinfo=UTC), "contact_global_id": "cwc:A"},  # boundary: counted
    {"created_at": datetime(2026, 2, 1, tzinfo=UTC), "contact_global_id": "cwc:A"},
    {"created_at": datetime(2026, 2, 10, tzinfo=UTC), "contact_global_id": "cwc:B"},
    {"created_at": datetime(2026, 2, 16, tzinfo=UTC), "contact_global_id": "cwc:C"},
    {"created_at": datetime(2026, 2, 17, 9, tzinfo=UTC), "contact_global_id": None},
    {"created_at": datetime(2026, 1, 17, 23, 59, tzinfo=UTC), "contact_global_id": "cwc:D"},  # older
    {"created_at": datetime(2025, 12, 1, tzinfo=UTC), "contact_global_id": "cwc:E"},  # older
]


def test_g5_analytics_refresh_numbers() -> None:
    result = compute_analytics(today=TODAY, period_days=parse_period_days(30), messages=MESSAGES, issues=ISSUES,
                               opportunities=OPPORTUNITIES)
    assert result.job_result() == {"period_start": "2026-01-18", "period_end": "2026-02-17",
                                   "pipeline_amount": 12000.00, "expected_revenue": 5200.00, "open_issues": 3,
                                   "overdue_issues": 1, "inbound_messages": 5}
    assert result.pipeline_amount == Decimal("12000.00") and result.expected_revenue == Decimal("5200.00")
    assert result.comms_snapshot()["unique_contacts"] == 3
    delivery = result.delivery_snapshot()
    assert (delivery["completed_issues"], delivery["throughput"], delivery["lead_time_days"]) == (2, 2, 0)
    revenue = result.revenue_snapshots()
    assert [r["horizon_days"] for r in revenue] == [30, 60, 90]
    for row in revenue:
        assert row["period_start"] == date(2026, 2, 1)
        assert row["pipeline_amount"] == 12000
        assert row["commit_amount"] == row["expected_revenue"] == row["gross_margin"] == 5200
        assert row["won_amount"] == row["costs_amount"] == 0
        assert row["attribution"] == {}


def test_g5_refresh_again_uses_the_same_upsert_keys() -> None:
    kwargs = {"today": TODAY, "period_days": 30, "messages": MESSAGES, "issues": ISSUES,
              "opportunities": OPPORTUNITIES}
    first, second = compute_analytics(**kwargs), compute_analytics(**kwargs)

    def keys(r):
        return ({(r.delivery_snapshot()["period_start"], r.delivery_snapshot()["period_end"])},
                {(x["period_start"], x["horizon_days"]) for x in r.revenue_snapshots()})

    assert keys(first) == keys(second)
    assert len(keys(first)[1]) == 3


def test_won_emoji_stage_is_not_open_pipeline() -> None:
    result = compute_analytics(today=TODAY, period_days=30, messages=[], issues=[],
                               opportunities=[{"stage": "Won 🎉", "amount": 99, "probability": 1},
                                              {"stage": "In Progress", "amount": "10.005", "probability": "0.5"}])
    assert result.pipeline_amount == Decimal("10.01")  # 10.005 half-up
    assert result.expected_revenue == Decimal("5.00")  # 5.0025 half-up


@pytest.mark.parametrize(("raw", "days"), [(0, 1), (500, 120), ("abc", 30), (None, 30), ("45x", 45), (7.9, 7)])
def test_period_days_is_clamped(raw: object, days: int) -> None:
    assert parse_period_days(raw) == days


def test_drilldown_source() -> None:
    assert parse_drilldown_source(" CW_Messages ") == "cw_messages"
    assert parse_drilldown_source("  ") is None and parse_drilldown_source(None) is None
