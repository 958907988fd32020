"""Test infrastructure: a private PostgreSQL database and Redis db per run, and polling helpers."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import psycopg
from redis import Redis

T = TypeVar("T")
PG_ADMIN_URL = os.environ.get("KEEL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("KEEL_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_KEY = "keel:test:claim"


def create_pg_database(*, durable_commits: bool = True) -> tuple[str, str]:
    """A new empty database; ``durable_commits=False`` (the test suite) skips the WAL flush per commit,
    which only matters if the server crashes. Benchmarks keep production durability."""
    name = f"keel_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        if not durable_commits:
            conn.execute(f'ALTER DATABASE "{name}" SET synchronous_commit TO off')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return name, f"{base}/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def claim_redis_db(owner: str, ttl_s: int = 3600) -> int:
    """A Redis db number (1..15) no other test run holds: claimed with SET NX in that db."""
    for number in range(1, 16):
        client = Redis.from_url(f"{REDIS_BASE}/{number}")
        try:
            if client.set(CLAIM_KEY, owner, nx=True, ex=ttl_s):
                for key in client.scan_iter(count=1000):
                    if key != CLAIM_KEY.encode():
                        client.delete(key)
                return number
        finally:
            client.close()
    raise RuntimeError("no free Redis database number (1..15) for this test run")


def release_redis_db(number: int, owner: str) -> None:
    client = Redis.from_url(f"{REDIS_BASE}/{number}")
    try:
        if client.get(CLAIM_KEY) == owner.encode():
            client.flushdb()
    finally:
        client.close()


def wait_for(predicate: Callable[[], T], *, timeout: float = 10.0, interval: float = 0.05,
             message: str | Callable[[], str] = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value or the deadline passes; a callable ``message`` is
    evaluated at the deadline (a log read then, not when the wait began)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    text = message() if callable(message) else message
    raise AssertionError(f"timed out after {timeout}s waiting for {text}; last value: {last!r}")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """The real ``web`` process (gunicorn + ``web/gunicorn_conf.py``) on a free local port."""

    def __init__(self, env: dict[str, str], workers: int = 2, app: str = "web.app:create_app()") -> None:
        import tempfile

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_dir = tempfile.mkdtemp(prefix="keel-prom-")
        self.env = {**os.environ, **env, "PORT": str(self.port), "HOST": "127.0.0.1",
                    "WEB_CONCURRENCY": str(workers), "PROMETHEUS_MULTIPROC_DIR": self.metrics_dir}
        self.app = app
        self.proc: Any = None

    def __enter__(self) -> Gunicorn:
        import subprocess
        import sys

        import httpx

        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.proc = subprocess.Popen([gunicorn, "-c", "web/gunicorn_conf.py", self.app], cwd=root, env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.proc.stderr.read().decode()[-2000:]}")
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=30, message="gunicorn to answer /health")
        return self

    def __exit__(self, *exc: object) -> None:
        import shutil

        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except Exception:  # noqa: BLE001
            self.proc.kill()
        shutil.rmtree(self.metrics_dir, ignore_errors=True)


def chroma_binary() -> str | None:
    beside_python = Path(sys.executable).parent / "chroma"
    if beside_python.exists():
        return str(beside_python)
    return shutil.which("chroma")


class ChromaProcess:
    """A real ``chroma run --path <dir>`` on 127.0.0.1 and a free port (tests, benchmarks)."""

    start_deadline_s = 60.0

    def __init__(self, data_dir: Path, binary: str | None = None) -> None:
        self.binary = binary or chroma_binary()
        if self.binary is None:
            raise FileNotFoundError("the `chroma` executable (chromadb package) is not installed")
        self.data_dir, self.host, self.port = Path(data_dir), "127.0.0.1", free_port()
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def log_tail(self, n: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def start(self) -> ChromaProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log_file:
            self.proc = subprocess.Popen(
                [self.binary, "run", "--path", str(self.data_dir), "--host", self.host, "--port", str(self.port)],
                stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + self.start_deadline_s
        url = f"http://{self.host}:{self.port}/api/v2/heartbeat"
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"chroma exited with {self.proc.returncode} before it was ready:\n{self.log_tail()}")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"chroma not ready after {self.start_deadline_s}s:\n{self.log_tail()}")
            time.sleep(0.1)  # poll interval, bounded by the deadline above

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def __enter__(self) -> ChromaProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
