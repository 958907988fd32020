"""Scores (kag.md §7): project_health, risk, client_value, upsell_likelihood.

Wiring: the `scoring` stage reads the stored `kag_signals` rows and the `kag_signal_state` payload,
calls `compute_scores(signals, state, now)` and upserts each `ScoreRow.to_row()` on
`(project_id, score_type)` + appends it to `kag_score_history`. Result: `{"touched_scores": 4}`.

Decisions where the spec is silent:
- Scores that feed other scores (health → client_value stability, client_value → upsell, risk and
  health → commercial stability) use the unrounded values of this run; only the stored score is
  rounded.
- A factor's contribution is its share of the weighted mean, `wᵢ·cᵢ / Σw` (2 dp): for health and
  risk over the 10 risk components (`risk_contribution`), for client_value/upsell over their own
  components (`contribution`); contributions sum to the (risk-side) score.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobs.kag.evidence import CAP_SCORE, merge_refs
from jobs.kag.rounding import clamp, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.signals import SignalState, index_signals, signal_value
from jobs.kag.vocab import SIGNAL_KEYS

__all__ = [
    "CLIENT_VALUE_WEIGHTS",
    "HEALTH_WEIGHTS",
    "RISK_COMPONENTS",
    "RISK_WEIGHTS",
    "UPSELL_WEIGHTS",
    "ScoreRow",
    "compute_scores",
    "index_scores",
    "risk_components",
    "score_level",
    "weighted_mean",
]

RISK_COMPONENTS: tuple[str, ...] = (
    "waiting",
    "response",
    "blockers",
    "stage",
    "agreement",
    "sentiment",
    "scope",
    "budget",
    "margin",
    "activity",
)
HEALTH_WEIGHTS: dict[str, float] = {
    "waiting": 0.10,
    "response": 0.08,
    "blockers": 0.15,
    "stage": 0.15,
    "agreement": 0.10,
    "sentiment": 0.08,
    "scope": 0.10,
    "budget": 0.10,
    "margin": 0.08,
    "activity": 0.06,
}
RISK_WEIGHTS: dict[str, float] = {
    "waiting": 0.06,
    "response": 0.04,
    "blockers": 0.18,
    "stage": 0.18,
    "agreement": 0.08,
    "sentiment": 0.02,
    "scope": 0.10,
    "budget": 0.16,
    "margin": 0.16,
    "activity": 0.02,
}
CLIENT_VALUE_WEIGHTS: dict[str, float] = {
    "revenue": 0.30,
    "margin": 0.25,
    "engagement": 0.20,
    "sentiment": 0.10,
    "stability": 0.15,
}
UPSELL_WEIGHTS: dict[str, float] = {"client_value": 0.40, "need_signal": 0.35, "commercial_stability": 0.25}

THRESHOLDS: dict[str, dict[str, float]] = {
    "project_health": {"warning_below": 70, "critical_below": 50},
    "risk": {"warning_above": 60, "critical_above": 75},
    "client_value": {"medium_above": 60, "high_above": 75},
    "upsell_likelihood": {"medium_above": 55, "high_above": 70},
}


def risk_components(values: Mapping[str, float]) -> dict[str, float]:
    """The ten 0..100 risk components from signal values keyed by signal_key (missing = 0)."""

    def v(key: str) -> float:
        return float(values.get(key, 0.0) or 0.0)

    trend = v("sentiment_trend")
    burn = v("budget_burn_rate")
    raw = {
        "waiting": v("waiting_on_client_days") / 6 * 100,
        "response": v("response_time_avg") / 720 * 100,
        "blockers": v("blockers_age") / 7 * 100,
        "stage": v("stage_overdue") / 5 * 100,
        "agreement": v("agreement_overdue_count") * 40,
        "sentiment": 0.0 if trend >= 0 else abs(trend) * 300,
        "scope": v("scope_creep_rate") * 250,
        "budget": 0.0 if burn <= 1 else (burn - 1) * 500,
        "margin": v("margin_risk") * 100,
        "activity": v("activity_drop") * 100,
    }
    return {key: clamp(raw[key], 0, 100) for key in RISK_COMPONENTS}


def weighted_mean(components: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Σ wᵢ·cᵢ / Σ wᵢ over positive weights (0 when no weight is positive)."""
    used = {k: w for k, w in weights.items() if w > 0}
    total = sum(used.values())
    if total <= 0:
        return 0.0
    return sum(w * float(components.get(k, 0.0)) for k, w in used.items()) / total


def _contributions(
    components: Mapping[str, float], weights: Mapping[str, float], name: str
) -> list[dict[str, Any]]:
    total = sum(w for w in weights.values() if w > 0) or 1.0
    return [
        {"key": key, name: rnd(max(weights[key], 0) * float(components.get(key, 0.0)) / total, 2)}
        for key in weights
    ]


