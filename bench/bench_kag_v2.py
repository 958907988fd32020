"""Benchmark: KAG v2 similarity rebuild and risk forecast for 1,000 projects; nearest-case query p95 (issue 7).

A private PostgreSQL database (migrated) and Redis db number; N projects (default 1,000) in **one**
account scope — the worst case for similar-case search, since every project's candidates are the
newest 300 of the other 999. Each project gets a simulated 21-day history run through the real
signal engine day by day: stored `kag_signals`/`kag_scores`, 21 daily `project_snapshots` with
their derived `past_case_outcomes`, ~60–150 domain `kag_event_log` rows and two Attio deals.

Measured (in process, the code a worker runs, one worker):
- **similarity rebuild**: `case_signatures_refresh` for every project, all three windows (7/14/30);
- **forecast**: `kag_v2_forecast_refresh` for every project (`rules_v1`, window 14, top_k 5; each run
  ranks its similar cases against the stored signatures); also `logit_v1` (one fit per account
  scope, then the 24 h cache);
- **nearest-case query**: the read-only ranking `GET /kag/similar-cases` performs, as a service call
  over random projects and through the real Flask app (test client, logged in). Baseline, same run and
  data: the straightforward query that fetches every candidate's n-grams and intersects them in Python
  (what the SQLite path does); Keel's PostgreSQL path intersects them in SQL and reads the n-grams and
  outcomes of the returned cases only.
Time is measured in one pass; peak memory in a second, idempotent pass run by a fresh child process
(so neither tracing inflates the timings nor the seeding's allocations the peak): the Python heap
peak during the stage (tracemalloc) and the child's peak RSS (``VmHWM``), next to its RSS before the
stage (interpreter, imports, runtime).

Usage: ``.venv/bin/python bench/bench_kag_v2.py [--projects 1000] [--queries 500]``.
Results: ``bench/results/kag_v2.json`` (plumbing: ``bench/common.py``).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import OPERATOR, isolated_env, percentiles, write_results  # noqa: E402
from jobs.kag import handlers_v2  # noqa: E402
from jobs.kag.scores import compute_scores  # noqa: E402
from jobs.kag.signals import SignalState, process_events  # noqa: E402
from jobs.kag.snapshots import build_snapshot, derive_outcomes  # noqa: E402
from shared.config import Settings  # noqa: E402
from shared.db.service import kag_v2 as svc  # noqa: E402
from shared.db.service.business_inputs import table  # noqa: E402
from shared.kag.similarity import CaseCandidate, attach_outcomes, rank_similar_cases  # noqa: E402
from shared.runtime import Runtime, install  # noqa: E402
from shared.scope import Scope  # noqa: E402

TARGET_P95_MS = 50.0
HISTORY_DAYS = 21
NAMES = ("Website redesign", "Support retainer", "Growth sprint", "CRM migration", "Payments integration",
         "Mobile app", "Brand refresh")
STAGES = ("Lead", "Proposal", "Negotiation", "Won 🎉", "Lost", "Frozen")
log = logging.getLogger("bench.kag_v2")


@contextmanager
def stack(**extra_env: str) -> Iterator[tuple[Runtime, dict[str, str]]]:
    """A private migrated database and Redis db (``bench.common.isolated_env``) and its runtime."""
    with isolated_env(LOG_LEVEL="error", **extra_env) as env:
        rt = install(Runtime(Settings.from_env(env)))
        try:
            yield rt, env
        finally:
            rt.close()


# --- a simulated history per project ------------------------------------------------------------------
def simulate_events(rng: random.Random, pid: str, start: datetime, days: int) -> list[dict[str, Any]]:
    """Graph events (the signal engine's input) of one project: chat, blockers, scope, money."""
    out: list[tuple[datetime, str, dict[str, Any], dict[str, Any]]] = []
    reply_days, mood = rng.uniform(0.2, 4.0), rng.gauss(0.2, 0.3)
    blockers_per_day, resolve_p, scope_share = rng.uniform(0, 0.8), rng.uniform(0.05, 0.6), rng.uniform(0, 0.4)
    t, k = start, 0
    while t < start + timedelta(days=days):
        k += 1
        out.append((t, "message_sent", {"sender": "team"}, {"message_id": f"{pid}-t{k}"}))
        t += timedelta(days=rng.expovariate(1 / reply_days))
        mood = max(-1.0, min(1.0, mood + rng.gauss(-0.02, 0.15)))
        out.append((t, "message_sent", {"sender": "client", "sentiment_score": round(mood, 3)},
                    {"message_id": f"{pid}-c{k}"}))
        if rng.random() < scope_share:
            out.append((t + timedelta(minutes=5), "scope_change_requested", {}, {"message_id": f"{pid}-c{k}"}))
        t += timedelta(hours=rng.uniform(1, 30))
    for d in range(days):
        for b in range(int(rng.random() < blockers_per_day) + int(rng.random() < blockers_per_day / 3)):
            opened, bid = start + timedelta(days=d, hours=rng.uniform(0, 24)), f"{pid}-b{d}-{b}"
            out.append((opened, "task_blocked", {"blocker_id": bid}, {"linear_issue_id": bid}))
            closed = opened + timedelta(days=1 + int(rng.expovariate(resolve_p)))
            out.append((closed, "blocker_resolved", {"blocker_id": bid}, {"linear_issue_id": bid}))
    budget = rng.choice((20_000, 60_000, 120_000, 250_000))
    out.append((start, "finance_entry_created", {"entry_type": "planned_budget", "amount": budget},
                {"attio_record_id": f"{pid}-deal"}))
    out.append((start, "finance_entry_created", {"entry_type": "revenue", "amount": budget * rng.uniform(0.8, 1.3)},
                {"attio_record_id": f"{pid}-deal"}))
    for d in range(0, days, 7):
        out.append((start + timedelta(days=d), "finance_entry_created",
                    {"entry_type": "cost", "amount": budget / 4 * rng.uniform(0.6, 1.6)},
                    {"attio_record_id": f"{pid}-deal"}))
    out.sort(key=lambda e: e[0])
    return [{"id": i, "event_type": et, "event_ts": ts, "payload": p, "source_refs": [ref], "rag_chunk_refs": []}
            for i, (ts, et, p, ref) in enumerate(out, start=1)]


LOG_TYPE = {"message_sent": ("message_sent", "chatwoot"),
            "scope_change_requested": ("scope_change_detected", "chatwoot"),
            "task_blocked": ("issue_blocked", "linear"), "blocker_resolved": ("issue_unblocked", "linear"),
            "finance_entry_created": ("invoice_sent", "attio")}


def seed(rt: Runtime, projects: int, now: datetime) -> list[Scope]:
    rng = random.Random(7)
    scope_id = uuid.uuid4()
    start = now - timedelta(days=HISTORY_DAYS)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "account_scopes", "projects", "kag_signals", "kag_scores", "project_snapshots", "past_case_outcomes",
        "kag_event_log", "attio_opportunities_raw")}
    rows["account_scopes"].append({"id": scope_id, "scope_key": "bench-kag-v2", "name": "Bench scope"})
    scopes = []
    for n in range(projects):
        pid = uuid.uuid4()
        scope = Scope(pid, scope_id)
        scopes.append(scope)
        sc = {"project_id": pid, "account_scope_id": scope_id}
        rows["projects"].append({"id": pid, "name": f"{rng.choice(NAMES)} #{n}", "account_scope_id": scope_id,
                                 "created_at": now})
        events = simulate_events(rng, str(pid), start, HISTORY_DAYS)
        state: SignalState | None = None
        signals: list[Any] = []
        scores: list[Any] = []
        for day in range(1, HISTORY_DAYS + 1):
            day_end = start + timedelta(days=day)
            todays = [e for e in events if day_end - timedelta(days=1) <= e["event_ts"] < day_end]
            result = process_events(state, todays, day_end)
            state = result.state
            signals = [r.to_row() for r in result.signals]
            scores = [r.to_row() for r in compute_scores(signals, state, day_end)]
            snap = build_snapshot(signals, scores, day_end, snapshot_date=(day_end - timedelta(seconds=1)).date())
            rows["project_snapshots"].append({**snap.to_row(), **sc, "created_at": day_end})
            for o in derive_outcomes(pid, snap.snapshot_date, signals, scores):
                rows["past_case_outcomes"].append({**o.to_row(), "id": uuid.uuid4(), **sc})
        rows["kag_signals"] += [{**s, **sc, "id": uuid.uuid4(), "updated_at": now} for s in signals]
        rows["kag_scores"] += [{**s, **sc, "id": uuid.uuid4(), "updated_at": now} for s in scores]
        for e in events:
            event_type, source = LOG_TYPE[e["event_type"]]
            ref = next(iter(e["source_refs"][0].values()))
            actor = "client" if e["payload"].get("sender") == "client" else ("team" if source == "chatwoot"
                                                                                 else "system")
            rows["kag_event_log"].append({**sc, "event_type": event_type, "occurred_at": e["event_ts"],
                                          "actor": actor, "source": source, "source_ref": ref, "payload_json": {},
                                          "dedupe_key": f"{event_type}|{ref}|{e['id']}"})
        for d in range(2):
            rows["attio_opportunities_raw"].append({
                **sc, "id": f"{pid}-deal-{d}", "workspace_id": "ws", "external_id": f"{pid}-deal-{d}",
                "title": "Deal", "stage": rng.choice(STAGES), "amount": rng.choice((8_000, 30_000, 70_000, 150_000)),
                "probability": 0.4, "data": {}, "updated_at": now - timedelta(days=d)})
    with rt.engine.begin() as conn:
        for name, batch in rows.items():
            for i in range(0, len(batch), 2000):
                conn.execute(table(name).insert(), batch[i:i + 2000])
    counts = {k: len(v) for k, v in rows.items()}
    print(f"seeded {counts}", flush=True)
    return scopes


