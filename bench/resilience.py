"""The fault suite, long form: faults injected into the whole stack, figures in ``bench/results/resilience.json``.

    .venv/bin/python bench/resilience.py [--kills 10] [--wave 5] [--burst 5] [--lost-queue]

One stack (``tests/resilience/stack.py``: private PostgreSQL and Redis, gunicorn, ``python -m workers``
processes, the scheduler, Chroma, the vendor emulators) and the scenarios of ``tests/resilience/scenarios.py``:
worker ``kill -9`` mid-sync (``--kills`` times, in waves of ``--wave`` workers), Redis restart, PostgreSQL
restart (fast shutdown) and crash (immediate shutdown), vendor 429/5xx/timeout/malformed bursts of
``--burst`` faults per call site (beyond the in-job retries, so RQ's retries are exercised too).
``--lost-queue`` also loses a queued job with Redis (recovered by the stale reaper: minutes).

For each: records lost, records duplicated, runs left in flight, API 5xx (beside the 503s the spec allows
during the outage), time to recover. The baseline is the same sync without a fault, in the same run.
Exits 1 when a scenario fails.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--wave", type=int, default=5)
    parser.add_argument("--burst", type=int, default=5)
    parser.add_argument("--lost-queue", action="store_true")
    args = parser.parse_args(argv)

    from tests.resilience import scenarios as sc

    results: list[Any] = []
    started = time.monotonic()
    with sc.sync_lab(accounts=args.kills + 12) as lab:
        baseline_s = _baseline_sync(lab)
        print(f"baseline sync without faults: {baseline_s:.1f}s", flush=True)
        plan = [
            ("worker kill -9 mid-sync", lambda: sc.worker_kill(lab, kills=args.kills, wave=args.wave)),
            ("Redis restart", lambda: sc.redis_restart(lab, lost_queue=args.lost_queue)),
            ("PostgreSQL restart", lambda: sc.postgres_restart(lab)),
            ("PostgreSQL crash", lambda: sc.postgres_restart(lab, mode="immediate")),
            ("vendor 429/5xx/timeout/malformed", lambda: sc.vendor_faults(lab, burst=args.burst)),
        ]
        for label, run in plan:
            t = time.monotonic()
            result = run()
            results.append((label, result))
            print(f"{label}: {'ok' if result.passed else 'FAILED'} in {time.monotonic() - t:.0f}s "
                  f"(lost {result.records_lost}, duplicated {result.records_duplicated}, left in flight "
                  f"{result.runs_left_running}, api 5xx {result.api_5xx}, recover max "
                  f"{max(result.recover_s, default=0):.1f}s)", flush=True)
        path = _write(results, baseline_s, args, started)  # before the teardown: the figures are kept whatever
    print(f"wrote {path}")
    return 0 if all(r.passed for _, r in results) else 1


def _write(results: list[Any], baseline_s: float, args: argparse.Namespace, started: float) -> Path:
    figures = []
    for label, r in results:
        recover = max(r.recover_s, default=0.0)
        figures.append({"figure": f"{label}: time to recover (max)", "value": round(recover, 1), "unit": "s",
                        "baseline": round(baseline_s, 1), "baseline_is": "the same sync without a fault",
                        "ratio": round(recover / baseline_s, 1) if baseline_s else None,
                        "target": "lost 0, duplicated 0, left 0, 5xx 0", "meets": r.passed,
                        "lost": r.records_lost, "duplicated": r.records_duplicated,
                        "left_running": r.runs_left_running, "api_5xx": r.api_5xx,
                        "api_503_allowed": r.api_503_allowed})
    scenarios_out = {}
    for label, r in results:
        data = r.as_dict()
        data["details"].pop("projects", None)
        scenarios_out[label] = data
    passed = all(r.passed for _, r in results)
    return write_results("resilience", {"figures": figures, "meets_target": passed, "baseline_sync_s": baseline_s,
                                         "options": vars(args), "scenarios": scenarios_out,
                                         "seconds": round(time.monotonic() - started, 1)})


def _baseline_sync(lab: Any) -> float:
    """A fault-free sync of a fresh project (same data, same stack), timed from the trigger to ``ok``."""
    project = lab.new_project("baseline")
    t = time.monotonic()
    run = lab.trigger(project)
    status = lab.wait_final(run, 300)
    if status != "ok":
        raise SystemExit(f"baseline sync ended {status}")
    return time.monotonic() - t


if __name__ == "__main__":
    sys.exit(main())
