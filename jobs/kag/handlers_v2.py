"""KAG v2 job handlers (kag.md §11–§15): read, call the pure core, write, return counts.

| job_type | queue | stage |
|---|---|---|
| `project_snapshot_daily` | kag_snapshots | §11 snapshot + outcomes |
| `case_signatures_refresh` | kag_similarity | §12.1 signatures (requested window or all three) |
| `kag_v2_forecast_refresh` | kag_forecast | §13 forecasts (`rules_v1`, or `logit_v1` behind `KAG_FORECAST_MODEL`) |
| `kag_v2_recommendations_refresh` | kag_recommendations | §14.1 recommendations v2 |

Each stage reads in one short transaction, computes with no transaction open, and writes its rows in
one transaction (tenacity-retried on operational errors, §15), so a failure never undoes an earlier
stage and a re-run is safe. On success a chained run returns the next enabled name of its
``params.chain`` as ``follow_up`` (the platform wrapper enqueues it once this run's row is final).
``kag_retention`` is the §11.3 retention the global ``housekeeping`` job runs at most once a UTC day.

Decisions where the spec is silent:
- A malformed ``snapshot_date`` / ``project_id`` reaching a worker (the routes validate) is a
  permanent failure (``JobValidationError``); a forecast ``project_id`` other than the run's own
  project likewise (``project_mismatch``).
- The fitted ``logit_v1`` models are cached per account scope under ``kag:logit_v1:<scope>`` for 24 h
  (JSON coefficients, never pickle); a Redis outage only costs a re-fit.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from datetime import UTC, datetime, time, timedelta
from typing import Any

from redis.exceptions import RedisError

from jobs.kag.context import project_context
from jobs.kag.forecast import (
    LogitModel,
    compute_forecasts,
    fit_logit_models,
    forecast_result,
    forecast_warning,
    logit_samples,
)
from jobs.kag.handlers_common import StageRun, clock, kag_settings, kag_stage
from jobs.kag.pipeline import next_follow_up
from jobs.kag.recommendations_v2 import generate_v2_recommendations
from jobs.kag.similarity import CaseSignature, SimilarCase, build_case_signature, no_snapshots_warning
from jobs.kag.snapshots import (
    build_snapshot,
    derive_outcomes,
    parse_snapshot_date,
    retention_cutoffs,
    retention_guard_key,
    snapshot_result,
    snapshot_warning,
)
from jobs.kag.timeutil import utc_date
from jobs.kag.vocab import (
    JOB_FORECAST,
    JOB_RECOMMENDATIONS_V2,
    JOB_SIGNATURES,
    JOB_SNAPSHOT,
    RISK_TYPES,
    WINDOW_DAYS,
)
from shared.db.service import kag_v2 as svc
from shared.errors import JobSkipped, JobValidationError
from shared.kag.errors import KagError
from shared.retry import retry_db
from shared.runtime import Runtime
from shared.scope import Scope

log = logging.getLogger(__name__)
AGGREGATE_DAYS = 30
DEFAULT_WINDOW = 14
DEFAULT_TOP_K = 5
LOGIT_CACHE_KEY = "kag:logit_v1:{0}"
LOGIT_CACHE_TTL_S = 86_400
LOGIT_LOOKBACK_DAYS = 365


# --- §11 snapshots and outcomes ---------------------------------------------------------------------
@kag_stage(JOB_SNAPSHOT)
def project_snapshot_daily(run: StageRun) -> dict[str, Any]:
    try:
        day = parse_snapshot_date(run.params.get("snapshot_date"), run.now) or utc_date(run.now)
    except KagError as exc:
        raise JobValidationError(exc.message) from exc
    since = min(run.now - timedelta(days=AGGREGATE_DAYS), datetime.combine(day, time.min, tzinfo=UTC))

    def read() -> tuple[list[Any], ...]:
        with run.rt.session() as s:
            return (svc.stored_signals(session=s, scope=run.scope), svc.stored_scores(session=s, scope=run.scope),
                    svc.domain_events_since(session=s, scope=run.scope, since=since, limit=50_000),
                    svc.linear_issues(session=s, scope=run.scope), svc.attio_deals(session=s, scope=run.scope))

    signals, scores, events, issues, deals = retry_db(read, operation="kag.snapshot.read")
    snapshot = build_snapshot(signals, scores, run.now, snapshot_date=day, event_log=events, linear_issues=issues,
                              deals=deals)
    outcomes = derive_outcomes(run.scope.project_id, day, signals, scores, event_log=events)

    def write() -> int:
        with run.rt.transaction() as s:
            svc.upsert_snapshot(session=s, scope=run.scope, row=snapshot.to_row(), now=run.now)
            return svc.upsert_outcomes(session=s, scope=run.scope, rows=[o.to_row() for o in outcomes])

    touched = retry_db(write, operation="kag.snapshot.write")
    run.warn(snapshot_warning(snapshot))
    return {**snapshot_result(snapshot, outcomes, touched), "touched": 1 + touched,
            "follow_up": next_follow_up(run.params, run.settings)}


# --- §12 case signatures --------------------------------------------------------------------------
def build_signatures(rt: Runtime, scope: Scope, windows: tuple[int, ...],
                     now: datetime) -> dict[int, CaseSignature | None]:
    """One project's signatures for several windows from one read of the widest window.

    When the widest window holds the 5,000-event cap, each window reads its own events (the cap
    keeps the oldest events of *its* window, §12.1).
    """
    widest = max(windows)

    def read(days: int) -> tuple[Any, ...]:
        with rt.session() as s:
            project = svc.project_for(session=s, scope=scope)
            return (svc.snapshots_since(session=s, scope=scope, first_day=utc_date(now) - timedelta(days=days - 1)),
                    svc.domain_events_since(session=s, scope=scope, since=now - timedelta(days=days),
                                            limit=svc.MAX_SIGNATURE_EVENTS),
                    project.name if project else None, svc.attio_deals(session=s, scope=scope))

    snapshots, events, name, deals = retry_db(read, widest, operation="kag.signature.read")
    capped = len(events) >= svc.MAX_SIGNATURE_EVENTS
    out: dict[int, CaseSignature | None] = {}
    for window_days in windows:
        window_events = retry_db(read, window_days, operation="kag.signature.read")[1] if capped else events
        out[window_days] = build_case_signature(window_days=window_days, now=now, snapshots=snapshots,
                                                event_log=window_events, project_name=name, deals=deals,
                                                project_id=str(scope.project_id))
    return out


def build_signature(rt: Runtime, scope: Scope, window_days: int, now: datetime) -> CaseSignature | None:
    """Read one project's window and build its signature (None: no snapshot in the window)."""
    return build_signatures(rt, scope, (window_days,), now)[window_days]


