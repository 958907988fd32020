"""Campaign scheduler selection and tally (business.md §B4 ``POST /outbound/process``), the pure part
of the ``campaign_scheduler`` job (the route's ``limit`` is parsed by
``shared.business.outbound.parse_process_limit``). Each selected message is then sent with
``shared.business.outbound.run_send`` in its own transaction; one failure never aborts the batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.business.dates import as_utc
from shared.business.outbound import SENDABLE_STATUSES

__all__ = ["CampaignTally", "is_due", "select_due_messages"]


def is_due(message: Mapping[str, Any], *, now: datetime) -> bool:
    """``approved``/``failed``, ``coalesce(next_attempt_at, now) ≤ now`` and ``retry_count < max_retries``
    (so ``max_retries = 0`` is never picked by the scheduler)."""
    next_at = message.get("next_attempt_at")
    return (message.get("status") in SENDABLE_STATUSES
            and (next_at is None or as_utc(next_at) <= as_utc(now))
            and int(message.get("retry_count") or 0) < int(message.get("max_retries") or 0))


def select_due_messages(messages: Iterable[Mapping[str, Any]], *, now: datetime,
                        limit: int) -> list[Mapping[str, Any]]:
    """Due messages ordered by ``created_at`` asc, at most ``limit``."""
    due = [m for m in messages if is_due(m, now=now)]
    due.sort(key=lambda m: as_utc(m["created_at"]))
    return due[:limit]


@dataclass
class CampaignTally:
    """``sent`` on success, ``failed`` on any error (policy blocks included)."""

    sent: int = 0
    failed: int = 0

    def record(self, ok: bool) -> None:
        if ok:
            self.sent += 1
        else:
            self.failed += 1

    def job_result(self) -> dict[str, int]:
        return {"processed": self.sent + self.failed, "sent": self.sent, "failed": self.failed}
