"""Similar-case ranking (kag.md §12.2) — shared by the workers (forecast, v2) and the read-only
API (`GET /kag/similar-cases`, `GET /kag/v2/forecast`), which ranks stored signatures and never
builds one. Building a signature is the worker's job (`jobs.kag.similarity.build_case_signature`).

Scikit-learn: `sklearn.metrics.pairwise.euclidean_distances` computes all candidate distances in
one call after zero-padding every vector to the longest length.

Beyond the spec's row shape (`SimilarCase.to_row()`), each result also carries its three part
scores and `closest_features`: the signature components both projects show (non-zero) with the
smallest gap — the features that made them similar.

Decisions where the spec is silent:
- The ordering uses the unrounded similarity (ties keep candidate order).
- `outcomes_seen` and `key_shared_patterns` are needed only for the returned top_k, so callers
  may rank candidates whose n-gram overlap the database computed (`CaseCandidate.shared_ngrams`)
  and attach outcomes and patterns afterwards (`attach_outcomes`, `attach_patterns`), reading k
  projects' n-grams and outcomes instead of 300.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sklearn.metrics.pairwise import euclidean_distances

from shared.kag.rounding import clamp, fmt, rnd, to_number
from shared.kag.rows import field as get
from shared.kag.timeutil import iso_z, parse_ts

__all__ = [
    "MAX_CANDIDATES",
    "VECTOR_COMPONENTS",
    "CaseCandidate",
    "SimilarCase",
    "attach_outcomes",
    "attach_patterns",
    "context_score",
    "jaccard",
    "outcomes_seen",
    "rank_similar_cases",
    "shared_patterns",
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
MAX_CANDIDATES = 300
OUTCOMES_PER_CASE = 8
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _num(value: Any, default: float = 0.0) -> float:
    number = to_number(value, allow_str=True)
    return default if number is None else number


def outcomes_seen(outcome_rows: Iterable[Any], limit: int = OUTCOMES_PER_CASE) -> list[dict[str, Any]]:
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
    """One candidate signature. ``shared_ngrams``/``distinct_ngrams`` (|A∩B| and |B| of the n-gram
    sets, computed by the database) replace the set arithmetic on ``ngrams`` when given; the
    candidate's ``ngrams`` are then only needed for the returned cases (``attach_patterns``)."""

    project_id: Any
    project_name: str | None
    vector: list[float]
    ngrams: list[str]
    context: dict[str, Any]
    outcomes_seen: list[dict[str, Any]] = field(default_factory=list)
    shared_ngrams: int | None = None
    distinct_ngrams: int | None = None

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

    def explained(self) -> dict[str, Any]:
        """`to_row()` + what made the case similar: part scores and the closest shared features."""
        return self.to_row() | {
            "components": {
                "time_series": self.time_series,
                "event_sequence": self.event_sequence,
                "context": self.context,
            },
            "closest_features": [dict(f) for f in self.closest_features],
        }


def attach_outcomes(
    cases: Sequence[SimilarCase], outcomes_by_project: Mapping[str, Iterable[Any]]
) -> list[SimilarCase]:
    """The ranked cases with `outcomes_seen` read for them only (keyed by `str(project_id)`)."""
    return [
        replace(c, outcomes_seen=outcomes_seen(outcomes_by_project.get(str(c.case_project_id), ())))
        for c in cases
    ]


def jaccard(a: Iterable[str], b: Iterable[str]) -> float:
    sa, sb = set(a), set(b)
    union = sa | sb
    return len(sa & sb) / len(union) if union else 0.0


def _sequence(source_set: set[str], cand: CaseCandidate) -> float:
    if cand.shared_ngrams is None or cand.distinct_ngrams is None:
        return jaccard(source_set, cand.ngrams)
    union = len(source_set) + cand.distinct_ngrams - cand.shared_ngrams
    return cand.shared_ngrams / union if union else 0.0


def shared_patterns(case_ngrams: Iterable[str], source_set: set[str], limit: int = 5) -> list[str]:
    """`key_shared_patterns`: candidate n-grams, in the candidate's order, also in the source; unique."""
    shared: list[str] = []
    for gram in case_ngrams:
        if gram in source_set and gram not in shared:
            shared.append(gram)
            if len(shared) >= limit:
                break
    return shared


def attach_patterns(cases: Sequence[SimilarCase], ngrams_by_project: Mapping[str, Iterable[str]],
                    source_ngrams: Iterable[str]) -> list[SimilarCase]:
    """Ranked cases with `key_shared_patterns` from n-grams read for them only (``str(project_id)`` keys)."""
    source_set = set(source_ngrams)
    return [replace(c, key_shared_patterns=shared_patterns(ngrams_by_project.get(str(c.case_project_id), ()),
                                                           source_set)) for c in cases]


def context_score(source: Mapping[str, Any], case: Mapping[str, Any]) -> float:
    score = 0.0
    for key, weight in (("budget_bucket", 0.4), ("project_type", 0.3), ("stage_bucket", 0.3)):
        a, b = source.get(key), case.get(key)
        if a and b and a == b:
            score += weight
    return score


def _closest_features(source: Sequence[float], case: Sequence[float], limit: int = 3) -> list[dict[str, Any]]:
    shared = []
    for i, (a, b) in enumerate(zip(source, case, strict=False)):
        if a != 0 and b != 0:
            name = VECTOR_COMPONENTS[i] if i < len(VECTOR_COMPONENTS) else f"component_{i}"
            shared.append((abs(a - b), i, {"feature": name, "source": a, "case": b}))
    shared.sort(key=lambda item: (item[0], item[1]))
    return [item[2] for item in shared[:limit]]


def rank_similar_cases(
    source: Any,
    candidates: Sequence[CaseCandidate],
    now: datetime,
    *,
    top_k: int = 5,
) -> list[SimilarCase]:
    """Top `top_k` (1..50) other projects by `0.6·ts + 0.3·sequence + 0.1·context` (§12.2).

    `source` is a signature row-like object (`case_signatures` row, `CaseSignature`, dict) with
    `project_id`, `signature_vector`, `features_json.event_ngrams` and `context_json`.
    """
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
    scored: list[tuple[float, int, float, float, float]] = []
    for i, (cand, dist) in enumerate(zip(pool, distances, strict=True)):
        ts = 1.0 / (1.0 + float(dist))
        seq = _sequence(source_set, cand)
        cx = context_score(ctx, cand.context)
        scored.append((clamp(0.6 * ts + 0.3 * seq + 0.1 * cx, 0, 1), i, ts, seq, cx))
    scored.sort(key=lambda item: (-item[0], item[1]))

    results: list[SimilarCase] = []
    padded_src = [float(x) for x in src[0]]
    for sim, i, ts, seq, cx in scored[:top_k]:
        cand = pool[i]
        results.append(
            SimilarCase(
                case_project_id=cand.project_id,
                case_project_name=cand.project_name,
                similarity_score=rnd(sim, 4),
                why_similar=f"time_series={fmt(ts, 3)}, event_sequence={fmt(seq, 3)}, context={fmt(cx, 3)}",
                key_shared_patterns=shared_patterns(cand.ngrams, source_set),
                outcomes_seen=list(cand.outcomes_seen),
                computed_at=now,
                time_series=rnd(ts, 4),
                event_sequence=rnd(seq, 4),
                context=rnd(cx, 4),
                closest_features=_closest_features(padded_src, [float(x) for x in mat[i]]),
            )
        )
    return results
