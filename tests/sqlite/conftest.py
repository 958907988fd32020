"""The embedded default: the same flows on a SQLite file (the run command's database)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.config import Settings
from shared.db.migrate import upgrade
from shared.runtime import Runtime
from tests.conftest import base_env, truncate_all


@pytest.fixture(scope="session")
def sqlite_runtime(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[Runtime]:
    path = Path(tmp_path_factory.mktemp("sqlite")) / "keel.db"
    rt = Runtime(Settings.from_env(base_env(f"sqlite:///{path}", redis_url)))
    upgrade(rt.engine)
    yield rt
    rt.close()


@pytest.fixture()
def clean(sqlite_runtime: Runtime) -> Iterator[Runtime]:
    """Overrides the PostgreSQL ``clean`` fixture: every fixture built on it runs on SQLite here."""
    truncate_all(sqlite_runtime)
    for key in sqlite_runtime.redis.scan_iter(count=1000):
        if key != b"keel:test:claim":
            sqlite_runtime.redis.delete(key)
    yield sqlite_runtime


@pytest.fixture()
def runtime(clean: Runtime) -> Runtime:
    return clean
