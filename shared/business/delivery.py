"""Delivery predicates over Linear issues (``linear_issues_raw``), shared by several features.

"Open" = ``completed_at IS NULL``; "overdue" = open, with a due date strictly before today (UTC).
Used by the daily digest (§A3.1), health scoring (§A4.1), analytics (§A5.1), the control tower
(§A6) and the portfolio (§A7).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

__all__ = ["count_overdue_issues", "is_open_issue", "is_overdue_issue"]


def is_open_issue(completed_at: object) -> bool:
    """An issue is open while it has no ``completed_at``."""
    return completed_at is None


def is_overdue_issue(*, completed_at: object, due_date: date | None, today: date) -> bool:
    """Open, has a due date, and ``due_date < today`` (an issue due today is not overdue yet)."""
    return completed_at is None and due_date is not None and due_date < today


def count_overdue_issues(issues: Iterable[Mapping[str, Any]], *, today: date) -> int:
    """Number of overdue issues among rows with ``completed_at`` and ``due_date``."""
    return sum(1 for i in issues if is_overdue_issue(completed_at=i.get("completed_at"),
                                                     due_date=i.get("due_date"), today=today))
