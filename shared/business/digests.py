"""Digest keys fixed at acceptance (business.md §A3): the web route computes them, the job uses them.

``POST /digests/daily/generate`` stores ``digest_date`` = the UTC date of acceptance and
``POST /digests/weekly/generate`` stores ``week_start`` = the Monday (UTC) of that date in the run's
``meta.params``, so a job that starts after midnight still writes the requested row. The content
itself is computed by ``jobs/business/digests.py``.
"""

from __future__ import annotations

from datetime import datetime

from shared.business.dates import utc_date, week_start

__all__ = ["daily_digest_params", "weekly_digest_params"]


def daily_digest_params(now: datetime) -> dict[str, str]:
    """``{"digest_date": "YYYY-MM-DD"}`` for a request accepted at ``now``."""
    return {"digest_date": utc_date(now).isoformat()}


def weekly_digest_params(now: datetime) -> dict[str, str]:
    """``{"week_start": "YYYY-MM-DD"}`` (ISO Monday, UTC) for a request accepted at ``now``."""
    return {"week_start": week_start(now).isoformat()}
