"""Benchmark: the full KAG v1 refresh for 100 and for 200 demo-sized projects (issue 6).

Two private PostgreSQL databases (migrated) and a Redis db: one holding 100 projects, one holding 200.
Each project gets demo-sized connector data inside the 14-day look-back, stored the way the connector
routines store it: 300 Chatwoot messages in 60 conversations (with the keywords the ingest extracts),
one `rag_chunks` row per message, 150 Linear issues (some blocked, some done), 12 Attio deals and two
CRM accounts.

Measured, in process with the code a `kag_signals` worker runs (one worker, projects one after another):
- **cold refresh**: `kag_recommendations_refresh` for every project on untouched data (ingest of every
  row → graph + ~500 graph events → signals → scores → v1 recommendations, process events included);
  best of `--repeat` passes, the KAG tables truncated between passes, the passes of the two databases
  alternating (a shared machine's noise then hits both sizes alike);
- **incremental refresh**: the same again right after (nothing changed: cursors, no new events).
The figure of merit is time(200) / time(100) for the cold refresh (target ≤ 2.2: the per-project work
must not grow with the number of projects stored), with the per-project time. Beside the wall time each
pass reports its CPU work (this process + its PostgreSQL backends, `/proc/<pid>/stat`), which a busy
shared machine does not inflate; every pass starts after a CHECKPOINT. Every statement of one
cold refresh in the 200-project database is timed; the heaviest SELECT is EXPLAIN ANALYZEd and must use
an index (its plan goes to the results file).

Usage: ``.venv/bin/python bench/bench_kag.py [--small 100] [--large 200] [--repeat 2]``.
Results: ``bench/results/kag_v1.json``.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
import sys
import time
import uuid
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import event, text  # noqa: E402

from bench.common import Timer, installed_runtime, write_results  # noqa: E402
from jobs.kag import handlers, handlers_common  # noqa: E402
from shared.db.models import kag as kag_models  # noqa: E402
from shared.db.service.business_inputs import table  # noqa: E402
from shared.runtime import Runtime, install  # noqa: E402
from shared.scope import Scope  # noqa: E402

TARGET_RATIO = 2.2
CONVERSATIONS, PER_CONVERSATION, ISSUES, DEALS = 60, 5, 150, 12
TEXTS = (
    "Thanks, the staging build looks good.", "Could you send the updated timeline?",
    "We agreed to move the launch by a week.", "There is a risk the API will be late.",
    "This request is out of scope, please prepare a change request.", "We plan to upgrade to the Pro plan.",
    "Please approve the final mockups.", "The payment page is blocked by the SSO issue.",
    "Решили оставить текущий дизайн.", "Нужна доработка формы заказа, дополнительно к плану.",
)
STAGES = ("Discovery", "Proposal", "Negotiation", "Won 🎉", "Lost")
log = logging.getLogger("bench.kag_v1")


def stack() -> AbstractContextManager[Runtime]:
    """A private migrated PostgreSQL database and Redis db, its runtime installed (``bench.common``)."""
    return installed_runtime(LOG_LEVEL="error")


def seed(rt: Runtime, projects: int, now: datetime) -> list[Scope]:
    """``projects`` demo-sized projects in one account scope, inserted in bulk."""
    rng = random.Random(6)
    scope_id = uuid.uuid4()
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in (
        "account_scopes", "projects", "cw_messages", "rag_chunks", "linear_issues_raw", "attio_opportunities_raw",
        "crm_accounts")}
    rows["account_scopes"].append({"id": scope_id, "scope_key": f"bench-{scope_id.hex[:8]}", "name": "Bench"})
    scopes = []
    for p in range(projects):
        pid = uuid.uuid4()
        scope = Scope(pid, scope_id)
        scopes.append(scope)
        sc = {"project_id": pid, "account_scope_id": scope_id}
        rows["projects"].append({"id": pid, "name": f"Demo project {p}", "account_scope_id": scope_id})
        mid = 0
        for c in range(CONVERSATIONS):
            start = now - timedelta(days=13, hours=rng.uniform(0, 12)) + timedelta(days=c * 12 / CONVERSATIONS)
            for k in range(PER_CONVERSATION):
                mid += 1
                at = start + timedelta(hours=k * rng.uniform(1, 20))
                gid = f"cw:{p}:{mid}"
                rows["cw_messages"].append({
                    **sc, "id": gid, "account_id": p, "message_id": mid, "conversation_id": c,
                    "conversation_global_id": f"cw:{p}:c{c}", "sender_type": "contact" if k % 2 == 0 else "user",
                    "message_type": "incoming" if k % 2 == 0 else "outgoing", "private": rng.random() < 0.03,
                    "deleted": False, "content": rng.choice(TEXTS), "data": {}, "created_at": at, "updated_at": at})
                rows["rag_chunks"].append({
                    **sc, "id": uuid.uuid4(), "source_type": "chatwoot_message", "source_table": "cw_messages",
                    "source_pk": gid, "message_global_id": gid, "conversation_global_id": f"cw:{p}:c{c}",
                    "chunk_index": 0, "text": "chunk", "text_hash": uuid.uuid4().hex * 2, "content_tokens": 5,
                    "search_text": "chunk"})
        for i in range(ISSUES):
            created = now - timedelta(days=rng.uniform(1, 13))
            updated = created + timedelta(hours=rng.uniform(0, 20))
            done = rng.random() < 0.3
            rows["linear_issues_raw"].append({
                **sc, "id": f"lin:{p}:{i}", "workspace_id": "ws", "external_id": f"P{p}-LIN-{i}",
                "title": f"Issue {i}", "state": "Done" if done else rng.choice(("Todo", "In Progress", "Blocked")),
                "blocked": (not done) and rng.random() < 0.2, "blocked_by_count": 0, "labels": [], "data": {},
                "due_date": (now + timedelta(days=rng.randint(-5, 20))).date(),
                "completed_at": updated if done else None, "vendor_created_at": created, "vendor_updated_at": updated,
                "updated_at": updated})
        for d in range(DEALS):
            at = now - timedelta(days=rng.uniform(0, 13))
            rows["attio_opportunities_raw"].append({
                **sc, "id": f"attio:{p}:{d}", "workspace_id": "ws", "external_id": f"P{p}-deal-{d}",
                "title": f"Deal {d}", "stage": rng.choice(STAGES), "amount": rng.choice((0, 8000, 30000, 70000)),
                "probability": 0.4, "data": {}, "created_at": at, "updated_at": at})
        for a in range(2):
            rows["crm_accounts"].append({**sc, "id": uuid.uuid4(), "name": f"Client {p}-{a}",
                                         "updated_at": now - timedelta(days=a)})
    with rt.engine.begin() as conn:
        for name, batch in rows.items():
            for i in range(0, len(batch), 2000):
                conn.execute(table(name).insert(), batch[i:i + 2000])
        conn.execute(text("ANALYZE"))
    return scopes


def reset_kag(rt: Runtime) -> None:
    with rt.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(kag_models.TABLES)} RESTART IDENTITY CASCADE"))


class Backends:
    """CPU seconds of this process and of its PostgreSQL backends (``/proc/<pid>/stat``).

    On a shared machine wall time also counts waiting for a CPU; the work a refresh costs (client
    Python + the backends executing its statements, index maintenance included) is what should scale
    with the number of projects, so it is reported beside the wall time.
    """

    def __init__(self, rt: Runtime) -> None:
        self.pids: set[int] = set()
        event.listen(rt.engine, "connect", self._on_connect)

    def _on_connect(self, dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("SELECT pg_backend_pid()")
        self.pids.add(int(cursor.fetchone()[0]))
        cursor.close()

    def server_cpu(self) -> float:
        total = 0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])  # utime, stime (clock ticks)
        return total / os.sysconf("SC_CLK_TCK")


@dataclass
class Pass:
    wall_s: float
    client_cpu_s: float
    server_cpu_s: float

    @property
    def work_s(self) -> float:
        return self.client_cpu_s + self.server_cpu_s

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": round(self.wall_s, 2), "client_cpu_s": round(self.client_cpu_s, 2),
                "server_cpu_s": round(self.server_cpu_s, 2), "work_s": round(self.work_s, 2)}


def refresh_all(scopes: list[Scope], backends: Backends | None = None) -> Pass:
    server = backends.server_cpu() if backends else 0.0
    cpu = time.process_time()
    with Timer() as t:
        for scope in scopes:
            result = handlers.kag_recommendations_refresh(scope, {}, log)
            assert result["touched_signals"] == 10, result
    return Pass(t.seconds, time.process_time() - cpu, (backends.server_cpu() - server) if backends else 0.0)


class StatementTimer:
    """Times every statement the engine runs while enabled (``after_cursor_execute``)."""

    def __init__(self, rt: Runtime) -> None:
        self.rt, self.enabled, self.samples = rt, False, []
        event.listen(rt.engine, "before_cursor_execute", self._before)
        event.listen(rt.engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.enabled and not many:
            self.samples.append((time.perf_counter() - conn.info.pop("bench_started"), statement, parameters))

    def heaviest(self, kind: str = "SELECT") -> tuple[float, str, Any]:
        return max((s for s in self.samples if s[1].lstrip().upper().startswith(kind)), key=lambda s: s[0])

    def explain(self, statement: str, parameters: Any) -> list[str]:
        with self.rt.engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            conn.rollback()
        return [r[0] for r in rows]


def pass_cold(rt: Runtime, scopes: list[Scope], attempt: int, backends: Backends) -> Pass:
    if attempt:
        reset_kag(rt)
    with rt.engine.connect() as conn:  # start every pass from the same background state
        conn.execute(text("CHECKPOINT"))
    return refresh_all(scopes, backends)


def table_counts(rt: Runtime) -> dict[str, int]:
    with rt.session() as s:
        return {name: s.scalar(text(f"SELECT count(*) FROM {name}")) for name in (
            "kag_nodes", "kag_edges", "kag_events", "kag_provenance_refs", "kag_recommendations", "kag_event_log",
            "cw_messages", "linear_issues_raw")}


def capture(rt: Runtime, scopes: list[Scope]) -> dict[str, Any]:
    """Time every statement of one cold refresh (the last project, all others already refreshed)."""
    timer = StatementTimer(rt)
    reset_kag(rt)
    refresh_all(scopes[:-1])
    timer.enabled = True
    handlers.kag_recommendations_refresh(scopes[-1], {}, log)
    timer.enabled = False
    top = sorted(timer.samples, key=lambda s: -s[0])[:8]
    seconds, statement, parameters = timer.heaviest("SELECT")
    plan = timer.explain(statement, parameters)
    selects: dict[str, dict[str, Any]] = {}
    for ms, sql, params in timer.samples:
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        key = " ".join(sql.split())[:160]
        if key not in selects:
            lines = timer.explain(sql, params)
            scans = sorted({line.strip().removeprefix("->").strip().split("  (")[0] for line in lines
                            if "Scan" in line})
            selects[key] = {"ms": round(ms * 1000, 2), "scans": scans}
    return {
        "one_cold_refresh": {
            "statements": len(timer.samples), "total_statement_ms": round(sum(s[0] for s in timer.samples) * 1000, 1),
            "slowest": [{"ms": round(s * 1000, 2), "sql": " ".join(q.split())[:300]} for s, q, _ in top]},
        "selects": [{"sql": k, **v} for k, v in selects.items()],
        "heaviest_select": {"ms": round(seconds * 1000, 2), "sql": " ".join(statement.split())[:1500],
                            "plan": [line[:400] for line in plan],
                            "uses_index": any("Index" in line for line in plan)}}


def measure(sizes: tuple[int, int], repeat: int, now: datetime) -> dict[int, dict[str, Any]]:
    """Both databases live side by side; their passes alternate so machine noise hits both alike."""
    out: dict[int, dict[str, Any]] = {}
    with stack() as rt_small, stack() as rt_large:
        runtimes = dict(zip(sizes, (rt_small, rt_large), strict=True))
        backends = {n: Backends(rt) for n, rt in runtimes.items()}
        scopes: dict[int, list[Scope]] = {}
        passes: dict[int, list[Pass]] = {n: [] for n in sizes}
        for n, rt in runtimes.items():
            with Timer() as t_seed:
                scopes[n] = seed(rt, n, now)
            out[n] = {"projects": n, "seed_s": round(t_seed.seconds, 1)}
            print(f"[{n}] seeded in {t_seed.seconds:.1f}s", flush=True)
        for attempt in range(repeat):
            for n, rt in runtimes.items():
                install(rt)
                passes[n].append(pass_cold(rt, scopes[n], attempt, backends[n]))
                print(f"[{n}] cold refresh pass {attempt + 1}: {passes[n][-1].as_dict()}", flush=True)
        for n, rt in runtimes.items():
            install(rt)
            incremental = refresh_all(scopes[n], backends[n])
            best = min(passes[n], key=lambda p: p.wall_s)
            least = min(passes[n], key=lambda p: p.work_s)
            out[n].update({
                "cold_passes": [p.as_dict() for p in passes[n]], "cold_refresh_best_s": round(best.wall_s, 2),
                "cold_per_project_ms": round(best.wall_s / n * 1000, 1), "cold_work_best_s": round(least.work_s, 2),
                "cold_work_per_project_ms": round(least.work_s / n * 1000, 1),
                "incremental": incremental.as_dict(),
                "incremental_per_project_ms": round(incremental.wall_s / n * 1000, 1),
                "rows_after": table_counts(rt)})
            print(f"[{n}] incremental refresh: {incremental.as_dict()}", flush=True)
        install(rt_large)
        out[sizes[1]].update(capture(rt_large, scopes[sizes[1]]))
    return out


def figures(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The summary rows of ``bench/run_all.py``."""
    small, large = payload["small"], payload["large"]
    s_n, l_n = small["projects"], large["projects"]
    target = payload["target_ratio"]
    wall, work = payload["ratio_time_large_over_small"], payload["ratio_work_large_over_small"]
    heaviest = large["heaviest_select"]
    return [
        {"figure": f"kag_v1: cold refresh time({l_n}) / time({s_n}) (wall)",
         "value": wall, "unit": "x", "baseline": f"{s_n} projects: {small['cold_refresh_best_s']} s", "ratio": wall,
         "target": f"<= {target}", "meets": wall <= target},
        {"figure": f"kag_v1: cold refresh work({l_n}) / work({s_n}) (CPU, client + PostgreSQL)",
         "value": work, "unit": "x", "baseline": f"{s_n} projects: {small['cold_work_best_s']} s CPU", "ratio": work,
         "target": f"<= {target}", "meets": work <= target},
        {"figure": f"kag_v1: cold refresh per project ({l_n} projects)", "value": large["cold_per_project_ms"],
         "unit": "ms", "baseline": f"{s_n} projects: {small['cold_per_project_ms']} ms", "ratio": None,
         "target": None, "meets": None},
        {"figure": f"kag_v1: incremental refresh per project ({l_n} projects)",
         "value": large["incremental_per_project_ms"], "unit": "ms", "baseline": None, "ratio": None,
         "target": None, "meets": None},
        {"figure": "kag_v1: heaviest SELECT of a refresh (index scan)", "value": heaviest["ms"], "unit": "ms",
         "baseline": None, "ratio": None, "target": "uses an index", "meets": heaviest["uses_index"]},
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    now = datetime.now(UTC).replace(microsecond=0)
    handlers_common.clock = lambda: now  # one `now` for every run, as the pipeline's worker would have
    results = measure((args.small, args.large), args.repeat, now)
    small, large = results[args.small], results[args.large]
    ratio = large["cold_refresh_best_s"] / small["cold_refresh_best_s"]
    work_ratio = large["cold_work_best_s"] / small["cold_work_best_s"]
    scale = args.large / args.small
    payload = {
        "demo_project": {"messages": CONVERSATIONS * PER_CONVERSATION, "conversations": CONVERSATIONS,
                         "rag_chunks": CONVERSATIONS * PER_CONVERSATION, "linear_issues": ISSUES, "deals": DEALS,
                         "crm_accounts": 2, "window_days": 14},
        "small": small, "large": large,
        "ratio_time_large_over_small": round(ratio, 3), "ratio_work_large_over_small": round(work_ratio, 3),
        "target_ratio": round(TARGET_RATIO * scale / 2, 3),
        "meets_target": ratio <= TARGET_RATIO * scale / 2 and large["heaviest_select"]["uses_index"],
    }
    payload["figures"] = figures(payload)
    path = write_results("kag_v1", payload)
    print(f"time({args.large})/time({args.small}) = {ratio:.3f}, work ratio {work_ratio:.3f} "
          f"(target ≤ {TARGET_RATIO * scale / 2:.2f}); "
          f"per project {small['cold_per_project_ms']} / {large['cold_per_project_ms']} ms; "
          f"heaviest SELECT {large['heaviest_select']['ms']} ms, index: {large['heaviest_select']['uses_index']}")
    print(f"wrote {path}")
    return 0 if payload["meets_target"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
