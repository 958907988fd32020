"""Pipeline glue that is pure (kag.md §2, §15, §17): the follow-up chain, the `kag_disabled`
payload, and `evaluate_project` — every stage run in pipeline order on in-memory rows.

`evaluate_project` is what the worked examples of §20 assert against: it feeds each stage the
*stored* form of the previous stage's output (`to_row()`, rounded values), exactly as the jobs
will read them back from the database, so the numbers match the real chain.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from jobs.kag.context import ProjectContext
from jobs.kag.events_log import KagWarning
from jobs.kag.forecast import ForecastRow, LogitModel, compute_forecasts, forecast_warning
from jobs.kag.recommendations_v1 import V1Result, generate_v1_recommendations
from jobs.kag.recommendations_v2 import V2Result, generate_v2_recommendations
from jobs.kag.scores import ScoreRow, compute_scores
from jobs.kag.settings import KagSettings
from jobs.kag.signals import SignalRow, SignalRun, SignalState, process_events
from jobs.kag.snapshots import OutcomeRow, SnapshotRow, build_snapshot, derive_outcomes, snapshot_warning
from jobs.kag.vocab import JOB_FORECAST, JOB_RECOMMENDATIONS_V2, JOB_SNAPSHOT

__all__ = [
    "KAG_DISABLED_RESULT",
    "ProjectEvaluation",
    "evaluate_project",
    "follow_up",
    "follow_up_chain",
    "next_follow_up",
]

KAG_DISABLED_RESULT: dict[str, Any] = {
    "enabled": False,
    "recommendations_enabled": False,
    "skipped": "kag_disabled",
    "touched_signals": 0,
    "touched_scores": 0,
    "touched_recommendations": 0,
    "processed_events": 0,
}


def _enabled(job_type: str, settings: KagSettings) -> bool:
    if job_type == JOB_SNAPSHOT:
        return settings.snapshots_enabled
    if job_type == JOB_FORECAST:
        return settings.forecasting_enabled
    if job_type == JOB_RECOMMENDATIONS_V2:
        return settings.recommendations_enabled and settings.recommendations_v2_enabled
    return True


def follow_up_chain(settings: KagSettings) -> list[str]:
    """Chain built by `kag_recommendations_refresh` from the flags read at that moment."""
    return [j for j in (JOB_SNAPSHOT, JOB_FORECAST, JOB_RECOMMENDATIONS_V2) if _enabled(j, settings)]


def follow_up(chain: Sequence[str]) -> dict[str, Any] | None:
    """`{job_type, params: {chain: <remaining>}}` for the first element, or None."""
    if not chain:
        return None
    return {"job_type": chain[0], "params": {"chain": list(chain[1:])}}


def next_follow_up(
    params: Mapping[str, Any] | None, settings: KagSettings | None = None
) -> dict[str, Any] | None:
    """For a chained job on success: the next enabled name of its own `params.chain`."""
    raw = (params or {}).get("chain") or []
    chain = [str(j) for j in raw if isinstance(j, str)]
    if settings is not None:
        chain = [j for j in chain if _enabled(j, settings)]
    return follow_up(chain)


@dataclass
class ProjectEvaluation:
    signal_run: SignalRun
    signals: list[SignalRow]
    scores: list[ScoreRow]
    v1: V1Result | None
    snapshot: SnapshotRow | None
    outcomes: list[OutcomeRow]
    forecasts: list[ForecastRow]
    v2: V2Result | None
    warnings: list[KagWarning] = field(default_factory=list)

    def signal(self, key: str) -> SignalRow:
        return next(s for s in self.signals if s.signal_key == key)

    def score(self, score_type: str) -> ScoreRow:
        return next(s for s in self.scores if s.score_type == score_type)

    def forecast(self, risk_type: str) -> ForecastRow:
        return next(f for f in self.forecasts if f.risk_type == risk_type)


def evaluate_project(
    events: Iterable[Any],
    now: datetime,
    *,
    state: SignalState | Mapping[str, Any] | None = None,
    context: ProjectContext | None = None,
    similar_cases: Sequence[Any] = (),
    project_id: Any = "P",
    settings: KagSettings | None = None,
    snapshot_date: date | None = None,
    event_log: Iterable[Any] = (),
    linear_issues: Iterable[Any] = (),
    deals: Iterable[Any] = (),
    templates: Iterable[Any] | None = None,
    logit_models: Mapping[str, LogitModel | None] | None = None,
) -> ProjectEvaluation:
    """Run signals → scores → v1 → snapshot/outcomes → forecast → v2 for one project."""
    s = settings or KagSettings()
    run = process_events(state, events, now)
    warnings = list(run.warnings)
    stored_signals = [r.to_row() for r in run.signals]
    scores = compute_scores(stored_signals, run.state, now)
    stored_scores = [r.to_row() for r in scores]

    v1 = None
    if s.recommendations_enabled:
        v1 = generate_v1_recommendations(
            stored_signals, stored_scores, run.state, context, now, templates=templates
        )
        if v1.warning:
            warnings.append(v1.warning)

    snapshot, outcomes = None, []
    if s.snapshots_enabled:
        snapshot = build_snapshot(
            stored_signals,
            stored_scores,
            now,
            snapshot_date=snapshot_date,
            event_log=event_log,
            linear_issues=linear_issues,
            deals=deals,
        )
        outcomes = derive_outcomes(
            project_id, snapshot.snapshot_date, stored_signals, stored_scores, event_log=event_log
        )
        if (w := snapshot_warning(snapshot)) is not None:
            warnings.append(w)

    forecasts: list[ForecastRow] = []
    if s.forecasting_enabled:
        forecasts = compute_forecasts(
            stored_signals,
            stored_scores,
            similar_cases,
            now,
            model=s.forecast_model,
            logit_models=logit_models,
        )
        if (w := forecast_warning(forecasts)) is not None:
            warnings.append(w)

    v2 = None
    if s.recommendations_enabled and s.recommendations_v2_enabled:
        v2 = generate_v2_recommendations(
            stored_signals,
            stored_scores,
            [f.to_row() for f in forecasts],
            similar_cases,
            context,
            now,
            templates=templates,
        )
        if v2.warning:
            warnings.append(v2.warning)

    return ProjectEvaluation(run, run.signals, scores, v1, snapshot, outcomes, forecasts, v2, warnings)
