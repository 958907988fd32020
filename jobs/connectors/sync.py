"""The sync flow shared by the three connectors (platform §9.1).

The flow owns everything around the vendor calls: the effective mode (skip, never crash), the
``connector_sync_state`` row, error registration into the DLQ history, resolution on success and
the embeddings follow-up. Each connector supplies one *routine*
``routine(scope, external_id, state: dict, log) -> dict`` in ``ROUTINES`` (connectors-rag §3–§5).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from rq import get_current_job
from sqlalchemy.exc import IntegrityError

from jobs.context import current_run
from shared import dlq
from shared.db.service import connectors as svc
from shared.errors import ConfigurationError, JobSkipped, UnsupportedConnectorError, is_permanent
from shared.runtime import current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
Routine = Callable[[Scope, str, dict[str, Any], logging.Logger], dict[str, Any]]

ROUTINES: dict[str, str] = {
    "chatwoot": "jobs.connectors.chatwoot:sync_chatwoot",
    "attio": "jobs.connectors.attio:sync_attio",
    "linear": "jobs.connectors.linear:sync_linear",
}


def placeholder_routine(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """PLACEHOLDER until the connector's real routine is registered: fetches nothing, writes nothing."""
    return {"placeholder": True, "cursor_ts": None, "cursor_id": None}


DISCOVERY: dict[str, str] = {  # vendor-id discovery for unbound projects (connectors-rag §2)
    "attio": "jobs.connectors.attio:discover",
    "linear": "jobs.connectors.linear:discover",
}


def discover_external_id(connector: str, settings: Any, mode: svc.EffectiveMode) -> str | None:
    """``<C>_ACCOUNT/WORKSPACE_ID``, else (unbound with credentials) the vendor's own answer; never raises."""
    env_id = (settings.environ.get(svc.SUGGESTED_ID_ENV[connector]) or "").strip() or None
    if env_id or mode.reason != "source_not_bound" or connector not in DISCOVERY:
        return env_id
    module_name, _, attr = DISCOVERY[connector].partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)(settings)
    except Exception:  # noqa: BLE001 - a failed discovery leaves it null; the run is still skipped
        log.warning("vendor id discovery failed", extra={"fields": {"connector": connector}})
        return None


def routine_for(connector: str) -> Routine:
    target = ROUTINES.get(connector)
    if target is None:
        return placeholder_routine
    module_name, _, attr = target.partition(":")
    return getattr(importlib.import_module(module_name), attr)


