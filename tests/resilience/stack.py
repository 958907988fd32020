"""The whole stack as in production, on private services: for the fault suite and the load test.

``Stack`` starts, in a temporary directory and on free ports:

* a **private PostgreSQL** cluster (``initdb``/``pg_ctl`` from ``/usr/lib/postgresql/*/bin``; run as the
  ``postgres`` user when we are root, as PostgreSQL refuses to run as root);
* a **private redis-server** (no persistence, like ``scripts/bootstrap.sh``'s local Redis);
* a Chroma server (the Procfile ``vectors`` process) and the vendor emulators (``tests/emulators``);
* the ``release`` step (``python -m shared.db.migrate``), gunicorn ``web``, the ``scheduler`` and real
  ``python -m workers <pool>`` processes.

Faults are injected into these private services only: the machine's shared PostgreSQL and Redis
(which other test runs use at the same time) are never touched.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy import Engine, create_engine, text

from tests.conftest import OPERATOR, base_env
from tests.support import free_port, wait_for

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable


def _as_postgres_user() -> list[str]:
    """``runuser -u postgres --`` when we are root (PostgreSQL refuses to run as root), else nothing."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser") or "/usr/sbin/runuser"
    return [runuser, "-u", "postgres", "--"]


def postgres_bindir() -> Path:
    """The newest ``/usr/lib/postgresql/<version>/bin`` (or the directory of ``pg_ctl`` on the PATH)."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name)
                        if Path(p).parent.name.isdigit() else 0)
    if candidates:
        return Path(candidates[-1])
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")


class PrivatePostgres:
    """One throw-away PostgreSQL cluster on a free port; ``restart()`` / ``stop()`` / ``start()`` for faults."""

    def __init__(self, base: Path, database: str = "keel") -> None:
        self.base, self.database = base, database
        self.data = base / "pgdata"
        self.port = free_port()
        self.bindir = postgres_bindir()
        self.log_path = base / "postgres.log"
        self._prefix = _as_postgres_user()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    @property
    def admin_dsn(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run([*self._prefix, *args], check=check, timeout=timeout, capture_output=True,
                              cwd=str(self.base))

    def _owned(self, path: Path, mode: int) -> None:
        path.mkdir(parents=True, exist_ok=True)
        if self._prefix:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(path, pw.pw_uid, pw.pw_gid)
        os.chmod(path, mode)

    def init(self) -> PrivatePostgres:
        os.chmod(self.base, 0o755)  # the postgres user must reach its data directory
        self._owned(self.data, 0o700)
        self.log_path.touch()
        if self._prefix:
            import pwd

            pw = pwd.getpwnam("postgres")
            os.chown(self.log_path, pw.pw_uid, pw.pw_gid)
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync")
        return self

    def start(self) -> None:
        opts = (f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.data} "
                "-c max_connections=200 -c shared_buffers=64MB")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path), "-o", opts,
                  "-w", "-t", "60", "start")
        wait_for(self.ready, timeout=30, message="private PostgreSQL to accept connections")

    def ready(self) -> bool:
        try:
            psycopg.connect(self.admin_dsn, connect_timeout=1).close()
            return True
        except psycopg.Error:
            return False

    def create_database(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def stop(self, mode: str = "fast") -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop",
                  check=False)

    def restart(self, mode: str = "fast", down_s: float = 0.0) -> None:
        self.stop(mode)
        if down_s:
            time.sleep(down_s)
        self.start()

    def close(self) -> None:
        self.stop("immediate")


class PrivateRedis:
    """One redis-server on a free port, nothing persisted: a restart loses every queue and registry."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = free_port()
        self.log_path = base / "redis.log"
        self.proc: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server not found")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.base), "--logfile", str(self.log_path), "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(self.ready, timeout=15, message="private redis-server")

    def ready(self) -> bool:
        from redis import Redis
        from redis.exceptions import RedisError

        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except RedisError:
            return False
        finally:
            client.close()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def restart(self, down_s: float = 0.0) -> None:
        self.stop()
        if down_s:
            time.sleep(down_s)
        self.start()

    def close(self) -> None:
        self.stop()


