"""Shared benchmark plumbing: a private database and Redis, gunicorn on a free port, timing and results.

Every benchmark compares Keel with a baseline measured in the same run on the same machine (a figure
alone says little on a shared 2-core box) and writes ``bench/results/<name>.json``.

- ``isolated_env()``: a fresh PostgreSQL database (migrated) and a free Redis db number, removed on exit;
- ``Server``: gunicorn with ``web/gunicorn_conf.py`` (the production settings) for any app spec;
- ``load()``: N HTTP requests from several client processes, each request built by a picklable factory;
- ``percentiles()``, ``Timer``, ``write_results()``, ``print_summary()``.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
OPERATOR = ("bench", "bench-password-123")


# --- environment ------------------------------------------------------------------------------------------
def base_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    return {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "AUTH_CREDENTIALS": ":".join(OPERATOR),
            "APP_ENV": "test", "LOG_LEVEL": "warning", "SESSION_SECRET": "bench-secret-" + "x" * 32,
            "RQ_DASHBOARD_ENABLED": "false", **extra}


@contextmanager
def isolated_env(**extra: str) -> Iterator[dict[str, str]]:
    """A migrated private PostgreSQL database and a claimed Redis db, as an environment dict."""
    from shared.config import Settings
    from shared.db.migrate import upgrade
    from shared.runtime import Runtime
    from tests.support import claim_redis_db, create_pg_database, drop_pg_database, release_redis_db

    owner = f"bench:{os.getpid()}:{uuid.uuid4()}"
    number = claim_redis_db(owner)
    name, url = create_pg_database()
    redis_url = f"{os.environ.get('KEEL_TEST_REDIS', 'redis://127.0.0.1:6379')}/{number}"
    env = base_env(url, redis_url, **extra)
    try:
        rt = Runtime(Settings.from_env(env))
        upgrade(rt.engine)
        rt.close()
        yield env
    finally:
        drop_pg_database(name)
        release_redis_db(number, owner)


@contextmanager
def installed_runtime(**extra: str) -> Iterator[Any]:
    """``isolated_env`` with its ``Runtime`` installed as the process runtime (in-process benchmarks)."""
    from shared.config import Settings
    from shared.runtime import Runtime, install

    with isolated_env(**extra) as env:
        rt = install(Runtime(Settings.from_env(env)))
        try:
            yield rt
        finally:
            rt.close()


def libpq_url(url: str) -> str:
    """A SQLAlchemy ``postgresql+psycopg://`` URL as plain libpq, for the bare-psycopg raw limits."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


_raw = threading.local()


def raw_pg_connection() -> Any:
    """One autocommit psycopg connection per thread from ``DATABASE_URL`` (no pool, no ORM): the raw limits'
    database access inside the bare apps."""
    import psycopg

    conn = getattr(_raw, "conn", None)
    if conn is None:
        conn = _raw.conn = psycopg.connect(libpq_url(os.environ["DATABASE_URL"]), autocommit=True)
    return conn


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- servers ---------------------------------------------------------------------------------------------------
class Server:
    """``gunicorn -c web/gunicorn_conf.py <app>`` on a free local port (same settings for every app)."""

    def __init__(self, app: str, env: dict[str, str], workers: int = 2, ready_path: str = "/health",
                 args: tuple[str, ...] = ()) -> None:
        self.app, self.port, self.ready_path, self.args = app, free_port(), ready_path, args
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tempfile.mkdtemp(prefix="keel-bench-prom-")
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers),
                    "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir, "PYTHONPATH": str(ROOT)}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> Server:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "-c", "web/gunicorn_conf.py", *self.args, self.app]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                conn.request("GET", self.ready_path)
                if conn.getresponse().status < 500:
                    return self
            except OSError:
                pass
            time.sleep(0.1)  # readiness polling, bounded by the deadline
        raise RuntimeError("gunicorn did not become ready in 30 s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


# --- load ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass
class LoadResult:
    requests: int
    seconds: float
    latencies_ms: list[float]
    statuses: dict[int, int]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        return {"requests": self.requests, "seconds": round(self.seconds, 3), "requests_per_s": round(self.rps, 1),
                "latency_ms": percentiles(self.latencies_ms), "statuses": self.statuses}


def _client(port: int, requests: list[Request], threads: int, start_at: float, out: Any) -> None:
    import threading

    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    chunks = [requests[i::threads] for i in range(threads)]

    def run(chunk: list[Request]) -> None:
        local: list[float] = []
        codes: dict[int, int] = {}
        for req in chunk:
            began = time.perf_counter()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            conn.request(req.method, req.path, body=req.body, headers=req.headers)
            resp = conn.getresponse()
            resp.read()
            conn.close()
            local.append((time.perf_counter() - began) * 1000)
            codes[resp.status] = codes.get(resp.status, 0) + 1
        with lock:
            latencies.extend(local)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    while time.time() < start_at:  # all client processes start together
        time.sleep(0.001)
    began = time.perf_counter()
    pool = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    out.put((time.perf_counter() - began, latencies, statuses))


def load(port: int, requests: list[Request], *, processes: int = 2, threads: int = 4) -> LoadResult:
    """Send ``requests`` (split over ``processes`` × ``threads`` closed-loop clients); one connection each."""
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    start_at = time.time() + 0.5
    procs = [ctx.Process(target=_client, args=(port, requests[i::processes], threads, start_at, out))
             for i in range(processes)]
    for p in procs:
        p.start()
    results = [out.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    latencies = [ms for _, lat, _ in results for ms in lat]
    statuses: dict[int, int] = {}
    for _, _, codes in results:
        for code, n in codes.items():
            statuses[code] = statuses.get(code, 0) + n
    return LoadResult(len(requests), max(seconds for seconds, _, _ in results), latencies, statuses)


# --- timing and results ----------------------------------------------------------------------------------------
def percentiles(samples: list[float], points: tuple[int, ...] = (50, 90, 99)) -> dict[str, float]:
    if not samples:
        return {f"p{p}": 0.0 for p in points}
    ordered = sorted(samples)
    out = {}
    for p in points:
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        out[f"p{p}"] = round(ordered[index], 3)
    out["mean"] = round(statistics.fmean(ordered), 3)
    out["max"] = round(ordered[-1], 3)
    return out


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process so far (Linux ``/proc``; 0 where unreadable)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds_named(name: str) -> float:
    """CPU seconds so far of every process whose command name is ``name`` (``postgres``, say)."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    total += cpu_seconds(int(entry.name))
            except OSError:
                continue
    return total


def machine() -> dict[str, Any]:
    """Where the figures come from; the load average says how much else the machine was doing."""
    return {"python": platform.python_version(), "cpus": os.cpu_count(), "cpu_model": _cpu_model(),
            "memory_gb": _memory_gb(), "platform": platform.platform(),
            "load_average_1m": round(os.getloadavg()[0], 2)}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gb() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024 ** 3, 1)
    except (ValueError, OSError, AttributeError):
        return None


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "machine": machine(),
            **payload}
    path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def print_summary(name: str, ratio: float, target: float, lines: list[str]) -> None:
    verdict = "meets" if ratio >= target else "MISSES"
    print(f"== {name}: ratio {ratio:.2f} ({verdict} the target {target:.2f})")
    for line in lines:
        print("   " + line)


def best_of(runs: int, fn: Callable[[], float]) -> float:
    """The best of ``runs`` measurements of a rate (noise on a shared machine only ever slows a run down)."""
    return max(fn() for _ in range(runs))
