"""Shared fixtures: real PostgreSQL and Redis (own database, own db number), app, client, auth."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from sqlalchemy import inspect, text

from shared.config import Settings
from shared.db.base import Base
from shared.db.migrate import upgrade
from shared.runtime import Runtime
from tests.support import (
    ChromaProcess,
    chroma_binary,
    claim_redis_db,
    create_pg_database,
    drop_pg_database,
    release_redis_db,
)

OPERATOR = ("operator", "correct-horse-battery")
KEEP_TABLES = {"alembic_version", "account_scopes", "app_users"}


def base_env(database_url: str, redis_url: str, **extra: str) -> dict[str, str]:
    env = {
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "AUTH_CREDENTIALS": ":".join(OPERATOR),
        "APP_ENV": "test", "LOG_LEVEL": "warning", "SESSION_SECRET": "test-secret-" + "x" * 32,
        "CORS_ORIGIN": "http://ui.test", "EMBEDDINGS_PROVIDER": "hashing",
    }
    env.update(extra)
    return env


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name, url = create_pg_database(durable_commits=False)
    try:
        yield url
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    owner = f"{os.getpid()}:{uuid.uuid4()}"
    number = claim_redis_db(owner)
    base = os.environ.get("KEEL_TEST_REDIS", "redis://127.0.0.1:6379")
    try:
        yield f"{base}/{number}"
    finally:
        release_redis_db(number, owner)


@pytest.fixture(scope="session")
def env(pg_url: str, redis_url: str) -> dict[str, str]:
    return base_env(pg_url, redis_url)


@pytest.fixture(scope="session")
def settings(env: dict[str, str]) -> Settings:
    return Settings.from_env(env)


@pytest.fixture(scope="session")
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    upgrade(rt.engine)
    yield rt
    rt.close()


_PG_SEQUENCES: list[str] | None = None


def _pg_sequences(conn: Any) -> list[str]:
    """Sequences owned by a column of a table the clean-up empties (identity or serial)."""
    global _PG_SEQUENCES
    if _PG_SEQUENCES is None:
        rows = conn.execute(text(
            "SELECT s.relname, t.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "AND d.deptype IN ('a', 'i') JOIN pg_class t ON t.oid = d.refobjid WHERE s.relkind = 'S'"))
        _PG_SEQUENCES = sorted(seq for seq, table in rows if table not in KEEP_TABLES)
    return _PG_SEQUENCES


def truncate_all(rt: Runtime) -> None:
    """Empty every table but the kept ones, as if freshly migrated.

    On PostgreSQL only the tables that hold rows are emptied (one TRUNCATE of all 70 tables costs
    over a second per test), and every owned sequence restarts, so ids behave as after
    ``RESTART IDENTITY`` whether or not a test's rows are still there.
    """
    with rt.engine.begin() as conn:
        existing = set(inspect(conn).get_table_names())  # a model may land before its migration
        tables = [t.name for t in Base.metadata.sorted_tables if t.name not in KEEP_TABLES and t.name in existing]
        postgres = conn.dialect.name == "postgresql"
        if postgres:
            probe = " UNION ALL ".join(f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM {name})" for name in tables)
            tables = [row[0] for row in conn.execute(text(probe))]
        for name in reversed(tables):  # children first; DELETE of a few small tables beats TRUNCATE
            conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(text("DELETE FROM account_scopes WHERE scope_key <> 'default'"))
        if postgres and (sequences := _pg_sequences(conn)):
            restart = "SELECT setval(name::regclass, 1, false) FROM unnest(CAST(:names AS text[])) AS name"
            conn.execute(text(restart), {"names": sequences})


@pytest.fixture()
def frozen(monkeypatch: pytest.MonkeyPatch) -> None:
    """KAG stages read the time through ``jobs.kag.handlers_common.clock``: fixed at the worked examples' NOW."""
    from tests.jobs.kag_v1_support import NOW

    monkeypatch.setattr("jobs.kag.handlers_common.clock", lambda: NOW)


@pytest.fixture()
def clean(runtime: Runtime) -> Iterator[Runtime]:
    truncate_all(runtime)
    redis: Redis = runtime.redis
    for key in redis.scan_iter(count=1000):
        if key != b"keel:test:claim":
            redis.delete(key)
    yield runtime


@pytest.fixture()
def app(clean: Runtime):  # noqa: ANN201
    from web.app import create_app

    return create_app(runtime=clean)


@pytest.fixture()
def client(app):  # noqa: ANN001, ANN201
    return app.test_client()


class Api:
    """A logged-in test client: CSRF header added to mutating calls, JSON bodies by default."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.csrf: str | None = None

    def login(self, username: str = OPERATOR[0], password: str = OPERATOR[1]) -> Any:
        resp = self.client.post("/auth/login", json={"username": username, "password": password})
        cookie = self.client.get_cookie("csrf_token")
        self.csrf = cookie.value if cookie else None
        return resp

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = {"x-csrf-token": self.csrf or ""}
        out.update(headers or {})
        return out

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(path, **kw)

    def post(self, path: str, json: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
        return self.client.post(path, json=json if json is not None else {}, headers=self._headers(headers), **kw)

    def create_project(self, name: str = "Project A", scope_key: str | None = None, select: bool = True) -> dict:
        body: dict[str, Any] = {"name": name}
        if scope_key:
            body["account_scope_key"] = scope_key
        resp = self.post("/projects", body)
        assert resp.status_code == 201, resp.get_json()
        project = resp.get_json()["project"]
        if select:
            self.select(project["id"])
        return project

    def select(self, project_id: str) -> None:
        resp = self.post(f"/projects/{project_id}/select")
        assert resp.status_code == 200, resp.get_json()


@pytest.fixture()
def api(client) -> Api:  # noqa: ANN001
    a = Api(client)
    assert a.login().status_code == 200
    return a


@pytest.fixture()
def run_jobs(clean: Runtime):  # noqa: ANN201
    """Run every queued job in-process with a burst worker (RQ retries scheduled later are not run)."""
    from shared.catalog import QUEUES
    from shared.queues import SERIALIZER, queue
    from shared.runtime import install
    from workers.worker import KeelWorker

    def run(*names: str) -> int:
        install(clean)
        worker = KeelWorker([queue(n, clean.redis) for n in (names or QUEUES)], connection=clean.redis,
                            serializer=SERIALIZER)
        worker.work(burst=True, logging_level="WARNING")
        return worker.successful_job_count

    return run


# --- Chroma server (connectors-rag §8): one real `chroma run` per session ------------------------------
@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    if chroma_binary() is None:
        pytest.skip("the `chroma` executable (chromadb package) is not installed in this environment")
    server = ChromaProcess(tmp_path_factory.mktemp("chroma"))
    try:
        server.start()
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield server.host, server.port
    finally:
        server.stop()


@pytest.fixture()
def vectors(clean: Runtime, chroma_server: tuple[str, int]) -> Iterator[Any]:
    """``clean.vectors`` pointed at the session's Chroma server.

    Collections are per project and every test makes new projects, so nothing is cleaned up here.
    """
    from shared.vectors import VectorStore, VectorStoreSettings

    host, port = chroma_server
    store = VectorStore(VectorStoreSettings(host=host, port=port))
    clean.__dict__["vectors"] = store
    try:
        yield store
    finally:
        clean.__dict__.pop("vectors", None)
