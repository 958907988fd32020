"""Load: 50 concurrent clients polling ``/jobs/status`` and reading lists for 60 s while a sync runs.

    .venv/bin/python bench/load_status.py [--clients 50] [--seconds 60]

The whole stack of ``tests/resilience/stack.py`` (gunicorn with ``WEB_CONCURRENCY`` workers, the worker
processes, the scheduler) and a Chatwoot sync slowed down by the emulator to outlast the load. Each client is
its own logged-in session; half its requests are ``GET /jobs/status``, the rest the project's list routes
(every project-scoped GET without path parameters of the document). Figures: errors (target 0), p50 and p99
latency, throughput. The baseline is the same read mix from one client, one request at a time, measured in
the same run; the ratio is the p50 under load over the unloaded p50 (queueing behind 2 gunicorn workers).

Writes ``bench/results/load_status.json``; exits 1 on any error or an incomplete sync.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--web-workers", type=int, default=2, help="WEB_CONCURRENCY of gunicorn (Procfile default 2)")
    args = parser.parse_args(argv)

    from tests.resilience import scenarios as sc
    from tests.resilience.stack import StackConfig

    config = StackConfig(web_workers=args.web_workers, extra_env={"LOG_LEVEL": "error"})
    with sc.sync_lab(accounts=4, config=config) as lab:
        summary = sc.load_during_sync(lab, clients=args.clients, duration_s=args.seconds)
    base = summary["baseline_unloaded"]
    sync_ok = summary["sync"]["status"] == "ok" and summary["sync"]["records_lost"] == 0
    figures = [
        {"figure": f"load: errors ({args.clients} clients, {args.seconds:.0f}s, sync running)",
         "value": summary["errors"], "unit": "responses", "baseline": None, "ratio": None, "target": "0",
         "meets": summary["errors"] == 0},
        {"figure": "load: p50 latency", "value": summary["p50_ms"], "unit": "ms", "baseline": base["p50_ms"],
         "baseline_is": "the same reads from one client, unloaded", "ratio": summary.get("p50_ratio_to_unloaded"),
         "target": None, "meets": None},
        {"figure": "load: p99 latency", "value": summary["p99_ms"], "unit": "ms", "baseline": base["p99_ms"],
         "baseline_is": "the same reads from one client, unloaded",
         "ratio": round(summary["p99_ms"] / base["p99_ms"], 1) if base["p99_ms"] else None, "target": None,
         "meets": None},
        {"figure": "load: GET /jobs/status p99", "value": summary["status_p99_ms"], "unit": "ms", "baseline": None,
         "ratio": None, "target": None, "meets": None},
        {"figure": "load: throughput", "value": summary["throughput_rps"], "unit": "requests/s", "baseline": None,
         "ratio": None, "target": None, "meets": None},
    ]
    meets = summary["errors"] == 0 and sync_ok and summary["sync"]["running_during_load"]
    path = write_results("load_status", {"figures": figures, "meets_target": meets, "load": summary,
                                         "web_workers": args.web_workers})
    print(f"{summary['requests']} requests, {summary['errors']} errors, p50 {summary['p50_ms']} ms, "
          f"p99 {summary['p99_ms']} ms, {summary['throughput_rps']} req/s; unloaded p50 {base['p50_ms']} ms; "
          f"sync {summary['sync']['status']}")
    print(f"wrote {path}")
    return 0 if meets else 1


if __name__ == "__main__":
    sys.exit(main())
