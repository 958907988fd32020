"""Job handlers of business.md Part B: ``upsell_radar``, ``continuity_preview``, ``identity_suggestions``,
``campaign_scheduler`` and ``loops_contacts_sync`` (registered in ``jobs.runner.HANDLERS``).

Each handler is glue: read with its own session, call the pure functions of ``jobs/business`` and
``shared/business``, write in one transaction (retried on operational DB errors), return the job
result. User-triggered runs (``manual``/``retry``) also write the route's domain audit row in that
transaction; ``outbound.*`` and ``loops.contacts_sync`` audits are part of the action and are written
for scheduled runs too, with actor ``scheduler``.

Infrastructure (runtime, services, HTTP) is imported inside the handlers: importing ``jobs.business``
must load no database, Redis or RQ code (``tests/unit/business/test_layering.py``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from jobs.business import continuity, upsell
from jobs.business import identity_suggestions as identity_rules
from jobs.business.campaigns import CampaignTally, is_due
from jobs.business.loops import DEFAULT_SOURCE_TAG as LOOPS_DEFAULT_SOURCE
from jobs.business.loops import (
    LoopsTally,
    api_base_url,
    exclude_opted_out,
    group_contacts,
    is_conflict_error,
    missing_credentials_result,
    split_unsendable,
)
from shared.business.loops import parse_loops_request, resolve_loops_projects
from shared.business.outbound import parse_process_limit
from shared.business.params import parse_lenient_int
from shared.scope import Scope


@dataclass(frozen=True)
class Origin:
    """Who asked for the run: the trigger, the actor for audit rows and the original request id."""

    trigger: str
    actor: str | None
    request_id: str | None

    @property
    def user_triggered(self) -> bool:
        return self.trigger in ("manual", "retry")


def run_origin() -> Origin:
    """The current run's trigger, actor (``scheduler`` for scheduled runs) and request id."""
    from jobs.context import current_run
    from shared.db.models.platform import JobRun
    from shared.runtime import current

    ctx = current_run()
    run = None
    if ctx is not None:
        with current().session() as s:
            run = s.get(JobRun, ctx.job_run_id)
    if run is None:  # called outside the wrapper (tests, shell)
        return Origin("manual", None, None)
    actor = "scheduler" if run.trigger == "scheduler" else run.requested_by
    return Origin(run.trigger, actor, run.request_id)


def _in_transaction(fn: Any) -> Any:
    """Run ``fn(session)`` in one transaction, retried on operational DB errors (platform §9.6)."""
    from shared.retry import retry_db
    from shared.runtime import current

    def unit() -> Any:
        with current().transaction() as s:
            return fn(s)

    return retry_db(unit, operation="db write")


