"""UI-like load: N concurrent clients polling ``/jobs/status`` and reading the project's lists.

Each client is its own logged-in session (cookie + CSRF) on a real HTTP connection; half of its requests
are ``GET /jobs/status`` (what the UI polls), the rest cycle through the list routes of the document (every
project-scoped ``GET`` without path parameters that answers 200 before the load starts).
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.resilience.stack import HttpApi

STATUS_PATH = "/jobs/status"
# Never part of the read mix: not a list, or not the project's data.
EXCLUDED = frozenset({"/openapi.json", "/metrics", "/health", "/auth/me", "/auth/signup/status"})


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of ``values``; 0.0 when empty."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def list_paths(base_url: str, api: HttpApi) -> tuple[list[str], list[str]]:
    """The document's project-scoped GET routes without path parameters; (answering 200, not answering)."""
    doc = httpx.get(f"{base_url}/openapi.json", timeout=30).json()
    candidates = []
    for path, ops in doc["paths"].items():
        get = ops.get("get")
        if get is None or "{" in path or path in EXCLUDED or path == STATUS_PATH or not get.get("security"):
            continue
        if "409" not in get.get("responses", {}):  # not scoped to the active project
            continue
        candidates.append(path)
    good, bad = [], []
    for path in sorted(candidates):
        resp = api.get(path)
        (good if resp is not None and resp.status_code == 200 else bad).append(path)
    return good, bad


@dataclass
class LoadReport:
    clients: int
    duration_s: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    excluded_paths: list[str] = field(default_factory=list)

    def record(self, path: str, status: int, ms: float, failure: str | None = None) -> None:
        self.latencies_ms.setdefault(path, []).append(ms)
        if status == 0 or status >= 400:
            key = f"{path} {status}" + (f" {failure}" if failure else "")
            self.errors[key] = self.errors.get(key, 0) + 1

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies_ms.values())

    def summary(self) -> dict[str, Any]:
        every = [ms for v in self.latencies_ms.values() for ms in v]
        status = self.latencies_ms.get(STATUS_PATH, [])
        return {
            "clients": self.clients, "duration_s": round(self.duration_s, 2), "requests": self.requests,
            "errors": sum(self.errors.values()), "error_detail": self.errors,
            "throughput_rps": round(self.requests / self.duration_s, 1) if self.duration_s else 0.0,
            "p50_ms": round(percentile(every, 50), 1), "p99_ms": round(percentile(every, 99), 1),
            "status_p50_ms": round(percentile(status, 50), 1), "status_p99_ms": round(percentile(status, 99), 1),
            "per_path": {p: {"requests": len(v), "p50_ms": round(percentile(v, 50), 1),
                             "p99_ms": round(percentile(v, 99), 1)} for p, v in sorted(self.latencies_ms.items())},
            "excluded_paths": self.excluded_paths,
        }


def _client(base_url: str, project_id: str, paths: list[str], stop: threading.Event, report: LoadReport,
            lock: threading.Lock, seed: int, ready: threading.Barrier) -> None:
    api = HttpApi(base_url, timeout=60).login()
    api.select(project_id)
    rng = random.Random(seed)
    ready.wait()
    try:
        while not stop.is_set():
            path = STATUS_PATH if rng.random() < 0.5 or not paths else rng.choice(paths)
            started = time.perf_counter()
            failure = None
            try:
                status = api.http.get(path).status_code
            except httpx.HTTPError as exc:  # no answer: which kind (timeout, reset, closed keep-alive) matters
                status, failure = 0, f"{type(exc).__name__}: {exc}"[:200]
            ms = (time.perf_counter() - started) * 1000
            with lock:
                report.record(path, status, ms, failure)
    finally:
        api.close()


def run_load(base_url: str, project_id: str, *, clients: int = 50, duration_s: float = 60.0,
             seed: int = 1) -> LoadReport:
    """``clients`` threads, each a logged-in session on the project, for ``duration_s`` seconds."""
    probe = HttpApi(base_url).login()
    probe.select(project_id)
    paths, bad = list_paths(base_url, probe)
    probe.close()
    report = LoadReport(clients=clients, duration_s=duration_s, excluded_paths=bad)
    stop, lock = threading.Event(), threading.Lock()
    ready = threading.Barrier(clients + 1)
    threads = [threading.Thread(target=_client, args=(base_url, project_id, paths, stop, report, lock, seed + i,
                                                      ready), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    ready.wait(timeout=120)
    started = time.monotonic()
    time.sleep(duration_s)
    stop.set()
    for t in threads:
        t.join(timeout=120)
    report.duration_s = time.monotonic() - started
    return report


def unloaded_baseline(base_url: str, project_id: str, requests: int = 60) -> dict[str, float]:
    """The same reads from one client, one at a time, measured in the same run (the load figure's baseline)."""
    api = HttpApi(base_url).login()
    api.select(project_id)
    paths, _ = list_paths(base_url, api)
    rng = random.Random(0)
    timings = []
    for _ in range(requests):
        path = STATUS_PATH if rng.random() < 0.5 or not paths else rng.choice(paths)
        started = time.perf_counter()
        api.http.get(path)
        timings.append((time.perf_counter() - started) * 1000)
    api.close()
    return {"requests": requests, "p50_ms": round(percentile(timings, 50), 1),
            "p99_ms": round(percentile(timings, 99), 1)}
