"""Case signatures and similar-case ranking (kag.md §12).

Wiring:
- `case_signatures_refresh`: per window read the project's `project_snapshots` (last `window`
  days), domain `kag_event_log` rows (last `window` days), the project name and its Attio deals;
  `build_case_signature(...)` returns a `CaseSignature` to upsert into `case_signatures` on
  `(project_id, window_days)`, or None (no snapshots → result `{skipped: "no_snapshots"}` and a
  `similarity_no_snapshots` warning from `no_snapshots_warning`).
- forecast / v2 / GET similar-cases: read the source signature and the newest 300 signatures of
  other projects of the scope (same window) with their 8 most recent outcomes, build
  `CaseCandidate.from_row(...)` and call `rank_similar_cases(source, candidates, now, top_k)`.

Scikit-learn: `sklearn.metrics.pairwise.euclidean_distances` computes all candidate distances in
one call after zero-padding every vector to the longest length.

Beyond the spec's row shape (`SimilarCase.to_row()`), each result also carries its three part
scores and `closest_features`: the signature components both projects show (non-zero) with the
smallest gap — the features that made them similar. Decision where the spec is silent: the
ordering uses the unrounded similarity (ties keep candidate order).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
from sklearn.metrics.pairwise import euclidean_distances

from jobs.kag.events_log import KagWarning, is_process_event
from jobs.kag.keys import canonical_json, sha1hex
from jobs.kag.rounding import clamp, fmt, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.stages import stage_bucket
from jobs.kag.timeutil import iso_z, parse_date, parse_ts, utc_date
from jobs.kag.vocab import WINDOW_DAYS, WarningCode

__all__ = [
    "VECTOR_COMPONENTS",
    "CaseCandidate",
    "CaseSignature",
    "SimilarCase",
    "budget_bucket",
    "build_case_signature",
    "context_score",
    "jaccard",
    "no_snapshots_warning",
    "outcomes_seen",
    "project_type",
    "rank_similar_cases",
]

VECTOR_COMPONENTS: tuple[str, ...] = (
    "waiting",
    "blockers_age",
    "stage_overdue",
    "scope_creep_rate",
    "budget_burn",
    "margin_risk",
    "activity_drop",
    "negative_sentiment",
    "risk_score",
    "health_gap",
    "events_7d",
    "risk_delta",
    "waiting_delta",
    "scope_delta",
)
MAX_EVENT_TYPES = 5000
MAX_CANDIDATES = 300
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


# --- ranking ----------------------------------------------------------------------------------


def outcomes_seen(outcome_rows: Iterable[Any], limit: int = 8) -> list[dict[str, Any]]:
    """The `limit` most recent outcomes of a candidate project as stored in a similar case."""
    items = []
    for row in outcome_rows:
        occurred = parse_ts(get(row, "occurred_at"))
        items.append((occurred, row))
    items.sort(key=lambda item: item[0] or _EPOCH, reverse=True)
    return [
        {
            "outcome_type": get(row, "outcome_type"),
            "occurred_at": iso_z(occurred),
            "severity": int(_num(get(row, "severity"), 3)),
            "notes": get(row, "notes"),
            "evidence_refs": list(get(row, "evidence_refs", []) or []),
        }
        for occurred, row in items[:limit]
    ]


@dataclass(frozen=True)
class CaseCandidate:
    project_id: Any
    project_name: str | None
    vector: list[float]
    ngrams: list[str]
    context: dict[str, Any]
    outcomes_seen: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_row(
        cls, signature_row: Any, *, project_name: str | None = None, outcomes: Iterable[Any] = ()
    ) -> CaseCandidate:
        """From a `case_signatures` row (+ the project's name and outcome rows)."""
        features = get(signature_row, "features_json", {}) or {}
        return cls(
            project_id=get(signature_row, "project_id"),
            project_name=project_name,
            vector=[_num(x) for x in (get(signature_row, "signature_vector", []) or [])],
            ngrams=[str(x) for x in (features.get("event_ngrams") or [])],
            context=dict(get(signature_row, "context_json", {}) or {}),
            outcomes_seen=outcomes_seen(outcomes),
        )


@dataclass(frozen=True)
class SimilarCase:
    case_project_id: Any
    case_project_name: str | None
    similarity_score: float
    why_similar: str
    key_shared_patterns: list[str]
    outcomes_seen: list[dict[str, Any]]
    computed_at: datetime
    time_series: float = 0.0
    event_sequence: float = 0.0
    context: float = 0.0
    closest_features: list[dict[str, Any]] = field(default_factory=list)

    def to_row(self) -> dict[str, Any]:
        """The spec's `case` shape (§16.3)."""
        return {
            "case_project_id": self.case_project_id,
            "case_project_name": self.case_project_name,
            "similarity_score": self.similarity_score,
            "why_similar": self.why_similar,
            "key_shared_patterns": list(self.key_shared_patterns),
            "outcomes_seen": list(self.outcomes_seen),
            "computed_at": iso_z(self.computed_at),
        }


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


def context_score(source: Mapping[str, Any], case: Mapping[str, Any]) -> float:
    score = 0.0
    for key, weight in (("budget_bucket", 0.4), ("project_type", 0.3), ("stage_bucket", 0.3)):
        a, b = source.get(key), case.get(key)
        if a and b and a == b:
            score += weight
    return score


def _closest_features(source: list[float], case: list[float], limit: int = 3) -> list[dict[str, Any]]:
    shared = []
    for i, (a, b) in enumerate(zip(source, case, strict=False)):
        if a != 0 and b != 0:
            name = VECTOR_COMPONENTS[i] if i < len(VECTOR_COMPONENTS) else f"component_{i}"
            shared.append((abs(a - b), i, {"feature": name, "source": a, "case": b}))
    shared.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in shared[:limit]]