def upsell_radar(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    from shared import timeutil
    from shared.db.service import upsell as svc
    from shared.runtime import current

    now, origin = timeutil.utcnow(), run_origin()
    with current().session() as s:
        messages = svc.recent_messages(session=s, scope=scope, now=now, limit=upsell.MESSAGE_LIMIT)
        opportunities = svc.recent_attio_opportunities(session=s, scope=scope, limit=upsell.OPPORTUNITY_LIMIT)
    candidates = upsell.detect_upsell_candidates(project_id=scope.project_id, messages=messages,
                                                 opportunities=opportunities, now=now)

    def write(s: Any) -> dict[str, Any]:
        touched = svc.upsert_candidates(session=s, scope=scope, candidates=candidates, now=now, plan=lambda row, c:
                                        upsell.plan_upsell_upsert(row, c, project_id=scope.project_id))
        result = {"generated_candidates": len(candidates), "touched": touched}
        if origin.user_triggered:
            svc.write_refresh_audit(session=s, scope=scope, result=result, actor=origin.actor,
                                    request_id=origin.request_id)
        return result

    return _in_transaction(write)


def continuity_preview(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    from shared import timeutil
    from shared.db.service import continuity as svc
    from shared.db.service.upsell import recent_messages
    from shared.runtime import current

    now, origin = timeutil.utcnow(), run_origin()
    actor = origin.actor or "scheduler"
    with current().session() as s:
        opportunities = svc.open_crm_opportunities(session=s, scope=scope, limit=continuity.OPPORTUNITY_LIMIT)
        messages = recent_messages(session=s, scope=scope, now=now, limit=continuity.MESSAGE_LIMIT)
    candidates = continuity.detect_continuity_candidates(opportunities=opportunities, messages=messages, now=now)

    def write(s: Any) -> dict[str, Any]:
        touched = svc.upsert_previews(session=s, scope=scope, candidates=candidates, actor=actor, now=now,
                                      plan=lambda status, c: continuity.plan_continuity_upsert(
                                          status, c, project_id=scope.project_id, actor=actor))
        if origin.user_triggered:
            svc.write_preview_audit(session=s, scope=scope, touched=touched, actor=origin.actor,
                                    request_id=origin.request_id)
        return {"touched": len(touched), "action_ids": [str(row.id) for row in touched]}

    return _in_transaction(write)


def identity_suggestions(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    from shared import timeutil
    from shared.db.service import identity as svc
    from shared.runtime import current

    now, origin = timeutil.utcnow(), run_origin()
    limit = parse_lenient_int(params.get("limit"), default=100, lo=1, hi=200)
    with current().session() as s:
        inputs = svc.identity_inputs(session=s, scope=scope)
    build = identity_rules.build_suggestions(limit=limit, **inputs)

    def write(s: Any) -> dict[str, Any]:
        stored = svc.upsert_suggestions(session=s, scope=scope, candidates=build.candidates, now=now,
                                        plan=identity_rules.plan_suggestion_upsert)
        result = {"generated": build.generated, "stored": stored}
        if origin.user_triggered:
            svc.write_preview_audit(session=s, scope=scope, result=result, actor=origin.actor,
                                    request_id=origin.request_id)
        return result

    return _in_transaction(write)


def campaign_scheduler(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Send every due message, each in its own transaction; one failure never aborts the batch."""
    from shared import timeutil
    from shared.db.service import outbound as svc
    from shared.errors import KeelError
    from shared.runtime import current

    rt, origin = current(), run_origin()
    actor = origin.actor or "scheduler"
    limit = parse_process_limit(params.get("limit"))
    with rt.session() as s:
        due = svc.due_outbound_ids(session=s, scope=scope, now=timeutil.utcnow(), limit=limit)
    tally = CampaignTally()
    for outbound_id in due:
        now = timeutil.utcnow()
        try:
            with rt.transaction() as s:
                result = svc.send_outbound(session=s, scope=scope, outbound_id=outbound_id, actor=actor,
                                           request_id=origin.request_id, now=now,
                                           only_if=lambda row, now=now: is_due(row, now=now))
        except KeelError as exc:  # busy, gone or no longer sendable: nothing was written
            log.info("campaign message not sent", extra={"fields": {"outbound_id": str(outbound_id),
                                                                    "error": exc.code}})
            tally.record(False)
            continue
        if not result.skipped:
            tally.record(result.sent)
    return tally.job_result()


def loops_contacts_sync(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Push the selected projects' contact emails to Loops; opted-out emails never leave the system."""
    from jobs.connectors.loops import LoopsClient
    from shared.db.service import loops as svc
    from shared.errors import JobSkipped
    from shared.runtime import current

    rt = current()
    env = rt.settings.environ
    secret = (env.get("LOOPS_SECRET_KEY") or "").strip()
    if not secret:
        details = missing_credentials_result()
        raise JobSkipped(details.pop("skipped"), details)
    origin, request = run_origin(), parse_loops_request(params)
    with rt.session() as s:
        projects = svc.scope_projects(session=s, account_scope_id=scope.account_scope_id)
        selected = resolve_loops_projects(request.project_ids, projects)
        contacts = svc.contacts_with_email(session=s, account_scope_id=scope.account_scope_id, project_ids=selected)
        opted_out = svc.opted_out_email_refs(session=s, account_scope_id=scope.account_scope_id,
                                             project_ids=selected)
    tally = LoopsTally()
    if not selected:
        return tally.job_result([])
    kept, excluded = exclude_opted_out(group_contacts(contacts, limit=request.limit), opted_out)
    sendable, tally.skipped = split_unsendable(kept)
    tally.excluded = len(excluded)
    source = (env.get("LOOPS_SOURCE_TAG") or "").strip() or LOOPS_DEFAULT_SOURCE
    with LoopsClient(api_base_url(env.get("LOOPS_API_BASE_URL")), secret,
                     max_attempts=rt.settings.connector_http_max_attempts,
                     retry_after_max=rt.settings.connector_retry_after_max_seconds) as client:
        for contact in sendable:
            _push(client, contact.body(source_tag=source), contact.email, tally)
    log.info("loops sync done", extra={"fields": {"processed": tally.processed, "failed": tally.failed,
                                                  "excluded_opted_out": tally.excluded}})
    _in_transaction(lambda s: svc.write_sync_audits(
        session=s, account_scope_id=scope.account_scope_id, project_ids=selected, status=tally.audit_status,
        payload=tally.audit_payload(selected), actor=origin.actor or "scheduler", request_id=origin.request_id))
    return tally.job_result(selected)


def _push(client: Any, body: dict[str, Any], email: str, tally: LoopsTally) -> None:
    """Create, or update when Loops says the contact exists; any other error counts as failed."""
    from shared.errors import TransientError, UpstreamClientError

    try:
        client.create(body)
        tally.created += 1
        return
    except (UpstreamClientError, TransientError) as exc:
        if not is_conflict_error(str(exc)):
            tally.fail(email, str(exc))
            return
    try:
        client.update(body)
        tally.updated += 1
    except (UpstreamClientError, TransientError) as exc:
        tally.fail(email, str(exc))