def score_level(score_type: str, score: float) -> str:
    """Level of an unrounded score (§7)."""
    if score_type == "project_health":
        return "critical" if score < 40 else "high" if score < 60 else "medium" if score < 75 else "low"
    if score_type == "risk":
        return "critical" if score >= 80 else "high" if score >= 65 else "medium" if score >= 45 else "low"
    if score_type == "client_value":
        if score >= 80:
            return "high"
        if score >= 60:
            return "medium"
        return "critical" if score < 25 else "low"
    if score_type == "upsell_likelihood":
        return "critical" if score >= 80 else "high" if score >= 65 else "medium" if score >= 40 else "low"
    raise ValueError(f"unknown score type {score_type!r}")


@dataclass(frozen=True)
class ScoreRow:
    """One `kag_scores` row (also appended to `kag_score_history`)."""

    score_type: str
    score: float
    level: str
    weights: dict[str, float]
    thresholds: dict[str, float]
    factors: list[dict[str, Any]]
    evidence_refs: list[dict[str, Any]]
    computed_at: datetime
    raw_score: float = field(default=0.0, compare=False, repr=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "score_type": self.score_type,
            "score": self.score,
            "level": self.level,
            "weights": dict(self.weights),
            "thresholds": dict(self.thresholds),
            "factors": [dict(f) for f in self.factors],
            "evidence_refs": [dict(r) for r in self.evidence_refs],
            "computed_at": self.computed_at,
        }

    def history_row(self) -> dict[str, Any]:
        row = self.to_row()
        row.pop("weights")
        row.pop("thresholds")
        return row


def compute_scores(
    signals: Iterable[Any] | Mapping[str, Any] | None,
    state: SignalState | Mapping[str, Any] | None,
    now: datetime,
) -> list[ScoreRow]:
    """The four score rows (health, risk, client_value, upsell_likelihood) from stored signals."""
    indexed = index_signals(signals)
    st = state if isinstance(state, SignalState) else SignalState.from_payload(state)
    values = {key: signal_value(indexed, key) for key in SIGNAL_KEYS}
    components = risk_components(values)

    health = clamp(100 - weighted_mean(components, HEALTH_WEIGHTS), 0, 100)
    risk = clamp(weighted_mean(components, RISK_WEIGHTS), 0, 100)

    cv_components = {
        "revenue": clamp(st.revenue / 100000 * 100, 0, 100),
        "margin": 100 - components["margin"],
        "engagement": 100 - components["activity"],
        "sentiment": clamp((st.sentiment_ewma + 1) * 50, 0, 100),
        "stability": health,
    }
    client_value = clamp(weighted_mean(cv_components, CLIENT_VALUE_WEIGHTS), 0, 100)

    week_ago = now - timedelta(days=7)
    up_components = {
        "client_value": client_value,
        "need_signal": clamp(st.needs_since(week_ago) * 35 + st.scope_requests_since(week_ago) * 12, 0, 100),
        "commercial_stability": clamp((100 - risk) * 0.6 + health * 0.4, 0, 100),
    }
    upsell = clamp(weighted_mean(up_components, UPSELL_WEIGHTS), 0, 100)

    evidence = merge_refs(*(indexed.get(key, {}).get("evidence_refs") for key in SIGNAL_KEYS), cap=CAP_SCORE)

    def row(
        score_type: str, score: float, weights: dict[str, float], factors: list[dict[str, Any]]
    ) -> ScoreRow:
        return ScoreRow(
            score_type=score_type,
            score=rnd(score, 2),
            level=score_level(score_type, score),
            weights=dict(weights),
            thresholds=dict(THRESHOLDS[score_type]),
            factors=factors,
            evidence_refs=[dict(r) for r in evidence],
            computed_at=now,
            raw_score=score,
        )

    return [
        row(
            "project_health",
            health,
            HEALTH_WEIGHTS,
            _contributions(components, HEALTH_WEIGHTS, "risk_contribution"),
        ),
        row("risk", risk, RISK_WEIGHTS, _contributions(components, RISK_WEIGHTS, "risk_contribution")),
        row(
            "client_value",
            client_value,
            CLIENT_VALUE_WEIGHTS,
            _contributions(cv_components, CLIENT_VALUE_WEIGHTS, "contribution"),
        ),
        row(
            "upsell_likelihood",
            upsell,
            UPSELL_WEIGHTS,
            _contributions(up_components, UPSELL_WEIGHTS, "contribution"),
        ),
    ]


def index_scores(rows: Iterable[Any] | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Stored score rows keyed by `score_type` as plain dicts (`score` as float)."""
    out: dict[str, dict[str, Any]] = {}
    if rows is None:
        return out
    items = rows.values() if isinstance(rows, Mapping) else rows
    for r in items:
        key = get(r, "score_type")
        if key is None:
            continue
        out[str(key)] = {
            "score_type": str(key),
            "score": to_number(get(r, "score", 0.0), allow_str=True) or 0.0,
            "level": get(r, "level", "low"),
            "factors": list(get(r, "factors", []) or []),
            "evidence_refs": list(get(r, "evidence_refs", []) or []),
            "computed_at": get(r, "computed_at"),
        }
    return out