def rank_similar_cases(
    source: CaseSignature | Mapping[str, Any] | Any,
    candidates: Sequence[CaseCandidate],
    now: datetime,
    *,
    top_k: int = 5,
) -> list[SimilarCase]:
    """Top `top_k` (1..50) other projects by `0.6·ts + 0.3·sequence + 0.1·context` (§12.2)."""
    if isinstance(source, CaseSignature):
        source_id, vector = source.project_id, list(source.signature_vector)
        ngrams, ctx = list(source.features_json.get("event_ngrams") or []), dict(source.context_json)
    else:
        source_id = get(source, "project_id")
        vector = [_num(x) for x in (get(source, "signature_vector", []) or [])]
        ngrams = list((get(source, "features_json", {}) or {}).get("event_ngrams") or [])
        ctx = dict(get(source, "context_json", {}) or {})
    top_k = int(min(max(top_k, 1), 50))
    pool = [c for c in candidates if source_id is None or str(c.project_id) != str(source_id)][
        :MAX_CANDIDATES
    ]
    if not pool:
        return []

    width = max([len(vector)] + [len(c.vector) for c in pool]) or 1
    src = np.zeros((1, width))
    src[0, : len(vector)] = vector
    mat = np.zeros((len(pool), width))
    for i, c in enumerate(pool):
        mat[i, : len(c.vector)] = c.vector
    distances = euclidean_distances(src, mat)[0]

    source_set = set(ngrams)
    scored: list[tuple[float, int, SimilarCase]] = []
    for i, (cand, dist) in enumerate(zip(pool, distances, strict=True)):
        ts = 1.0 / (1.0 + float(dist))
        seq = jaccard(source_set, cand.ngrams)
        cx = context_score(ctx, cand.context)
        sim = clamp(0.6 * ts + 0.3 * seq + 0.1 * cx, 0, 1)
        shared: list[str] = []
        for gram in cand.ngrams:
            if gram in source_set and gram not in shared:
                shared.append(gram)
            if len(shared) >= 5:
                break
        padded_src = [float(x) for x in src[0]]
        padded_case = [float(x) for x in mat[i]]
        scored.append(
            (
                sim,
                i,
                SimilarCase(
                    case_project_id=cand.project_id,
                    case_project_name=cand.project_name,
                    similarity_score=rnd(sim, 4),
                    why_similar=(
                        f"time_series={fmt(ts, 3)}, event_sequence={fmt(seq, 3)}, context={fmt(cx, 3)}"
                    ),
                    key_shared_patterns=shared,
                    outcomes_seen=list(cand.outcomes_seen),
                    computed_at=now,
                    time_series=rnd(ts, 4),
                    event_sequence=rnd(seq, 4),
                    context=rnd(cx, 4),
                    closest_features=_closest_features(padded_src, padded_case),
                ),
            )
        )
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [case for _, _, case in scored[:top_k]]
