"""Full fuzz run: schemathesis over every operation of ``/openapi.json`` on the real stack.

    .venv/bin/python bench/fuzz.py [--examples 20] [--id-examples 5] [--seed N]

The whole stack of ``tests/resilience/stack.py`` (private PostgreSQL and Redis, gunicorn, worker processes,
the scheduler, Chroma): the operator logs in, creates and selects a project holding data, and every
operation gets ``examples`` positive and ``examples`` negative generated cases plus ``id-examples`` cases with
the project's real ids in the path, over real HTTP with the session cookie and the CSRF header. Targets:
at least 2,000 requests, 0 responses >= 500, 0 responses outside the document (status code, content type,
body schema — the envelope). The baseline is the same number of requests to ``GET /health`` in the same
run (the cost of a request that does nothing), so the ratio says how much fuzzing costs per request.

Writes ``bench/results/fuzz.json``; exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import write_results  # noqa: E402

TARGET_REQUESTS = 2000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=20, help="generated cases per operation and mode")
    parser.add_argument("--id-examples", type=int, default=5, help="cases per operation with real path ids")
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args(argv)

    import requests

    from tests.fuzz.harness import Fuzzer, http_schema
    from tests.resilience.stack import Stack, StackConfig
    from tests.scoped_data import id_pool, ids_by_table, seed_project

    seed = args.seed if args.seed is not None else random.getrandbits(32)
    with Stack(StackConfig(pools={}, extra_env={"LOG_LEVEL": "error"})) as stack:
        api = stack.api()
        project_id = api.create_project("Fuzzed")

        def post(path: str, body: dict[str, Any]) -> tuple[int, Any]:
            resp = api.post(path, body)
            return (resp.status_code, resp.json()) if resp is not None else (0, None)

        seed_project(post, extra_posts=["/jobs/chatwoot/sync", "/jobs/embeddings/run", "/connectors/sync"])
        time.sleep(2)  # let the workers turn the triggers into finished runs
        pool = id_pool(ids_by_table(stack.engine, project_id))
        schema = http_schema(stack.url, api.http.cookies["sid"], api.csrf)
        session = requests.Session()

        def send(case: Any) -> Any:
            try:
                return case.call(base_url=stack.url, session=session, timeout=30)
            finally:
                session.cookies.clear()  # every case carries its own credentials

        def progress(label: str, n: int) -> None:
            print(f"  {label:<55} {n:>4} requests", flush=True)

        print(f"fuzzing {stack.url} (seed {seed})", flush=True)
        report = Fuzzer(schema, send=send, examples=args.examples, id_examples=args.id_examples, id_pool=pool,
                        seed=seed, progress=progress).run()
        baseline_s = _baseline(stack.url, report.requests)
        crashed = stack.unexpected_exits()
    fuzz = report.as_dict()
    per_request_ms = 1000 * report.duration_s / max(1, report.requests)
    baseline_ms = 1000 * baseline_s / max(1, report.requests)
    figures = [
        {"figure": "fuzz: generated requests", "value": report.requests, "unit": "requests", "baseline": None,
         "ratio": None, "target": f">= {TARGET_REQUESTS}", "meets": report.requests >= TARGET_REQUESTS},
        {"figure": "fuzz: responses >= 500", "value": report.server_errors, "unit": "responses", "baseline": None,
         "ratio": None, "target": "0", "meets": report.server_errors == 0},
        {"figure": "fuzz: responses outside the document", "value": report.schema_violations, "unit": "responses",
         "baseline": None, "ratio": None, "target": "0", "meets": report.schema_violations == 0},
        {"figure": "fuzz: mean time per case", "value": round(per_request_ms, 2), "unit": "ms",
         "baseline": round(baseline_ms, 2), "baseline_is": "GET /health over the same connection",
         "ratio": round(per_request_ms / baseline_ms, 1) if baseline_ms else None, "target": None, "meets": None},
    ]
    meets = all(f["meets"] for f in figures if f["meets"] is not None) and not report.failures and not crashed
    path = write_results("fuzz", {"figures": figures, "meets_target": meets, "fuzz": fuzz,
                                  "stack_processes_crashed": crashed, "tool": "schemathesis " + _version()})
    print(report.summary())
    print(f"wrote {path}")
    return 0 if meets else 1


def _baseline(base_url: str, requests_n: int) -> float:
    import requests

    with requests.Session() as session:
        started = time.perf_counter()
        for _ in range(requests_n):
            session.get(f"{base_url}/health", timeout=30)
        return time.perf_counter() - started


def _version() -> str:
    import schemathesis

    return schemathesis.__version__


if __name__ == "__main__":
    sys.exit(main())
