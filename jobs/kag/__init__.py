"""KAG computational core (spec: kag.md) — pure functions, no database, Redis, RQ or Flask.

One module per stage; each takes row-like inputs (dicts, dataclasses, SQLAlchemy rows) and `now`
and returns rows to upsert with deterministic natural keys, so re-running a stage on unchanged
inputs changes nothing. Thin job handlers (wiring phase) read, call, write.

| module | spec | produces / consumes |
|---|---|---|
| `vocab`, `settings`, `errors` | §2, §4.1, §14.2 | vocabularies, flags, `InvalidStatus`/`InvalidTransition` |
| `evidence` | §3 | evidence refs, links, provenance rows, the evidence gate |
| `ingest` | §4.2 | `kag_nodes`, `kag_edges`, `kag_events`, `kag_ingest_cursors` |
| `event_log_sync`, `events_log` | §5.1, §5.2 | `kag_event_log` (domain / process rows) |
| `signals` | §6 | `kag_signal_state`, `kag_signals`, `kag_signal_history` |
| `scores` | §7 | `kag_scores`, `kag_score_history` |
| `templates`, `context` | §8 | template bodies and rendering |
| `recommendations_v1` | §9 | `kag_recommendations` |
| `legacy` | §10 | `signals`, `next_best_actions` |
| `snapshots` | §11 | `project_snapshots`, `past_case_outcomes`, retention |
| `similarity` | §12 | `case_signatures`, similar cases |
| `forecast` | §13 | `kag_risk_forecasts` |
| `recommendations_v2` | §14 | `recommendations_v2` |
| `pipeline` | §2, §15, §17 | follow-up chain, `evaluate_project` |

The job handlers (the wiring: read through `shared.db.service.kag` / `kag_v2`, call the core, write)
are `handlers` (v1: `kag_event_log_sync`, `kag_recommendations_refresh`, `signals_extraction`, and
`sync_connector_event_log` for the connector sync flow) and `handlers_v2`, both on the process-event
decorator of `handlers_common`.

What the web process and the services also need is defined once in `shared.kag` (web and shared never
import `jobs`) and re-exported by the core: the error classes (`errors`), the v2 lifecycle, feedback
and `snapshot_date` parsing (`shared.kag.lifecycle`), the similar-case ranking (`shared.kag.similarity`)
and the leaf helpers `rounding`, `rows`, `timeutil`, `keys`.
"""
