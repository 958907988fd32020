"""KAG v1 job handlers (kag.md §4–§10, §15): read, call the pure core, write, return counts.

| job_type | queue | stages |
|---|---|---|
| `kag_event_log_sync` | kag_signals | §5.1 for one connector and an explicit window (backfill) |
| `kag_recommendations_refresh` | kag_signals | ingest §4.2 → signals §6 → scoring §7 → recommendations v1 §9 → chain |
| `signals_extraction` | intelligence | legacy signals and next best actions §10 |

Every handler runs inside the KAG decorator (`handlers_common.kag_stage`: `process_started/finished/
failed/warning` rows with durations and counters) inside the platform wrapper (lock, `KAG_ENABLED`
gate, follow-up enqueue). Each stage reads in a short session, computes with no transaction open and
writes in **one** transaction of its own, tenacity-retried on operational errors (§15), so a later
failure never undoes an earlier stage and a re-run is safe. `sync_connector_event_log` is also called
inline by the connector sync flow (platform §9.1 step 6).

Decisions where the spec is silent:
- `RECOMMENDATIONS_ENABLED` off: the v1 stage is not run (`touched_recommendations: 0`,
  `generated_recommendations: 0`) and the result keeps every key.
- The signal stage reads at most 10 batches of 1000 pending graph events; when more are pending it
  counts them and warns `event_backlog` with the true number left.
- `client_silent_started` looks at every conversation of the project (its last team / client message
  over all stored non-private messages up to `until`), so a conversation silent since before the
  window is still found; the dedupe key makes the event once-only.
- Legacy CRM signals carry `opportunity_id` / `account_id` of the `crm_opportunities` row.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from jobs.kag import handlers_common
from jobs.kag.context import project_context
from jobs.kag.event_log_sync import clamp_limit, derive_connector_events, resolve_window
from jobs.kag.events_log import KagWarning
from jobs.kag.evidence import provenance_rows
from jobs.kag.handlers_common import StageRun, kag_stage
from jobs.kag.ingest import MAX_ROWS_PER_SOURCE, PROJECT_REF, ingest_rows, sender_kind, window_start
from jobs.kag.legacy import legacy_signal_candidates, nba_for_signal
from jobs.kag.pipeline import follow_up, follow_up_chain
from jobs.kag.recommendations_v1 import generate_v1_recommendations
from jobs.kag.scores import compute_scores
from jobs.kag.signals import BATCH_SIZE, MAX_BATCHES, SignalState, process_events
from jobs.kag.timeutil import parse_ts, utc_date
from jobs.kag.vocab import CONNECTORS, JOB_EVENT_LOG_SYNC, JOB_LEGACY_SIGNALS, JOB_REFRESH, WarningCode
from shared.db.service import kag as svc
from shared.db.service import kag_v2 as v2svc
from shared.errors import JobValidationError
from shared.retry import retry_db
from shared.runtime import Runtime, current
from shared.scope import Scope
from shared.timeutil import utcnow

log = logging.getLogger(__name__)
LEGACY_MESSAGE_DAYS = 14
LEGACY_MAX_MESSAGES = 600


# --- §5.1 domain events -------------------------------------------------------------------------------
def sync_connector_event_log(rt: Runtime, scope: Scope, connector: str, *, since: Any = None, until: Any = None,
                             limit: Any = None, now: datetime | None = None) -> dict[str, Any]:
    """Derive and insert one connector's domain events for a window; idempotent (dedupe on insert).

    ``since`` = explicit, else the connector's cursor, else ``now − KAG_EVENT_LOG_LOOKBACK_DAYS``;
    ``until`` = explicit or ``now``. Unknown connector → ``{connector, inserted: 0}``.
    """
    now = now or utcnow()
    if connector not in CONNECTORS:
        return {"connector": connector, "inserted": 0}

    def read() -> dict[str, Any]:
        with rt.session() as s:
            cursor = None if since else svc.connector_cursor(session=s, scope=scope, connector=connector)
            window = resolve_window(now, since=since, until=until, cursor=cursor,
                                    lookback_days=rt.settings.kag_event_log_lookback_days)
            out: dict[str, Any] = {"window": window}
            n = clamp_limit(limit)
            if connector == "chatwoot":
                out["messages"] = svc.window_messages(session=s, scope=scope, since=window.since,
                                                      until=window.until, limit=n)
                out["conversation_activity"] = _conversation_activity(
                    svc.conversation_senders(session=s, scope=scope, until=window.until))
            elif connector == "linear":
                out["issues"] = svc.window_issues(session=s, scope=scope, since=window.since, until=window.until,
                                                  limit=n)
                out["last_block_state"] = svc.last_block_state(
                    session=s, scope=scope, issue_refs=[str(i.external_id or i.id) for i in out["issues"]])
            else:
                out["deals"] = svc.window_deals(session=s, scope=scope, since=window.since, until=window.until,
                                                limit=n)
                out["activities"] = svc.window_activities(session=s, scope=scope, since=window.since,
                                                          until=window.until, limit=n)
                out["last_deal_stage"] = svc.last_deal_stage(
                    session=s, scope=scope, deal_refs=[str(d.external_id or d.id) for d in out["deals"]])
            return out

    inputs = retry_db(read, operation="kag.event_log.read")
    window = inputs.pop("window")
    derived = derive_connector_events(connector, window, limit=limit, **inputs)

    def write() -> int:
        with rt.transaction() as s:
            return svc.insert_event_log(session=s, scope=scope, rows=[r.to_row() for r in derived.rows], now=now)

    return derived.result(retry_db(write, operation="kag.event_log.write"))


def _conversation_activity(rows: list[Any]) -> list[dict[str, Any]]:
    """Per conversation: the last team and the last client message time (sender mapping of §4.2)."""
    out: dict[str, dict[str, Any]] = {}
    for conversation, sender_type, last_at in rows:
        kind = sender_kind(sender_type)
        if kind not in ("client", "team"):
            continue
        slot = out.setdefault(str(conversation), {"conversation_global_id": str(conversation),
                                                  "last_team_at": None, "last_client_at": None})
        name = "last_team_at" if kind == "team" else "last_client_at"
        if last_at is not None and (slot[name] is None or last_at > slot[name]):
            slot[name] = last_at
    return list(out.values())


@kag_stage(JOB_EVENT_LOG_SYNC)
def kag_event_log_sync(run: StageRun) -> dict[str, Any]:
    connector = str(run.params.get("connector") or "").strip().lower()
    for name in ("since_ts", "until_ts"):
        raw = run.params.get(name)
        if raw not in (None, "") and parse_ts(raw) is None:
            raise JobValidationError(f"{name} must be an ISO-8601 timestamp")
    return sync_connector_event_log(run.rt, run.scope, connector, since=run.params.get("since_ts"),
                                    until=run.params.get("until_ts"), limit=run.params.get("limit"), now=run.now)


# --- §4.2 ingest ----------------------------------------------------------------------------------------
def run_ingest(run: StageRun) -> dict[str, Any]:
    lookback = run.rt.settings.kag_event_log_lookback_days

    def read() -> dict[str, Any]:
        with run.rt.session() as s:
            cursors = svc.ingest_cursors(session=s, scope=run.scope)

            def since(source: str) -> datetime:
                return window_start(cursors.get(source), run.now, lookback)

            messages = svc.changed_messages(session=s, scope=run.scope, since=since("chatwoot_messages"),
                                            limit=MAX_ROWS_PER_SOURCE)
            issues = svc.changed_issues(session=s, scope=run.scope, since=since("linear_issues"),
                                        limit=MAX_ROWS_PER_SOURCE)
            deals = svc.changed_deals(session=s, scope=run.scope, since=since("attio_deals"),
                                      limit=MAX_ROWS_PER_SOURCE)
            refs = [f"blocker:blocker:{i.external_id or i.id}" for i in issues]
            for d in deals:
                refs += [f"deal:{d.external_id or d.id}", f"finance_entry:finance:{d.external_id or d.id}"]
            project = v2svc.project_for(session=s, scope=run.scope)
            return {"cursors": cursors, "messages": messages, "linear_issues": issues, "deals": deals,
                    "chunk_ids_by_message": svc.chunk_ids_by_message(session=s, scope=run.scope,
                                                                     message_ids=[m.id for m in messages]),
                    "prior_nodes": svc.nodes_by_ref(session=s, scope=run.scope, refs=refs),
                    "project_name": project.name if project else None}

    batch = ingest_rows(now=run.now, **retry_db(read, operation="kag.ingest.read"))

    def write() -> dict[str, Any]:
        with run.rt.transaction() as s:
            ids = svc.upsert_nodes(session=s, scope=run.scope, rows=batch.node_rows(), now=run.now)
            missing = {r for e in batch.edges for r in (e.from_ref, e.to_ref)} - ids.keys() - {PROJECT_REF}
            ids |= {ref: n.id for ref, n in svc.nodes_by_ref(session=s, scope=run.scope, refs=missing).items()}
            edge_rows = batch.edge_rows(ids)
            edge_ids = svc.upsert_edges(session=s, scope=run.scope, rows=edge_rows, now=run.now)
            events = svc.insert_events(session=s, scope=run.scope, rows=batch.event_rows(ids), now=run.now)
            provenance = [p for n in batch.nodes if n.ref in ids
                          for p in provenance_rows("node", str(ids[n.ref]), n.source_refs)]
            provenance += [p for row, edge_id in zip(edge_rows, edge_ids, strict=True)
                           for p in provenance_rows("edge", str(edge_id), row["source_refs"])]
            provenance += [p for e in batch.events if e.dedupe_key in events
                           for p in provenance_rows("event", str(events[e.dedupe_key]), e.source_refs)]
            written = svc.insert_provenance(session=s, scope=run.scope, rows=provenance, now=run.now)
            svc.save_ingest_cursors(session=s, scope=run.scope, cursors=batch.cursors, now=run.now)
            return batch.result(nodes_upserted=len(ids), edges_upserted=len(edge_ids), events_inserted=len(events),
                                provenance_inserted=written)

    result = retry_db(write, operation="kag.ingest.write")
    for warning in batch.warnings:
        run.warn(warning)
    return result


# --- §6 signals -------------------------------------------------------------------------------------------
def run_signals(run: StageRun) -> dict[str, Any]:
    def read() -> tuple[SignalState, list[Any], int]:
        with run.rt.session() as s:
            last_id, payload = svc.signal_state(session=s, scope=run.scope)
            state = SignalState.from_payload(payload)
            state.last_event_id = max(state.last_event_id, last_id)
            events: list[Any] = []
            after = state.last_event_id
            for _ in range(MAX_BATCHES):
                batch = svc.pending_events(session=s, scope=run.scope, after_id=after, limit=BATCH_SIZE)
                events += batch
                if len(batch) < BATCH_SIZE:
                    return state, events, 0
                after = batch[-1].id
            return state, events, svc.count_pending_events(session=s, scope=run.scope, after_id=after)

    state, events, backlog = retry_db(read, operation="kag.signals.read")
    result = process_events(state, events, run.now)
    if backlog:
        run.warn(KagWarning(WarningCode.EVENT_BACKLOG, f"{backlog} pending graph events left for the next run",
                            {"pending": backlog, "processed": len(result.processed_event_ids),
                             "last_event_id": result.state.last_event_id}))
    for warning in result.warnings:
        run.warn(warning)

    def write() -> int:
        with run.rt.transaction() as s:
            return svc.save_signal_run(
                session=s, scope=run.scope, state_payload=result.state.to_payload(),
                last_event_id=result.state.last_event_id, signals=[r.to_row() for r in result.signals],
                history=[r.history_row() for r in result.signals], processed_event_ids=result.processed_event_ids,
                now=run.now)

    retry_db(write, operation="kag.signals.write")
    return {**result.result(), "state": result.state}


# --- §7 scores --------------------------------------------------------------------------------------------
def run_scoring(run: StageRun, state: SignalState) -> int:
    def read() -> list[Any]:
        with run.rt.session() as s:
            return svc.stored_signals(session=s, scope=run.scope)

    scores = compute_scores(retry_db(read, operation="kag.scores.read"), state, run.now)

    def write() -> int:
        with run.rt.transaction() as s:
            return svc.save_scores(session=s, scope=run.scope, scores=[r.to_row() for r in scores],
                                   history=[r.history_row() for r in scores], now=run.now)

    retry_db(write, operation="kag.scores.write")
    return len(scores)


# --- §9 recommendations v1 ----------------------------------------------------------------------------------
def run_recommendations_v1(run: StageRun, state: SignalState) -> dict[str, Any]:
    def read() -> tuple[Any, ...]:
        with run.rt.session() as s:
            return (svc.stored_signals(session=s, scope=run.scope), svc.stored_scores(session=s, scope=run.scope),
                    v2svc.project_for(session=s, scope=run.scope), v2svc.crm_accounts(session=s, scope=run.scope),
                    v2svc.templates(session=s, scope=run.scope))

    signals, scores, project, accounts, templates = retry_db(read, operation="kag.v1.read")
    generated = generate_v1_recommendations(signals, scores, state, project_context(project, accounts), run.now,
                                            templates=templates)

    def write() -> int:
        with run.rt.transaction() as s:
            return svc.upsert_recommendations(session=s, scope=run.scope,
                                              rows=[r.to_row() for r in generated.recommendations], now=run.now)

    touched = retry_db(write, operation="kag.v1.write")
    run.warn(generated.warning)
    return generated.result(touched)


@kag_stage(JOB_REFRESH)
def kag_recommendations_refresh(run: StageRun) -> dict[str, Any]:
    ingest = run_ingest(run)
    signals = run_signals(run)
    touched_scores = run_scoring(run, signals["state"])
    enabled = run.settings.recommendations_enabled
    v1 = run_recommendations_v1(run, signals["state"]) if enabled else {"generated": 0, "touched": 0}
    return {"enabled": True, "recommendations_enabled": enabled,
            "processed_events": signals["processed_events"], "touched_signals": signals["touched_signals"],
            "touched_scores": touched_scores, "touched_recommendations": v1["touched"],
            "generated_recommendations": v1["generated"], "last_event_id": signals["last_event_id"],
            "ingest": ingest, "follow_up": follow_up(follow_up_chain(run.settings))}


# --- §10 legacy signals and next best actions ------------------------------------------------------------------
@kag_stage(JOB_LEGACY_SIGNALS)
def signals_extraction(run: StageRun) -> dict[str, Any]:
    def read() -> tuple[list[Any], ...]:
        with run.rt.session() as s:
            return (svc.recent_messages(session=s, scope=run.scope,
                                        since=run.now - timedelta(days=LEGACY_MESSAGE_DAYS), limit=LEGACY_MAX_MESSAGES),
                    svc.overdue_open_issues(session=s, scope=run.scope, today=utc_date(run.now)),
                    svc.opportunities_without_next_step(session=s, scope=run.scope))

    messages, issues, opportunities = retry_db(read, operation="kag.legacy.read")
    candidates, dropped = legacy_signal_candidates(run.scope.project_id, messages=messages, linear_issues=issues,
                                                   opportunities=opportunities, now=run.now)
    by_opportunity = {str(o.id): o for o in opportunities}
    rows: dict[str, dict[str, Any]] = {}  # one row per dedupe key (a statement may not touch a row twice)
    for c in candidates:
        opp = by_opportunity.get(c.source_ref) if c.source_kind == "crm" else None
        rows.setdefault(c.dedupe_key, {**c.to_row(), "opportunity_id": opp.id if opp else None,
                                       "account_id": opp.account_id if opp else None})

    def write() -> tuple[int, int]:
        with run.rt.transaction() as s:
            signals = svc.upsert_legacy_signals(session=s, scope=run.scope, rows=list(rows.values()), now=run.now)
            nbas = [n.to_row() for n in (nba_for_signal(run.scope.project_id, r._mapping) for r in signals) if n]
            return len(signals), svc.upsert_nbas(session=s, scope=run.scope, rows=nbas, now=run.now)

    touched_signals, touched_nba = retry_db(write, operation="kag.legacy.write")
    if dropped:
        run.warn(KagWarning(WarningCode.NO_EVIDENCE_DROPPED, f"{dropped} legacy signal candidate(s) without evidence",
                            {"stage": "signals_extraction", "dropped": {"legacy_signal": dropped}}))
    return {"generated_candidates": len(candidates), "touched_signals": touched_signals, "touched_nba": touched_nba}


def connector_event_log_step(scope: Scope, connector: str, *, since: Any, until: Any) -> dict[str, Any]:
    """Platform §9.1 step 6 as the connector sync flow calls it (the worker's runtime, a fresh `now`)."""
    return sync_connector_event_log(current(), scope, connector, since=since, until=until,
                                    now=handlers_common.clock())
