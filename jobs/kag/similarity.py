"""Case signatures (kag.md §12.1); the ranking of §12.2 is `shared.kag.similarity` (re-exported).

Wiring:
- `case_signatures_refresh`: per window read the project's `project_snapshots` (last `window`
  days), domain `kag_event_log` rows (last `window` days), the project name and its Attio deals;
  `build_case_signature(...)` returns a `CaseSignature` to upsert into `case_signatures` on
  `(project_id, window_days)`, or None (no snapshots → result `{skipped: "no_snapshots"}` and a
  `similarity_no_snapshots` warning from `no_snapshots_warning`).
- forecast / v2 / GET similar-cases: read the source signature and the newest 300 signatures of
  other projects of the scope (same window), rank them with `rank_similar_cases(source,
  candidates, now, top_k)` and attach the 8 most recent outcomes of the returned cases
  (`attach_outcomes`). The ranking lives in `shared.kag.similarity` because the read-only API
  ranks too (web never imports `jobs`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from jobs.kag.events_log import KagWarning, is_process_event
from jobs.kag.keys import canonical_json, sha1hex
from jobs.kag.rounding import clamp, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.stages import stage_bucket
from jobs.kag.timeutil import parse_date, parse_ts, utc_date
from jobs.kag.vocab import WINDOW_DAYS, WarningCode
from shared.kag.similarity import (  # noqa: F401 - re-exported: the ranking is shared with the API
    MAX_CANDIDATES,
    VECTOR_COMPONENTS,
    CaseCandidate,
    SimilarCase,
    attach_outcomes,
    context_score,
    jaccard,
    outcomes_seen,
    rank_similar_cases,
)

__all__ = [
    "MAX_CANDIDATES",
    "VECTOR_COMPONENTS",
    "CaseCandidate",
    "CaseSignature",
    "SimilarCase",
    "attach_outcomes",
    "budget_bucket",
    "build_case_signature",
    "context_score",
    "jaccard",
    "no_snapshots_warning",
    "outcomes_seen",
    "project_type",
    "rank_similar_cases",
]

MAX_EVENT_TYPES = 5000


def project_type(project_name: str | None) -> str:
    lowered = (project_name or "").lower()
    for kind in ("support", "growth", "migration", "integration"):
        if kind in lowered:
            return kind
    return "delivery"


def budget_bucket(pipeline_amount: float) -> str:
    if pipeline_amount >= 200000:
        return "xl"
    if pipeline_amount >= 100000:
        return "lg"
    if pipeline_amount >= 50000:
        return "md"
    if pipeline_amount >= 10000:
        return "sm"
    return "xs"


@dataclass(frozen=True)
class CaseSignature:
    """One `case_signatures` row."""

    window_days: int
    signature_vector: list[float]
    signature_hash: str
    features_json: dict[str, Any]
    context_json: dict[str, Any]
    computed_at: datetime
    project_id: Any = None

    def to_row(self) -> dict[str, Any]:
        return {
            "window_days": self.window_days,
            "signature_vector": list(self.signature_vector),
            "signature_hash": self.signature_hash,
            "features_json": self.features_json,
            "context_json": self.context_json,
            "computed_at": self.computed_at,
        }


def _nested(row: Any, column: str, *path: str) -> Any:
    value: Any = get(row, column, {})
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _num(value: Any, default: float = 0.0) -> float:
    number = to_number(value, allow_str=True)
    return default if number is None else number


def _avg(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _delta(values: Sequence[float]) -> float:
    return values[-1] - values[0] if len(values) >= 2 else 0.0


def build_case_signature(
    *,
    window_days: int,
    now: datetime,
    snapshots: Iterable[Any],
    event_log: Iterable[Any] = (),
    project_name: str | None = None,
    deals: Iterable[Any] = (),
    project_id: Any = None,
) -> CaseSignature | None:
    """Signature of one project for one window; None when no snapshot falls in the window."""
    if window_days not in WINDOW_DAYS:
        raise ValueError(f"window_days must be one of {WINDOW_DAYS}")
    first_day = utc_date(now) - timedelta(days=window_days - 1)
    dated: list[tuple[date, Any]] = []
    for row in snapshots:
        day = parse_date(get(row, "snapshot_date"))
        if day is not None and day >= first_day:
            dated.append((day, row))
    if not dated:
        return None
    dated.sort(key=lambda item: item[0])
    rows = [row for _, row in dated]

    def series(column: str, *path: str, default: float = 0.0) -> list[float]:
        return [_num(_nested(r, column, *path), default) for r in rows]

    waiting = series("signals_json", "waiting_on_client_days", "value")
    blockers = series("signals_json", "blockers_age", "value")
    stage = series("signals_json", "stage_overdue", "value")
    scope = series("signals_json", "scope_creep_rate", "value")
    burn = series("signals_json", "budget_burn_rate", "value")
    margin = series("signals_json", "margin_risk", "value")
    activity = series("signals_json", "activity_drop", "value")
    sentiment = series("signals_json", "sentiment_trend", "value")
    risk = series("scores_json", "risk", "score")
    health = series("scores_json", "project_health", "score", default=100.0)
    events_7d = series("key_aggregates_json", "events", "events_7d")

    vector = [
        clamp(_avg(waiting) / 7, 0, 1),
        clamp(_avg(blockers) / 7, 0, 1),
        clamp(_avg(stage) / 5, 0, 1),
        clamp(_avg(scope) / 0.5, 0, 1),
        clamp((_avg(burn) - 1) / 0.5, 0, 1),
        clamp(_avg(margin), 0, 1),
        clamp(_avg(activity), 0, 1),
        clamp(abs(min(_avg(sentiment), 0.0)) / 0.4, 0, 1),
        clamp(_avg(risk) / 100, 0, 1),
        clamp(1 - _avg(health) / 100, 0, 1),
        clamp(_avg(events_7d) / 50, 0, 1),
        clamp(_delta(risk) / 40, -1, 1),
        clamp(_delta(waiting) / 7, -1, 1),
        clamp(_delta(scope) / 0.4, -1, 1),
    ]
    vector = [rnd(x, 5) for x in vector]

    since = now - timedelta(days=window_days)
    timeline: list[tuple[datetime, int, str]] = []
    for order, event in enumerate(event_log):
        if is_process_event(event):
            continue
        occurred = parse_ts(get(event, "occurred_at"))
        if occurred is None or occurred < since:
            continue
        event_id = get(event, "id")
        timeline.append((occurred, int(_num(event_id, order)), str(get(event, "event_type", ""))))
    timeline.sort(key=lambda item: (item[0], item[1]))
    event_types = [t for _, _, t in timeline][:MAX_EVENT_TYPES]
    ngrams = [f"{a}>{b}" for a, b in zip(event_types, event_types[1:], strict=False)]

    features: dict[str, Any] = {
        "waiting_avg": rnd(_avg(waiting), 4),
        "blockers_avg": rnd(_avg(blockers), 4),
        "stage_overdue_avg": rnd(_avg(stage), 4),
        "scope_creep_avg": rnd(_avg(scope), 4),
        "burn_rate_avg": rnd(_avg(burn), 4),
        "margin_risk_avg": rnd(_avg(margin), 4),
        "activity_drop_avg": rnd(_avg(activity), 4),
        "sentiment_trend_avg": rnd(_avg(sentiment), 4),
        "risk_score_avg": rnd(_avg(risk), 4),
        "health_score_avg": rnd(_avg(health), 4),
        "events_7d_avg": rnd(_avg(events_7d), 4),
        "waiting_delta": rnd(_delta(waiting), 4),
        "risk_delta": rnd(_delta(risk), 4),
        "event_types": event_types[-500:],
        "event_ngrams": ngrams[-1000:],
    }

    latest_deal, latest_ts = None, None
    for deal in deals:
        ts = parse_ts(get(deal, "updated_at")) or parse_ts(get(deal, "created_at"))
        if latest_deal is None or (ts is not None and (latest_ts is None or ts > latest_ts)):
            latest_deal, latest_ts = deal, ts
    pipeline = _num(_nested(rows[-1], "key_aggregates_json", "revenue", "pipeline_amount"))
    context = {
        "project_type": project_type(project_name),
        "pipeline_amount": rnd(pipeline, 2),
        "budget_bucket": budget_bucket(pipeline),
        "stage_bucket": stage_bucket(get(latest_deal, "stage")),
    }
    signature_hash = sha1hex(canonical_json(vector) + "|" + canonical_json(sorted(set(ngrams))))
    return CaseSignature(
        window_days=window_days,
        signature_vector=vector,
        signature_hash=signature_hash,
        features_json=features,
        context_json=context,
        computed_at=now,
        project_id=project_id,
    )


def no_snapshots_warning(project_id: Any, window_days: int) -> KagWarning:
    return KagWarning(
        WarningCode.SIMILARITY_NO_SNAPSHOTS,
        f"no snapshots in the last {window_days} days; signature not built",
        {"project_id": str(project_id), "window_days": window_days},
    )