def run_sync(connector: str, scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    if connector not in svc.CONNECTORS:
        raise UnsupportedConnectorError(f"unsupported connector {connector!r}")
    rt = current()
    settings = rt.settings
    with rt.transaction() as s:
        binding = svc.get_binding(session=s, scope=scope, connector=connector)
        external_id = binding.external_id if binding else None
        mode = svc.effective_mode(settings, connector, bound=binding is not None)
        if not mode.runs:
            discovered = discover_external_id(connector, settings, mode)
            svc.upsert_state(session=s, scope=scope, connector=connector, status="skipped", last_attempt_at=utcnow(),
                             meta={"skip_reason": mode.reason, "missing": list(mode.missing),
                                   "discovered_external_id": discovered})
        else:
            state = svc.upsert_state(session=s, scope=scope, connector=connector, status="running", mode=mode.mode,
                                     last_attempt_at=utcnow())
            state_view = {"cursor_ts": state.cursor_ts, "cursor_id": state.cursor_id,
                          "page_cursor": state.page_cursor, "meta": dict(state.meta or {})}
    if not mode.runs:  # raised after the commit, so the skipped state is kept
        raise JobSkipped(mode.reason or "skipped", {"missing": list(mode.missing), "effective_mode": mode.mode,
                                                    "discovered_external_id": discovered})
    try:
        if mode.mode == "mcp":
            raise ConfigurationError(f"{connector}_mcp_not_configured")
        result = routine_for(connector)(scope, external_id, state_view, log)
        event_log = derive_event_log(connector, scope, state_view, result)
    except Exception as exc:
        _record_failure(connector, mode.mode, scope, exc)
        raise
    with rt.transaction() as s:
        previous = svc.get_state(session=s, scope=scope, connector=connector)
        now = utcnow()
        svc.upsert_state(
            session=s, scope=scope, connector=connector, status="partial" if result.get("warnings") else "ok",
            retry_count=0, last_error=None, last_success_at=now, last_attempt_at=now,
            cursor_ts=result.get("cursor_ts") or previous.cursor_ts,
            cursor_id=result.get("cursor_id") or previous.cursor_id,
            page_cursor=result.get("page_cursor"),  # Linear keeps an open scan's cursor (connectors-rag §5.5)
            meta=_jsonable({k: v for k, v in result.items() if k not in ("cursor_ts", "cursor_id")})
            | {"synced_at": now.isoformat(), "event_log": event_log},
        )
        resolved = svc.resolve_errors(session=s, scope=scope, connector=connector)
    removed = _remove_failed_registry_entries(connector, scope)
    chunks = int(result.get("inserted_chunks", 0) or 0) + int(result.get("reembedded_chunks", 0) or 0)
    out = {"connector": connector, "mode": mode.mode, "result": _jsonable(result), "event_log": event_log,
           "resolved_errors": resolved,
           "removed_failed_jobs": removed, "follow_up": {"job_type": "embeddings_run"} if chunks > 0 else None}
    out.update({k: v for k, v in result.items() if k.startswith(("processed_", "touched_"))})
    return out


def derive_event_log(connector: str, scope: Scope, state: dict[str, Any], result: dict[str, Any]) -> dict[str, Any]:
    """Step 6: KAG domain events for ``since = state.cursor_ts or result.since``, ``until = result.cursor_ts
    or now`` (kag.md §5.1); idempotent (dedupe on ``(project_id, dedupe_key)``)."""
    from jobs.kag.handlers import connector_event_log_step

    return connector_event_log_step(scope, connector, since=state.get("cursor_ts") or result.get("since"),
                                    until=result.get("cursor_ts"))


def _record_failure(connector: str, mode: str, scope: Scope, exc: Exception) -> None:
    rq_job = get_current_job()
    run = current_run()
    permanent = is_permanent(exc)
    retries_left = bool(rq_job is not None and rq_job.retries_left and rq_job.retries_left > 0) and not permanent
    record_failure(connector, scope, f"{type(exc).__name__}: {exc}", mode=mode,
                   error_kind=getattr(exc, "error_kind", None) or "sync_failed", error_class=type(exc).__name__,
                   permanent=permanent, retries_left=retries_left, rq_job_id=rq_job.id if rq_job else None,
                   job_run_id=run.job_run_id if run else None)


def record_failure(connector: str, scope: Scope, message: str, *, error_kind: str, mode: str | None = None,
                   error_class: str | None = None, permanent: bool = False, retries_left: bool = False,
                   rq_job_id: str | None = None, job_run_id: int | None = None) -> None:
    """Platform §9.1 step 8: the ``connector_errors`` row (§9.4) and the failed state, one transaction.

    Also used by orphan recovery for a sync lost with its worker (``error_kind = "worker_lost"``).
    """
    rt = current()
    mode = mode or rt.settings.connector_mode_for(connector)
    for _ in range(2):  # a concurrent insert of the same open error: retry the transaction once
        try:
            with rt.transaction() as s:
                svc.register_error(
                    session=s, scope=scope, connector=connector, mode=mode, message=message, permanent=permanent,
                    retries_left=retries_left, source_ref=connector, error_kind=error_kind,
                    payload={"connector": connector, "mode": mode, "error_class": error_class or error_kind,
                             "job_run_id": job_run_id},
                    rq_job_id=rq_job_id, job_run_id=job_run_id,
                )
                state = svc.get_state(session=s, scope=scope, connector=connector)
                svc.upsert_state(session=s, scope=scope, connector=connector, status="failed",
                                 retry_count=(state.retry_count if state else 0) + 1,
                                 last_error=message[:2000], last_attempt_at=utcnow())
            return
        except IntegrityError:
            continue


def _remove_failed_registry_entries(connector: str, scope: Scope) -> int:
    """On success, this project's entries for the connector leave the FailedJobRegistry (§9.5)."""
    try:
        return dlq.remove_project_entries(current().redis, connector, scope.project_id)
    except Exception:  # noqa: BLE001 - the registry is transport; the database row is the record
        log.warning("could not clean the failed registry", extra={"fields": {"connector": connector}})
        return 0


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def chatwoot_sync(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    return run_sync("chatwoot", scope, params, log)


def attio_sync(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    return run_sync("attio", scope, params, log)


def linear_sync(scope: Scope, params: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    return run_sync("linear", scope, params, log)
