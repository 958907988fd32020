"""Job handlers of business.md Part A: ``daily_digest``, ``weekly_digest``, ``health_scoring`` and
``analytics_aggregates`` (registered in ``jobs.runner.HANDLERS``).

Each handler is glue: one transaction (retried on operational DB errors, platform §9.6) that reads
through ``shared.db.service``, calls the pure functions beside it (``digests``, ``health``,
``analytics``), writes keyed upserts and, for user-triggered runs, the route's domain audit row
(actor = ``requested_by``, the original request id). Re-running is safe: digests and snapshots are
upserts on their day/week/period keys, risk rows are upserted, only the health history grows.

Infrastructure is imported inside the handlers: importing ``jobs.business`` must load no database,
Redis or RQ code (``tests/unit/business/test_layering.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from typing import Any, TypeVar

from jobs.business import analytics, digests, health
from jobs.business.handlers_growth import Origin, run_origin
from shared.business.analytics import parse_period_days
from shared.business.dates import period_window, utc_date, week_start
from shared.errors import JobValidationError
from shared.scope import Scope

T = TypeVar("T")


def _transaction(fn: Callable[[Any], T]) -> T:
    from shared.retry import retry_db
    from shared.runtime import current

    def unit() -> T:
        with current().transaction() as s:
            return fn(s)

    return retry_db(unit, operation="business job write")


def _param_date(params: dict[str, Any], key: str, default: date) -> date:
    raw = params.get(key)
    if raw in (None, ""):
        return default
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        raise JobValidationError(f"{key} must be a YYYY-MM-DD date, got {raw!r}") from None


def _audit(s: Any, scope: Scope, origin: Origin, action: str, entity: tuple[str, str], payload: dict[str, Any],
           evidence_refs: list[Any] | None = None) -> None:
    if not origin.user_triggered:
        return
    from shared.audit import write_audit_event
    from shared.business.evidence import normalize_evidence_refs

    write_audit_event(s, scope, actor_username=origin.actor, action=action, entity_type=entity[0],
                      entity_id=entity[1], request_id=origin.request_id, payload=payload,
                      evidence_refs=normalize_evidence_refs(list(evidence_refs or [])))


def daily_digest(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """§A3.1: highlights and top NBAs of ``digest_date`` (fixed at acceptance), upserted on the date."""
    from shared.db.service import business_inputs as inputs
    from shared.db.service import digests as svc
    from shared.timeutil import utcnow

    now, origin = utcnow(), run_origin()
    digest_date = _param_date(params, "digest_date", utc_date(now))

    def write(s: Any) -> dict[str, Any]:
        digest = digests.build_daily_digest(
            project_id=scope.project_id, account_scope_id=scope.account_scope_id, generated_at=now,
            proposed_signals=inputs.count_signals(s, scope, status="proposed"),
            overdue_issues=inputs.issue_counts(s, scope, today=digest_date)["overdue"],
            outbound_counts=inputs.outbound_counts(s, scope),
            nbas=inputs.open_nbas(s, scope, limit=digests.DAILY_NBA_LIMIT))
        svc.upsert_daily(session=s, scope=scope, digest_date=digest_date, summary=digest.summary,
                         evidence_refs=digest.evidence_refs, now=now)
        _audit(s, scope, origin, "digest.daily.generate", ("daily_digest", digest_date.isoformat()),
               {"digest_date": digest_date.isoformat()}, digest.evidence_refs)
        return digest.job_result("digest_date", digest_date)

    return _transaction(write)


def weekly_digest(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """§A3.2: the latest stored analytics and risk snapshots plus open NBAs, upserted on the week."""
    from shared.db.service import analytics as analytics_svc
    from shared.db.service import business_inputs as inputs
    from shared.db.service import digests as svc
    from shared.db.service import risk as risk_svc
    from shared.timeutil import utcnow

    now, origin = utcnow(), run_origin()
    monday = week_start(_param_date(params, "week_start", utc_date(now)))

    def write(s: Any) -> dict[str, Any]:
        digest = digests.build_weekly_digest(
            project_id=scope.project_id, account_scope_id=scope.account_scope_id, generated_at=now,
            open_pipeline=digests.count_open_pipeline(o["stage"] for o in inputs.attio_opportunities(s, scope)),
            analytics_overview=analytics_svc.analytics_overview(session=s, scope=scope),
            risk_overview=risk_svc.risk_overview(session=s, scope=scope),
            nbas=inputs.open_nbas(s, scope, limit=digests.WEEKLY_NBA_LIMIT))
        svc.upsert_weekly(session=s, scope=scope, week_start=monday, summary=digest.summary,
                          evidence_refs=digest.evidence_refs, now=now)
        _audit(s, scope, origin, "digest.weekly.generate", ("weekly_digest", monday.isoformat()),
               {"week_start": monday.isoformat()}, digest.evidence_refs)
        return digest.job_result("week_start", monday)

    return _transaction(write)


def health_scoring(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """§A4.1: pressures from active signals, overdue issues and recent failed runs; score history,
    composite radar item and pattern upserts."""
    from shared.db.service import business_inputs as inputs
    from shared.db.service import risk as svc
    from shared.timeutil import utcnow

    now, origin = utcnow(), run_origin()

    def write(s: Any) -> dict[str, Any]:
        result = health.compute_health(
            signals=inputs.active_signals(s, scope, limit=health.SIGNAL_LIMIT),
            overdue=inputs.issue_counts(s, scope, today=utc_date(now))["overdue"],
            failed_jobs=inputs.recent_failed_jobs(s, scope, now=now))
        svc.record_health(
            session=s, scope=scope, score=result.health_score, factors=result.factors, now=now,
            radar=health.plan_composite_radar(svc.composite_radar_status(session=s, scope=scope), result, now=now),
            pattern=health.plan_pattern(svc.pattern_status(session=s, scope=scope), result, now=now))
        _audit(s, scope, origin, "risk.refresh", ("risk_pattern", str(scope.project_id)), result.job_result())
        return result.job_result()

    return _transaction(write)


def analytics_aggregates(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """§A5.1: delivery, comms and revenue snapshots for ``period_days`` ending today (UTC)."""
    from shared.db.service import analytics as svc
    from shared.db.service import business_inputs as inputs
    from shared.timeutil import utcnow

    now, origin = utcnow(), run_origin()
    today, period_days = utc_date(now), parse_period_days(params.get("period_days"))
    since = datetime.combine(period_window(period_days, today)[0], time.min, tzinfo=UTC)

    def write(s: Any) -> dict[str, Any]:
        result = analytics.compute_analytics(
            today=today, period_days=period_days, messages=inputs.window_messages(s, scope, since=since),
            issues=inputs.issue_rows(s, scope), opportunities=inputs.attio_opportunities(s, scope))
        svc.store_snapshots(session=s, scope=scope, delivery=result.delivery_snapshot(),
                            comms=result.comms_snapshot(), revenue=result.revenue_snapshots(), now=now)
        _audit(s, scope, origin, "analytics.refresh", ("analytics_snapshot", str(scope.project_id)),
               result.job_result())
        return result.job_result()

    return _transaction(write)
