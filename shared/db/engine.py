"""Engines and sessions, built per process (never at import; after fork for workers)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from shared.db import scope_guard


def make_engine(url: str, *, pool_size: int = 10, max_overflow: int = 5) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    engine = create_engine(url, pool_size=pool_size, max_overflow=max_overflow, pool_recycle=1800,
                           connect_args={"connect_timeout": 10})
    ping_when_idle(engine)
    return engine


IDLE_PING_AFTER_S = 10.0


def ping_when_idle(engine: Engine, idle_s: float = IDLE_PING_AFTER_S) -> None:
    """Pessimistic disconnect handling for connections that sat in the pool for ``idle_s`` or more.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: one extra round trip per request,
    the largest single cost of a cheap authenticated read. A connection used in the last few
    seconds is trusted instead; if the server went away meanwhile, the statement fails with a
    disconnect error, which invalidates the whole pool (the request answers 503
    ``database_unavailable``, a job retries) and the next checkout connects afresh.
    """

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record) -> None:  # noqa: ANN001
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy) -> None:  # noqa: ANN001
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < idle_s:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # noqa: BLE001 - any failure means: replace this connection
            raise DisconnectionError(str(exc)) from exc


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    scope_guard.install()
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on error, always close."""
    with factory() as session, session.begin():
        yield session