def save_signatures(rt: Runtime, scope: Scope, signatures: list[CaseSignature], now: datetime) -> None:
    def write() -> None:
        with rt.transaction() as s:
            for signature in signatures:
                svc.upsert_signature(session=s, scope=scope, row=signature.to_row(), now=now)

    if signatures:
        retry_db(write, operation="kag.signature.write")


def _target_scope(run: StageRun) -> Scope:
    raw = run.params.get("project_id")
    if raw in (None, ""):
        return run.scope
    try:
        project_id = uuid.UUID(str(raw))
    except ValueError as exc:
        raise JobValidationError(f"invalid project_id: {raw!r}") from exc

    def read() -> Any:
        with run.rt.session() as s:
            return svc.project_in_account(session=s, account_scope_id=run.scope.account_scope_id,
                                          project_id=project_id)

    project = retry_db(read, operation="kag.project.read")
    if project is None:
        raise JobSkipped("project_not_found", {"project_id": str(project_id)})
    return Scope(project.id, project.account_scope_id)


def _window(run: StageRun, default: int | None) -> int | None:
    raw = run.params.get("window_days")
    if raw in (None, ""):
        return default
    if isinstance(raw, bool) or str(raw).strip() not in {str(w) for w in WINDOW_DAYS}:
        raise JobValidationError(f"window_days must be one of {WINDOW_DAYS}")
    return int(raw)


@kag_stage(JOB_SIGNATURES)
def case_signatures_refresh(run: StageRun) -> dict[str, Any]:
    target = _target_scope(run)
    window = _window(run, None)
    built = build_signatures(run.rt, target, (window,) if window else WINDOW_DAYS, run.now)
    save_signatures(run.rt, target, [sig for sig in built.values() if sig is not None], run.now)
    results: list[dict[str, Any]] = []
    for window_days, signature in built.items():
        if signature is None:
            results.append({"project_id": str(target.project_id), "window_days": window_days,
                            "skipped": "no_snapshots"})
            run.warn(no_snapshots_warning(target.project_id, window_days))
            continue
        results.append({"project_id": str(target.project_id), "window_days": window_days,
                        "signature_hash": signature.signature_hash,
                        "n_ngrams": len(signature.features_json.get("event_ngrams") or [])})
    return {"touched": sum(1 for r in results if "skipped" not in r), "results": results}


def similar_cases_for(run: StageRun, window_days: int, top_k: int) -> list[SimilarCase]:
    """§12.2 for a worker: builds (and stores) the source signature first when it is missing."""
    def read(signature: Any = None) -> svc.SimilarCases:
        with run.rt.session() as s:
            return svc.similar_cases(session=s, scope=run.scope, window_days=window_days, top_k=top_k,
                                     now=run.now, signature=signature)

    found = retry_db(read, operation="kag.similar.read")
    if found.signature is None:
        built = build_signature(run.rt, run.scope, window_days, run.now)
        if built is None:
            run.warn(no_snapshots_warning(run.scope.project_id, window_days))
            return []
        save_signatures(run.rt, run.scope, [built], run.now)
        found = retry_db(read, built, operation="kag.similar.read")
    return found.cases


