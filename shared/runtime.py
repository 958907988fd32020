"""Per-process resources built from ``Settings``: database, Redis, queues.

Built by ``create_app()`` and by each worker's ``main()`` after fork; ``current()`` returns the
process's runtime so job handlers (which receive only ids) can reach them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from shared.config import Settings
from shared.db.engine import make_engine, make_sessionmaker

if TYPE_CHECKING:
    from shared.vectors import VectorStore

_current: Runtime | None = None
_lock = threading.Lock()


class Runtime:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return make_sessionmaker(self.engine)

    @cached_property
    def read_sessions(self) -> sessionmaker[Session]:
        """Sessions for read-only requests: each statement runs in autocommit, so a cheap read costs
        its own queries and no ``BEGIN``/``ROLLBACK`` round trips. PostgreSQL's READ COMMITTED gives
        each statement its own snapshot inside a transaction anyway, so reads see the same data."""
        return make_sessionmaker(self.autocommit_engine)

    @cached_property
    def autocommit_engine(self) -> Engine:
        """The engine with every statement its own transaction: one round trip for a single-statement write
        (no ``BEGIN``/``COMMIT``), e.g. a job's claim."""
        return self.engine.execution_options(isolation_level="AUTOCOMMIT")

    @cached_property
    def redis(self) -> Redis:
        """Redis client for RQ (bytes; RQ needs ``decode_responses=False``)."""
        return Redis.from_url(self.settings.redis_url, socket_connect_timeout=2, socket_timeout=5,
                              health_check_interval=30)

    @cached_property
    def vectors(self) -> VectorStore:
        """The process's Chroma client (connectors-rag §8); connects on first use."""
        from shared.vectors import VectorStore, VectorStoreSettings

        return VectorStore(VectorStoreSettings.from_env(self.settings.environ))

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session whose transaction the caller owns (``with rt.session() as s, s.begin():``)."""
        with self.sessions() as session:
            yield session

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        with self.sessions() as session, session.begin():
            yield session

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
        if "redis" in self.__dict__:
            self.redis.close()


def install(runtime: Runtime) -> Runtime:
    global _current
    with _lock:
        _current = runtime
    return runtime


def current() -> Runtime:
    """The process runtime; built lazily from the environment in a worker process."""
    global _current
    if _current is None:
        with _lock:
            if _current is None:
                _current = Runtime(Settings.from_env())
    return _current