class Proc:
    """A child process of the stack with its own log file; ``kill(9)`` is the fault, ``start()`` the restart."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name, self.argv, self.env = name, argv, env
        self.log_path = logdir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.killed = False  # ended on purpose (a fault or the teardown), not a crash

    def start(self) -> Proc:
        with self.log_path.open("ab") as log_file:
            self.proc = subprocess.Popen(self.argv, cwd=str(ROOT), env=self.env, stdout=log_file,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.killed = True
        if self.alive():
            assert self.proc is not None
            os.kill(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)

    def stop(self) -> None:
        self.killed = True
        if self.alive():
            assert self.proc is not None
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)

    def tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""


@dataclass
class ApiCall:
    at: float
    method: str
    path: str
    status: int  # 0: transport error (no answer)
    error: str | None
    elapsed_s: float


class HttpApi:
    """A logged-in operator over real HTTP (cookies + ``x-csrf-token``), recording every answer."""

    def __init__(self, base_url: str, timeout: float = 30.0) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=timeout)
        self.calls: list[ApiCall] = []
        self._lock = threading.Lock()

    def login(self) -> HttpApi:
        resp = self.http.post("/auth/login", json={"username": OPERATOR[0], "password": OPERATOR[1]})
        assert resp.status_code == 200, resp.text
        return self

    @property
    def csrf(self) -> str:
        return self.http.cookies.get("csrf_token") or ""

    def request(self, method: str, path: str, **kw: Any) -> httpx.Response | None:
        headers = {"x-csrf-token": self.csrf, **kw.pop("headers", {})} if method != "GET" else kw.pop("headers", {})
        started = time.monotonic()
        try:
            resp = self.http.request(method, path, headers=headers, **kw)
        except httpx.HTTPError as exc:
            self._record(ApiCall(time.time(), method, path, 0, type(exc).__name__, time.monotonic() - started))
            return None
        error = None
        if resp.status_code >= 400:
            try:
                error = resp.json().get("error")
            except ValueError:
                error = "not_json"
        self._record(ApiCall(time.time(), method, path, resp.status_code, error, time.monotonic() - started))
        return resp

    def _record(self, call: ApiCall) -> None:
        with self._lock:
            self.calls.append(call)

    def get(self, path: str, **kw: Any) -> httpx.Response | None:
        return self.request("GET", path, **kw)

    def post(self, path: str, json: Any = None, **kw: Any) -> httpx.Response | None:
        return self.request("POST", path, json=json if json is not None else {}, **kw)

    def ok(self, method: str, path: str, expect: tuple[int, ...] = (200, 201, 202), **kw: Any) -> dict[str, Any]:
        resp = self.request(method, path, **kw)
        assert resp is not None and resp.status_code in expect, \
            f"{method} {path}: {resp.status_code if resp else 'no answer'} {resp.text[:500] if resp else ''}"
        return resp.json()

    def create_project(self, name: str, select: bool = True) -> str:
        project = self.ok("POST", "/projects", json={"name": name})["project"]
        if select:
            self.select(project["id"])
        return project["id"]

    def select(self, project_id: str) -> None:
        self.ok("POST", f"/projects/{project_id}/select", json={})

    def bind(self, connector: str, external_id: Any) -> None:
        self.ok("POST", "/connectors/bindings", json={"connector": connector, "external_id": str(external_id)})

    def close(self) -> None:
        self.http.close()


class Prober:
    """Background readers hitting the API like the UI does, while a fault is injected.

    Every answer is kept; ``summary()`` separates 5xx answers the spec allows during the fault window
    (``allowed`` codes) from the ones it never allows.
    """

    PATHS = ("/jobs/status", "/connectors/state", "/connectors/errors", "/jobs/scheduler", "/audit?limit=20")

    def __init__(self, base_url: str, project_id: str, *, threads: int = 2, interval_s: float = 0.1,
                 paths: tuple[str, ...] = PATHS) -> None:
        self.base_url, self.project_id, self.interval_s, self.paths = base_url, project_id, interval_s, paths
        self.n_threads = threads
        self.apis: list[HttpApi] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def __enter__(self) -> Prober:
        for i in range(self.n_threads):
            api = HttpApi(self.base_url, timeout=30).login()
            api.select(self.project_id)
            api.calls.clear()
            self.apis.append(api)
            thread = threading.Thread(target=self._loop, args=(api, i), daemon=True, name=f"prober-{i}")
            self._threads.append(thread)
            thread.start()
        return self

    def _loop(self, api: HttpApi, offset: int) -> None:
        i = offset
        while not self._stop.is_set():
            api.get(self.paths[i % len(self.paths)])
            i += 1
            self._stop.wait(self.interval_s)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=40)
        for api in self.apis:
            api.close()

    @property
    def calls(self) -> list[ApiCall]:
        return [c for api in self.apis for c in api.calls]


def classify_calls(calls: list[ApiCall], allowed: frozenset[str] = frozenset()) -> dict[str, int]:
    """Counts: total, 5xx the spec allows in this window (by error code), unexpected 5xx, no answer."""
    allowed_5xx = sum(1 for c in calls if c.status >= 500 and c.error in allowed)
    unexpected = sum(1 for c in calls if c.status >= 500 and c.error not in allowed)
    return {"requests": len(calls), "api_5xx": unexpected, "api_503_allowed": allowed_5xx,
            "no_answer": sum(1 for c in calls if c.status == 0)}


@dataclass
class StackConfig:
    web_workers: int = 2
    pools: dict[str, int] = field(default_factory=lambda: {"chatwoot": 1})
    scheduler: bool = True
    chroma: bool = True
    extra_env: dict[str, str] = field(default_factory=dict)


class Stack:
    """Everything of the Procfile, on private services; see the module docstring."""

    def __init__(self, config: StackConfig | None = None, emulator_env: dict[str, str] | None = None) -> None:
        self.config = config or StackConfig()
        self.base = Path(tempfile.mkdtemp(prefix="keel-stack-"))
        self.logdir = self.base / "logs"
        self.logdir.mkdir()
        self.pg = PrivatePostgres(self.base)
        self.redis = PrivateRedis(self.base)
        self.emulator_env = dict(emulator_env or {})
        self.web: Proc | None = None
        self.port = free_port()
        self.procs: dict[str, Proc] = {}
        self.chroma: Proc | None = None
        self._engine: Engine | None = None
        self._counter = 0

    # -- lifecycle -------------------------------------------------------------------------------
    @property
    def env(self) -> dict[str, str]:
        from tests.jobs.connector_support import FAST_LIMITS

        env = base_env(self.pg.url, self.redis.url, **FAST_LIMITS, **self.emulator_env)
        env.update({"PYTHONPATH": str(ROOT), "HF_HUB_OFFLINE": "1", "ANONYMIZED_TELEMETRY": "False",
                    "PYTHONUNBUFFERED": "1", "PYTHONFAULTHANDLER": "1", "CONNECTOR_HTTP_TIMEOUT_SECONDS": "3",
                    "CONNECTOR_HTTP_CONNECT_TIMEOUT_SECONDS": "2"})
        if self.chroma is not None:
            env.update({"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(self._chroma_port)})
        env.update(self.config.extra_env)
        return env

    def process_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def start(self) -> Stack:
        try:
            self.pg.init().start()
            self.pg.create_database()
            self.redis.start()
            if self.config.chroma:
                self._start_chroma()
            release = subprocess.run([PYTHON, "-m", "shared.db.migrate"], cwd=str(ROOT), env=self.process_env(),
                                     capture_output=True, timeout=300)
            if release.returncode != 0:
                raise RuntimeError(f"release failed: {release.stderr.decode(errors='replace')[-3000:]}")
            self.start_web()
            for pool, count in self.config.pools.items():
                for _ in range(count):
                    self.start_worker(pool)
            rest = [q for q in self._all_queues() if q not in self.config.pools]
            if rest:
                self.start_worker(",".join(rest), name="rest")
            if self.config.scheduler:
                self.procs["scheduler"] = Proc("scheduler", [PYTHON, "-m", "workers.scheduler"], self.process_env(),
                                               self.logdir).start()
        except BaseException:
            self.stop()
            raise
        return self

    @staticmethod
    def _all_queues() -> tuple[str, ...]:
        from shared.catalog import QUEUES

        return tuple(QUEUES)

    def _start_chroma(self) -> None:
        binary = Path(PYTHON).parent / "chroma"
        if not binary.exists():
            return
        self._chroma_port = free_port()
        data = self.base / "chroma"
        data.mkdir()
        self.chroma = Proc("chroma", [str(binary), "run", "--path", str(data), "--host", "127.0.0.1",
                                      "--port", str(self._chroma_port)], dict(os.environ), self.logdir).start()

        def up() -> bool:
            try:
                return httpx.get(f"http://127.0.0.1:{self._chroma_port}/api/v2/heartbeat", timeout=1).is_success
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, interval=0.2, message="chroma server")

    def start_web(self) -> None:
        """gunicorn as the Procfile runs it; its log goes to a file (a pipe nobody reads would block it)."""
        gunicorn = str(Path(PYTHON).parent / "gunicorn")
        env = {**self.process_env(), "PORT": str(self.port), "HOST": "127.0.0.1",
               "WEB_CONCURRENCY": str(self.config.web_workers),
               "PROMETHEUS_MULTIPROC_DIR": str(self.base / "prometheus")}
        self.web = Proc("web", [gunicorn, "-c", "web/gunicorn_conf.py", "web.app:create_app()"], env,
                        self.logdir).start()

        def up() -> bool:
            if not self.web.alive():  # type: ignore[union-attr]
                raise AssertionError(f"gunicorn exited:\n{self.web.tail()}")  # type: ignore[union-attr]
            try:
                return httpx.get(self.url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, timeout=60, interval=0.2, message="gunicorn to answer /health")

    def start_worker(self, pool: str, name: str | None = None) -> Proc:
        self._counter += 1
        name = name or f"{pool.replace(',', '+')}-{self._counter}"
        proc = Proc(f"worker-{name}", [PYTHON, "-m", "workers", pool, "--name", f"{name}-{os.getpid()}"],
                    self.process_env(), self.logdir).start()
        self.procs[f"worker-{name}"] = proc
        return proc

    def unexpected_exits(self) -> list[str]:
        """Processes of the stack that ended without being killed or stopped on purpose."""
        procs = [self.web, *self.procs.values()] if self.web is not None else list(self.procs.values())
        return [f"{p.name} (exit {p.proc.returncode if p.proc else None})" for p in procs
                if p is not None and not p.killed and not p.alive()]

    def workers(self, pool: str) -> list[Proc]:
        return [p for n, p in self.procs.items() if n.startswith(f"worker-{pool}-") and p.alive()]

    def stop(self) -> None:
        """Stop everything; one step failing (a process already gone) never skips the others."""
        steps = [proc.stop for proc in self.procs.values()]
        steps += [self.web.stop] if self.web is not None else []
        steps += [self.chroma.stop] if self.chroma is not None else []
        steps += [self._engine.dispose] if self._engine is not None else []
        steps += [self.redis.close, self.pg.close]
        for step in steps:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - teardown goes on
                print(f"stack teardown: {step!r} failed: {exc!r}", file=sys.stderr)

    def cleanup(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        if exc[0] is None:
            self.cleanup()

    # -- access ----------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def api(self) -> HttpApi:
        return HttpApi(self.url).login()

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = create_engine(self.pg.url, pool_pre_ping=True, pool_size=2)
        return self._engine

    def scalar(self, sql: str, **params: Any) -> Any:
        for attempt in range(30):  # the private PostgreSQL may be restarting
            try:
                with self.engine.connect() as conn:
                    return conn.execute(text(sql), params).scalar()
            except Exception:  # noqa: BLE001
                if attempt == 29:
                    raise
                time.sleep(1)
        return None

    def rows(self, sql: str, **params: Any) -> list[Any]:
        with self.engine.connect() as conn:
            return list(conn.execute(text(sql), params))

    def web_log(self) -> str:
        return self.web.log_path.read_text(errors="replace") if self.web is not None else ""

    def logs(self) -> str:
        procs = {"web": self.web, **self.procs} if self.web is not None else self.procs
        return "\n".join(f"--- {name}\n{proc.tail()}" for name, proc in procs.items())