# --- §13 forecasts --------------------------------------------------------------------------------
def logit_models(rt: Runtime, scope: Scope, now: datetime) -> dict[str, LogitModel | None]:
    """§13.5 models of the account scope: the 24 h Redis cache, else fitted on the last 365 days."""
    key = LOGIT_CACHE_KEY.format(scope.account_scope_id)
    try:
        cached = rt.redis.get(key)
    except RedisError:
        cached = None
    if cached:
        data = json.loads(cached)
        return {t: LogitModel.from_json(data[t]) if data.get(t) else None for t in RISK_TYPES}

    def read() -> tuple[list[Any], list[Any]]:
        with rt.session() as s:
            return svc.logit_training_rows(session=s, account_scope_id=scope.account_scope_id,
                                           since=utc_date(now) - timedelta(days=LOGIT_LOOKBACK_DAYS))

    snapshots, outcomes = retry_db(read, operation="kag.logit.read")
    models = fit_logit_models(logit_samples(snapshots, outcomes, now))
    try:
        rt.redis.set(key, json.dumps({t: m.to_json() if m else None for t, m in models.items()}),
                     ex=LOGIT_CACHE_TTL_S)
    except RedisError:
        log.warning("logit_v1 models not cached (Redis unavailable)")
    return models


def _top_k(run: StageRun) -> int:
    raw = run.params.get("top_k")
    if raw in (None, ""):
        return DEFAULT_TOP_K
    try:
        return max(1, min(50, int(raw)))
    except (TypeError, ValueError) as exc:
        raise JobValidationError("top_k must be an integer") from exc


@kag_stage(JOB_FORECAST)
def kag_v2_forecast_refresh(run: StageRun) -> dict[str, Any]:
    if _target_scope(run) != run.scope:
        raise JobValidationError("project_mismatch: a forecast is computed for the run's own project")
    cases = similar_cases_for(run, _window(run, DEFAULT_WINDOW) or DEFAULT_WINDOW, _top_k(run))

    def read() -> tuple[list[Any], list[Any]]:
        with run.rt.session() as s:
            return svc.stored_signals(session=s, scope=run.scope), svc.stored_scores(session=s, scope=run.scope)

    signals, scores = retry_db(read, operation="kag.forecast.read")
    model = run.settings.forecast_model
    models = logit_models(run.rt, run.scope, run.now) if model == "logit_v1" else None
    rows = compute_forecasts(signals, scores, cases, run.now, model=model, logit_models=models)

    def write() -> int:
        with run.rt.transaction() as s:
            return svc.upsert_forecasts(session=s, scope=run.scope, rows=[r.to_row() for r in rows], now=run.now)

    touched = retry_db(write, operation="kag.forecast.write")
    run.warn(forecast_warning(rows))
    return {**forecast_result(rows, cases, touched), "follow_up": next_follow_up(run.params, run.settings)}


# --- §14 recommendations v2 -----------------------------------------------------------------------
@kag_stage(JOB_RECOMMENDATIONS_V2)
def kag_v2_recommendations_refresh(run: StageRun) -> dict[str, Any]:
    cases = similar_cases_for(run, DEFAULT_WINDOW, DEFAULT_TOP_K)

    def read() -> tuple[Any, ...]:
        with run.rt.session() as s:
            return (svc.stored_signals(session=s, scope=run.scope), svc.stored_scores(session=s, scope=run.scope),
                    svc.list_forecasts(session=s, scope=run.scope), svc.project_for(session=s, scope=run.scope),
                    svc.crm_accounts(session=s, scope=run.scope), svc.templates(session=s, scope=run.scope))

    signals, scores, forecasts, project, accounts, templates = retry_db(read, operation="kag.v2.read")
    generated = generate_v2_recommendations(signals, scores, forecasts, cases, project_context(project, accounts),
                                            run.now, templates=templates)

    def write() -> int:
        with run.rt.transaction() as s:
            return svc.upsert_recommendations(session=s, scope=run.scope,
                                              rows=[r.to_row() for r in generated.recommendations], now=run.now)

    touched = retry_db(write, operation="kag.v2.write")
    run.warn(generated.warning)
    return {**generated.result(touched), "follow_up": next_follow_up(run.params, run.settings)}


# --- §11.3 retention (inside the global housekeeping job) -----------------------------------------------
def kag_retention(rt: Runtime, now: datetime | None = None) -> dict[str, Any]:
    """Prune snapshots, signal/score history and process events, at most once per UTC day.

    The Redis guard ``kag:retention:<YYYY-MM-DD>`` makes later calls of the same day no-ops; it is
    released when the pruning fails so the next housekeeping run tries again. Redis down: the
    pruning runs anyway (it is idempotent; losing Redis only makes it run early).
    """
    now = now or clock()
    key = retention_guard_key(now)
    try:
        if not rt.redis.set(key, now.isoformat(), nx=True, ex=2 * 86_400):
            return {"skipped": "already_ran_today"}
    except RedisError:
        key = None
    cut = retention_cutoffs(now, kag_settings(rt))
    try:
        with rt.transaction() as s:
            counts = svc.prune_kag_history(session=s, snapshots_before=cut.snapshots_before,
                                           history_before=cut.history_before,
                                           process_events_before=cut.process_events_before)
    except Exception:
        if key is not None:
            with contextlib.suppress(RedisError):
                rt.redis.delete(key)
        raise
    return counts
