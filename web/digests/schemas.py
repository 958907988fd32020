from __future__ import annotations

from typing import Any

from shared.db.models.business import DailyDigest, WeeklyDigest
from web.validation import Limit, Query


class DailyQuery(Query):
    limit: Limit(20, 100)


class WeeklyQuery(Query):
    limit: Limit(12, 52)


def daily_json(d: DailyDigest) -> dict[str, Any]:
    return {"id": d.id, "digest_date": d.digest_date, "summary": d.summary or {},
            "evidence_refs": d.evidence_refs or [], "created_at": d.created_at}


def weekly_json(d: WeeklyDigest) -> dict[str, Any]:
    return {"id": d.id, "week_start": d.week_start, "summary": d.summary or {},
            "evidence_refs": d.evidence_refs or [], "created_at": d.created_at}