# --- measurement ------------------------------------------------------------------------------------
def run_stage(fn: Callable[[Scope, dict, logging.Logger], dict], scopes: list[Scope],
              params: dict[str, Any] | None = None) -> float:
    started = time.perf_counter()
    for scope in scopes:
        fn(scope, dict(params or {}), log)
    return time.perf_counter() - started


STAGES_BY_NAME = {"rebuild": "case_signatures_refresh", "forecast": "kag_v2_forecast_refresh"}


def _vm_kb(field: str) -> float:
    """``/proc/self/status`` ``VmHWM`` (peak) or ``VmRSS`` in MB: per address space, so it starts afresh
    in the exec'd child (``ru_maxrss`` would carry the parent's peak over)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def child_stage(stage: str) -> None:
    """In a fresh interpreter (env from the parent): run one stage over every project, print memory."""
    from sqlalchemy import select

    from shared.db.models.platform import Project

    rt = install(Runtime(Settings.from_env(os.environ)))
    with rt.session() as s:
        scopes = [Scope(p.id, p.account_scope_id) for p in s.scalars(select(Project).order_by(Project.created_at))]
    before = _vm_kb("VmRSS")
    fn = getattr(handlers_v2, STAGES_BY_NAME[stage])
    tracemalloc.start()
    run_stage(fn, scopes)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(json.dumps({"tracemalloc_peak_mb": round(peak / 2**20, 1), "peak_rss_mb": _vm_kb("VmHWM"),
                      "rss_before_stage_mb": before}))


def stage_memory(env: dict[str, str], stage: str) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--child", stage], env={**os.environ, **env},
                         capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])


def latency(samples_ms: list[float]) -> dict[str, float]:
    out = percentiles(samples_ms, points=(50, 95, 99))
    return {"n": len(samples_ms), "p50_ms": out["p50"], "p95_ms": out["p95"], "p99_ms": out["p99"],
            "max_ms": out["max"]}


def naive_similar_cases(session: Any, scope: Scope, now: datetime) -> list[Any]:
    """Baseline: fetch every candidate's full n-gram list and intersect the sets in Python."""
    from sqlalchemy import select

    from shared.db.models.kag_v2 import CaseSignature
    from shared.db.models.platform import Project

    source = svc.get_signature(session=session, scope=scope, window_days=14)
    t = CaseSignature
    rows = session.execute(select(t.project_id, Project.name, t.signature_vector, t.features_json, t.context_json)
                           .join(Project, Project.id == t.project_id)
                           .where(t.account_scope_id == scope.account_scope_id, t.window_days == 14,
                                  t.project_id != scope.project_id)
                           .order_by(t.updated_at.desc(), t.id).limit(300))
    candidates = [CaseCandidate(str(pid), name, [float(x) for x in vector], list(features.get("event_ngrams") or []),
                                dict(context)) for pid, name, vector, features, context in rows]
    ranked = rank_similar_cases(source, candidates, now, top_k=5)
    outcomes = svc.recent_outcomes(session=session, account_scope_id=scope.account_scope_id,
                                   project_ids=[c.case_project_id for c in ranked])
    return attach_outcomes(ranked, outcomes)


