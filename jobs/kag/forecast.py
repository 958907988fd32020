"""Risk forecasts (kag.md §13): `rules_v1` baseline, similar-case adjustment, horizons, drivers,
evidence — and the optional calibrated `logit_v1` baseline fitted with scikit-learn.

Wiring (`kag_v2_forecast_refresh`): read the stored signals and scores, rank similar cases
(`similarity.rank_similar_cases`, window 14, top_k 5), call
`compute_forecasts(signals, scores, similar_cases, now, model=settings.forecast_model,
logit_models=...)` and upsert the 4 `ForecastRow.to_row()` into `kag_risk_forecasts` on
`(project_id, risk_type)`. `forecast_warning(rows)` gives the `forecast_unpublishable` warning;
`forecast_result(rows, cases)` the stage result.

`logit_v1`: `fit_logit_models(samples)` on `logit_samples(snapshots, outcomes, now)` of the
account scope returns one `LogitModel` per risk type, or None where the data is too thin (then that
type uses `rules_v1`). `LogitModel.to_json()/from_json()` make the 24 h Redis cache JSON, not pickle.

Decisions where the spec is silent:
- Normalised features are clamped to 0..1 (the table calls them 0..1).
- `n_similar` for the confidence counts every similar case passed in (the ranked top_k list).
- logit labels: snapshot day d is taken at `d T23:59:59.000Z` (when that day's outcomes are
  stamped), the label window is (d, d+7 days], and snapshots whose window has not fully elapsed
  at `now` are left out (their label is not known yet).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from jobs.kag.events_log import KagWarning
from jobs.kag.evidence import CAP_FORECAST, merge_refs
from jobs.kag.rounding import clamp, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.scores import index_scores
from jobs.kag.signals import index_signals, signal_value
from jobs.kag.timeutil import parse_date, parse_ts, utc_date
from jobs.kag.vocab import RISK_TYPES, WarningCode

__all__ = [
    "BASELINE_WEIGHTS",
    "FEATURES_BY_TYPE",
    "ForecastRow",
    "LogitModel",
    "LogitSamples",
    "baseline_probability",
    "case_score",
    "compute_forecasts",
    "expected_time_to_risk",
    "fit_logit_models",
    "forecast_features",
    "forecast_result",
    "forecast_warning",
    "horizon_probabilities",
    "index_forecasts",
    "logit_samples",
]

FEATURES_BY_TYPE: dict[str, tuple[str, ...]] = {
    "delivery_risk": ("blockers_age", "stage_overdue", "response_time_avg", "activity_drop", "risk_score"),
    "finance_risk": ("budget_burn_rate", "margin_risk", "risk_score"),
    "client_risk": (
        "waiting_on_client_days",
        "sentiment_trend",
        "response_time_avg",
        "activity_drop",
        "risk_score",
    ),
    "scope_risk": ("scope_creep_rate", "stage_overdue", "waiting_on_client_days", "risk_score"),
}
BASELINE_WEIGHTS: dict[str, dict[str, float]] = {
    "delivery_risk": {
        "blockers_age": 0.32,
        "stage_overdue": 0.28,
        "response_time_avg": 0.12,
        "activity_drop": 0.10,
        "risk_score": 0.18,
    },
    "finance_risk": {"budget_burn_rate": 0.40, "margin_risk": 0.35, "risk_score": 0.25},
    "client_risk": {
        "waiting_on_client_days": 0.32,
        "sentiment_trend": 0.24,
        "response_time_avg": 0.12,
        "activity_drop": 0.12,
        "risk_score": 0.20,
    },
    "scope_risk": {
        "scope_creep_rate": 0.48,
        "stage_overdue": 0.18,
        "waiting_on_client_days": 0.14,
        "risk_score": 0.20,
    },
}
EVIDENCE_SIGNALS: tuple[str, ...] = (
    "waiting_on_client_days",
    "stage_overdue",
    "blockers_age",
    "scope_creep_rate",
    "margin_risk",
    "budget_burn_rate",
    "sentiment_trend",
)


def forecast_features(raw: Mapping[str, float], *, burn_present: bool = True) -> dict[str, float]:
    """§13.1 normalised features (0..1) from raw signal values + `risk_score` (0..100)."""

    def v(key: str) -> float:
        return float(raw.get(key, 0.0) or 0.0)

    trend = v("sentiment_trend")
    return {
        "waiting_on_client_days": clamp(v("waiting_on_client_days") / 6, 0, 1),
        "response_time_avg": clamp(v("response_time_avg") / 720, 0, 1),
        "blockers_age": clamp(v("blockers_age") / 7, 0, 1),
        "stage_overdue": clamp(v("stage_overdue") / 5, 0, 1),
        "scope_creep_rate": clamp(v("scope_creep_rate") / 0.5, 0, 1),
        "budget_burn_rate": clamp((v("budget_burn_rate") - 1) / 0.5, 0, 1) if burn_present else 0.0,
        "margin_risk": clamp(v("margin_risk"), 0, 1),
        "sentiment_trend": clamp(abs(trend) / 0.4, 0, 1) if trend < 0 else 0.0,
        "activity_drop": clamp(v("activity_drop"), 0, 1),
        "risk_score": clamp(v("risk_score") / 100, 0, 1),
    }


def _floor(risk_type: str, raw: Mapping[str, float]) -> float | None:
    def v(key: str) -> float:
        return float(raw.get(key, 0.0) or 0.0)

    floors: list[float] = []
    if risk_type == "delivery_risk":
        if v("blockers_age") >= 5 and v("open_blockers") >= 3:
            floors.append(0.62)
        if v("stage_overdue") >= 3:
            floors.append(0.58)
    elif risk_type == "finance_risk":
        if v("budget_burn_rate") >= 1.2 or v("margin_risk") >= 0.4:
            floors.append(0.62)
    elif risk_type == "client_risk":
        if v("waiting_on_client_days") >= 4:
            floors.append(0.62)
        if v("sentiment_trend") <= -0.25:
            floors.append(0.55)
    elif risk_type == "scope_risk" and v("scope_creep_rate") >= 0.35:
        floors.append(0.60)
    return max(floors) if floors else None


def baseline_probability(risk_type: str, features: Mapping[str, float], raw: Mapping[str, float]) -> float:
    """`rules_v1` baseline b (weighted features, clamped, floors applied on raw signal values)."""
    weights = BASELINE_WEIGHTS[risk_type]
    b = clamp(sum(w * features.get(k, 0.0) for k, w in weights.items()), 0, 1)
    floor = _floor(risk_type, raw)
    return max(b, floor) if floor is not None else b


def case_score(similar_cases: Iterable[Any], risk_type: str) -> float:
    """s = Σ sim·clamp(mean_severity/5) / Σ sim over cases with sim > 0 and an outcome of the type."""
    num = den = 0.0
    for case in similar_cases:
        sim = to_number(get(case, "similarity_score", 0.0), allow_str=True) or 0.0
        if sim <= 0:
            continue
        severities = [
            to_number(get(o, "severity"), allow_str=True) or 3.0
            for o in (get(case, "outcomes_seen", []) or [])
            if get(o, "outcome_type") == risk_type
        ]
        if not severities:
            continue
        num += sim * clamp(sum(severities) / len(severities) / 5, 0, 1)
        den += sim
    return num / den if den > 0 else 0.0


def horizon_probabilities(b: float, s: float) -> tuple[float, float, float]:
    p7 = clamp(0.75 * b + 0.25 * s, 0, 1)
    p14 = p7 + (0.12 + 0.18 * s) * (1 - p7)
    p30 = p14 + (0.18 + 0.22 * s) * (1 - p14)
    return p7, p14, p30


def expected_time_to_risk(p30: float) -> float:
    if p30 < 0.05:
        return 60.0
    return rnd(clamp((1 - p30) * 40 + 2, 2, 60), 2)


# --- logit_v1 ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogitModel:
    """A fitted `logit_v1` baseline for one risk type (coefficients only; JSON-serialisable)."""

    risk_type: str
    feature_names: tuple[str, ...]
    coef: tuple[float, ...]
    intercept: float
    n_samples: int = 0
    n_positive: int = 0

    def predict_proba(self, features: Mapping[str, float]) -> float:
        z = self.intercept + sum(
            c * features.get(k, 0.0) for k, c in zip(self.feature_names, self.coef, strict=True)
        )
        return 1.0 / (1.0 + math.exp(-z)) if z >= 0 else math.exp(z) / (1.0 + math.exp(z))

    def contributions(self, features: Mapping[str, float]) -> dict[str, float]:
        return {k: c * features.get(k, 0.0) for k, c in zip(self.feature_names, self.coef, strict=True)}

    def to_json(self) -> dict[str, Any]:
        return {
            "risk_type": self.risk_type,
            "feature_names": list(self.feature_names),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "n_samples": self.n_samples,
            "n_positive": self.n_positive,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LogitModel:
        return cls(
            risk_type=str(data["risk_type"]),
            feature_names=tuple(data["feature_names"]),
            coef=tuple(float(c) for c in data["coef"]),
            intercept=float(data["intercept"]),
            n_samples=int(data.get("n_samples", 0)),
            n_positive=int(data.get("n_positive", 0)),
        )


def _snapshot_raw(snapshot: Any) -> tuple[dict[str, float], bool]:
    signals = get(snapshot, "signals_json", {}) or {}
    scores = get(snapshot, "scores_json", {}) or {}
    raw: dict[str, float] = {}
    for key, row in signals.items():
        if isinstance(row, Mapping):
            raw[key] = to_number(row.get("value"), allow_str=True) or 0.0
    risk = scores.get("risk") if isinstance(scores, Mapping) else None
    raw["risk_score"] = (
        (to_number(risk.get("score"), allow_str=True) or 0.0) if isinstance(risk, Mapping) else 0.0
    )
    return raw, "budget_burn_rate" in signals


@dataclass
class LogitSamples:
    """Training data per risk type: feature rows X (in `FEATURES_BY_TYPE` order) and labels y."""

    X: dict[str, list[list[float]]] = field(default_factory=lambda: {t: [] for t in RISK_TYPES})
    y: dict[str, list[int]] = field(default_factory=lambda: {t: [] for t in RISK_TYPES})


def logit_samples(
    snapshots: Iterable[Any],
    outcomes: Iterable[Any],
    now: datetime,
    *,
    lookback_days: int = 365,
    horizon_days: int = 7,
) -> LogitSamples:
    """Samples = (project, snapshot day) of the last 365 days; label = outcome of the type in (d, d+7d]."""
    by_project: dict[str, list[tuple[datetime, str]]] = {}
    for o in outcomes:
        ts = parse_ts(get(o, "occurred_at"))
        if ts is not None:
            by_project.setdefault(str(get(o, "project_id")), []).append((ts, str(get(o, "outcome_type"))))
    first_day = utc_date(now) - timedelta(days=lookback_days)
    samples = LogitSamples()
    for snap in snapshots:
        day = parse_date(get(snap, "snapshot_date"))
        if day is None or day < first_day:
            continue
        d = datetime.combine(day, time(23, 59, 59), tzinfo=UTC)
        end = d + timedelta(days=horizon_days)
        if end > now:
            continue
        raw, burn_present = _snapshot_raw(snap)
        feats = forecast_features(raw, burn_present=burn_present)
        project_outcomes = by_project.get(str(get(snap, "project_id")), [])
        for risk_type in RISK_TYPES:
            samples.X[risk_type].append([feats[k] for k in FEATURES_BY_TYPE[risk_type]])
            samples.y[risk_type].append(
                int(any(t == risk_type and d < ts <= end for ts, t in project_outcomes))
            )
    return samples


def fit_logit_models(
    samples: LogitSamples, *, min_samples: int = 40, min_class: int = 8
) -> dict[str, LogitModel | None]:
    """One `LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)` per type, or None."""
    from sklearn.linear_model import LogisticRegression

    models: dict[str, LogitModel | None] = {}
    for risk_type in RISK_TYPES:
        X, y = samples.X[risk_type], samples.y[risk_type]
        positives = sum(y)
        if len(y) < min_samples or positives < min_class or len(y) - positives < min_class:
            models[risk_type] = None
            continue
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200)
        clf.fit(X, y)
        models[risk_type] = LogitModel(
            risk_type=risk_type,
            feature_names=FEATURES_BY_TYPE[risk_type],
            coef=tuple(float(c) for c in clf.coef_[0]),
            intercept=float(clf.intercept_[0]),
            n_samples=len(y),
            n_positive=positives,
        )
    return models


# --- the forecast rows ------------------------------------------------------------------------


@dataclass(frozen=True)
class ForecastRow:
    """One `kag_risk_forecasts` row."""

    risk_type: str
    probability_7d: float
    probability_14d: float
    probability_30d: float
    expected_time_to_risk_days: float
    confidence: float
    top_drivers: list[dict[str, Any]]
    similar_cases: list[dict[str, Any]]
    evidence_refs: list[dict[str, Any]]
    publishable: bool
    model: str
    generated_at: datetime
    baseline: float = field(default=0.0, compare=False, repr=False)
    case_score: float = field(default=0.0, compare=False, repr=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "risk_type": self.risk_type,
            "probability_7d": self.probability_7d,
            "probability_14d": self.probability_14d,
            "probability_30d": self.probability_30d,
            "expected_time_to_risk_days": self.expected_time_to_risk_days,
            "confidence": self.confidence,
            "top_drivers": [dict(d) for d in self.top_drivers],
            "similar_cases": [dict(c) for c in self.similar_cases],
            "evidence_refs": [dict(r) for r in self.evidence_refs],
            "publishable": self.publishable,
            "model": self.model,
            "generated_at": self.generated_at,
        }


def _case_summary(case: Any) -> dict[str, Any]:
    return {
        "case_project_id": get(case, "case_project_id"),
        "similarity_score": get(case, "similarity_score", 0.0),
        "outcomes_seen": list(get(case, "outcomes_seen", []) or []),
        "why_similar": get(case, "why_similar"),
    }


def compute_forecasts(
    signals: Iterable[Any] | Mapping[str, Any] | None,
    scores: Iterable[Any] | Mapping[str, Any] | None,
    similar_cases: Sequence[Any] = (),
    now: datetime | None = None,
    *,
    model: str = "rules_v1",
    logit_models: Mapping[str, LogitModel | None] | None = None,
) -> list[ForecastRow]:
    """The four forecast rows (delivery, finance, client, scope) from stored signals and scores."""
    if now is None:
        raise ValueError("now is required")
    sig = index_signals(signals)
    sco = index_scores(scores)
    raw = {key: signal_value(sig, key) for key in sig}
    raw["risk_score"] = float((sco.get("risk") or {}).get("score", 0.0))
    raw["open_blockers"] = float(
        ((sig.get("blockers_age") or {}).get("details") or {}).get("open_blockers") or 0
    )
    features = forecast_features(raw, burn_present="budget_burn_rate" in sig)

    evidence = merge_refs(
        *((sig.get(k) or {}).get("evidence_refs") for k in EVIDENCE_SIGNALS), cap=CAP_FORECAST
    )
    cases = list(similar_cases)
    confidence = rnd(clamp(0.35 + min(0.45, 0.08 * len(cases)) + min(0.20, 0.01 * len(evidence)), 0, 1), 4)
    case_rows = [_case_summary(c) for c in cases[:3]]

    rows: list[ForecastRow] = []
    for risk_type in RISK_TYPES:
        fitted = (logit_models or {}).get(risk_type) if model == "logit_v1" else None
        names = FEATURES_BY_TYPE[risk_type]
        if fitted is not None:
            floor = _floor(risk_type, raw)
            b = fitted.predict_proba(features)
            b = max(b, floor) if floor is not None else b
            contributions = fitted.contributions(features)
            used_model = "logit_v1"
        else:
            b = baseline_probability(risk_type, features, raw)
            contributions = {k: features[k] for k in names}
            used_model = "rules_v1"
        s = case_score(cases, risk_type)
        p7, p14, p30 = horizon_probabilities(b, s)
        ordered = sorted(names, key=lambda k: -contributions[k])  # stable: ties keep list order
        rows.append(
            ForecastRow(
                risk_type=risk_type,
                probability_7d=rnd(p7, 4),
                probability_14d=rnd(p14, 4),
                probability_30d=rnd(p30, 4),
                expected_time_to_risk_days=expected_time_to_risk(p30),
                confidence=confidence,
                top_drivers=[{"key": k, "contribution": rnd(contributions[k], 4)} for k in ordered[:4]],
                similar_cases=case_rows,
                evidence_refs=[dict(r) for r in evidence],
                publishable=bool(evidence),
                model=used_model,
                generated_at=now,
                baseline=b,
                case_score=s,
            )
        )
    return rows


def index_forecasts(rows: Iterable[Any] | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Stored forecast rows keyed by `risk_type` as plain dicts (probabilities as floats)."""
    out: dict[str, dict[str, Any]] = {}
    if rows is None:
        return out
    items = rows.values() if isinstance(rows, Mapping) else rows
    for r in items:
        key = get(r, "risk_type")
        if key is None:
            continue
        row = (
            r.to_row()
            if isinstance(r, ForecastRow)
            else {
                name: get(r, name)
                for name in (
                    "risk_type",
                    "probability_7d",
                    "probability_14d",
                    "probability_30d",
                    "expected_time_to_risk_days",
                    "confidence",
                    "top_drivers",
                    "similar_cases",
                    "evidence_refs",
                    "publishable",
                    "model",
                    "generated_at",
                )
            }
        )
        for name in (
            "probability_7d",
            "probability_14d",
            "probability_30d",
            "expected_time_to_risk_days",
            "confidence",
        ):
            row[name] = to_number(row.get(name), allow_str=True) or 0.0
        row["evidence_refs"] = list(row.get("evidence_refs") or [])
        out[str(key)] = row
    return out


def forecast_warning(rows: Sequence[ForecastRow]) -> KagWarning | None:
    hidden = [r.risk_type for r in rows if not r.publishable]
    if not hidden:
        return None
    return KagWarning(
        WarningCode.FORECAST_UNPUBLISHABLE,
        f"{len(hidden)} forecast(s) stored without evidence",
        {"risk_types": hidden},
    )


def forecast_result(
    rows: Sequence[ForecastRow], similar_cases: Sequence[Any] = (), touched: int | None = None
) -> dict[str, Any]:
    return {
        "touched": len(rows) if touched is None else touched,
        "forecasts": [
            {
                "risk_type": r.risk_type,
                "probability_7d": r.probability_7d,
                "probability_14d": r.probability_14d,
                "probability_30d": r.probability_30d,
                "publishable": r.publishable,
                "model": r.model,
            }
            for r in rows
        ],
        "similar_cases_top3": [_case_summary(c) for c in list(similar_cases)[:3]],
    }