def query_latency(rt: Runtime, scopes: list[Scope], queries: int, now: datetime) -> tuple[dict, dict]:
    """Keel's query and the baseline, interleaved on the same random projects (same load for both)."""
    rng = random.Random(11)
    keel, naive, found, same = [], [], [], 0
    for _ in range(queries):
        scope = rng.choice(scopes)
        started = time.perf_counter()
        with rt.session() as s:
            result = svc.similar_cases(session=s, scope=scope, window_days=14, top_k=5, now=now)
        keel.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        with rt.session() as s:
            baseline = naive_similar_cases(s, scope, now)
        naive.append((time.perf_counter() - started) * 1000)
        found.append(len(result.cases))
        same += [c.to_row() for c in result.cases] == [c.to_row() for c in baseline]
    return ({**latency(keel), "cases_returned_mean": round(statistics.mean(found), 2),
             "identical_to_baseline": same == queries}, latency(naive))


def http_latency(rt: Runtime, scopes: list[Scope], queries: int) -> dict[str, Any]:
    from web.app import create_app

    app = create_app(runtime=rt)
    client = app.test_client()
    assert client.post("/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]}).status_code == 200
    csrf = client.get_cookie("csrf_token").value
    rng = random.Random(12)
    samples = []
    for i in range(queries):
        if i % 50 == 0:  # switch the active project now and then (not timed)
            scope = rng.choice(scopes)
            resp = client.post(f"/projects/{scope.project_id}/select", headers={"x-csrf-token": csrf})
            assert resp.status_code == 200
        started = time.perf_counter()
        resp = client.get("/kag/similar-cases?window_days=14&top_k=5")
        samples.append((time.perf_counter() - started) * 1000)
        assert resp.status_code == 200 and resp.get_json()["signature_status"] == "ok", resp.get_json()
    return latency(samples)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--child", choices=sorted(STAGES_BY_NAME), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_stage(args.child)
        return 0
    now = datetime.now(UTC).replace(microsecond=0)
    with stack() as (rt, env):
        t0 = time.perf_counter()
        scopes = seed(rt, args.projects, now)
        seed_s = time.perf_counter() - t0
        print(f"seeded {args.projects} projects in {seed_s:.1f}s", flush=True)

        rebuild_s = run_stage(handlers_v2.case_signatures_refresh, scopes)
        print(f"similarity rebuild (3 windows) x{args.projects}: {rebuild_s:.1f}s", flush=True)
        forecast_s = run_stage(handlers_v2.kag_v2_forecast_refresh, scopes)
        print(f"forecast rules_v1 x{args.projects}: {forecast_s:.1f}s", flush=True)
        query, baseline = query_latency(rt, scopes, args.queries, now)
        print(f"nearest-case query (service): {query}; baseline {baseline}", flush=True)
        http = http_latency(rt, scopes, min(args.queries, 300))
        print(f"nearest-case query (HTTP): {http}", flush=True)

        rebuild_mem = stage_memory(env, "rebuild")
        forecast_mem = stage_memory(env, "forecast")
        print(f"memory: rebuild {rebuild_mem}, forecast {forecast_mem}", flush=True)

    with stack(KAG_FORECAST_MODEL="logit_v1") as (rt, _env):
        scopes = seed(rt, args.projects, now)
        run_stage(handlers_v2.case_signatures_refresh, scopes)
        started = time.perf_counter()
        models = handlers_v2.logit_models(rt, scopes[0], now)
        fit_s = time.perf_counter() - started
        logit_s = run_stage(handlers_v2.kag_v2_forecast_refresh, scopes)
        with rt.session() as s:
            used = {f.model for f in svc.list_forecasts(session=s, scope=scopes[0])}
        print(f"logit_v1: fit {fit_s:.2f}s, forecast x{args.projects} {logit_s:.1f}s, models {sorted(used)}",
              flush=True)

    n = args.projects
    ratio = round(baseline["p95_ms"] / query["p95_ms"], 2) if query["p95_ms"] else 0.0
    figures = [
        {"figure": f"kag_v2: nearest-case query p95 ({n} projects, service)", "value": query["p95_ms"], "unit": "ms",
         "baseline": f"fetch all n-grams, same run: {baseline['p95_ms']} ms", "ratio": ratio,
         "target": f"<= {TARGET_P95_MS:g} ms", "meets": query["p95_ms"] <= TARGET_P95_MS},
        {"figure": f"kag_v2: GET /kag/similar-cases p95 ({n} projects, in-process app)", "value": http["p95_ms"],
         "unit": "ms", "baseline": None, "ratio": None, "target": f"<= {TARGET_P95_MS:g} ms",
         "meets": http["p95_ms"] <= TARGET_P95_MS},
        {"figure": f"kag_v2: similarity rebuild, 3 windows x {n} projects", "value": round(rebuild_s, 2), "unit": "s",
         "baseline": None, "ratio": None, "target": None, "meets": None},
        {"figure": f"kag_v2: forecast rules_v1 x {n} projects", "value": round(forecast_s, 2), "unit": "s",
         "baseline": None, "ratio": None, "target": None, "meets": None},
        {"figure": "kag_v2: stage peak memory (rebuild / forecast, Python heap)",
         "value": max(rebuild_mem["tracemalloc_peak_mb"], forecast_mem["tracemalloc_peak_mb"]), "unit": "MB",
         "baseline": None, "ratio": None, "target": None, "meets": None},
    ]
    payload = {
        "projects": n, "account_scopes": 1, "history_days": HISTORY_DAYS, "seed_s": round(seed_s, 1),
        "similarity_rebuild": {"windows": [7, 14, 30], "total_s": round(rebuild_s, 2),
                               "per_project_ms": round(rebuild_s / n * 1000, 2), **rebuild_mem},
        "forecast_rules_v1": {"window_days": 14, "top_k": 5, "total_s": round(forecast_s, 2),
                              "per_project_ms": round(forecast_s / n * 1000, 2), **forecast_mem},
        "forecast_logit_v1": {"fit_s": round(fit_s, 3), "total_s": round(logit_s, 2),
                              "per_project_ms": round(logit_s / n * 1000, 2), "models_used": sorted(used),
                              "fitted_types": sorted(t for t, m in models.items() if m is not None)},
        "nearest_case_query_service": query,
        "nearest_case_query_baseline": baseline,
        "nearest_case_query_http": http,
        "target_p95_ms": TARGET_P95_MS,
        "meets_target": query["p95_ms"] <= TARGET_P95_MS and http["p95_ms"] <= TARGET_P95_MS,
        "figures": figures,
    }
    path = write_results("kag_v2", payload)
    print(f"wrote {path}")
    return 0 if payload["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
