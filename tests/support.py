"""Test infrastructure: a private PostgreSQL database and Redis db per run, and polling helpers."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import psycopg
from redis import Redis

T = TypeVar("T")
PG_ADMIN_URL = os.environ.get("KEEL_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("KEEL_TEST_REDIS", "redis://127.0.0.1:6379")
CLAIM_KEY = "keel:test:claim"


def create_pg_database() -> tuple[str, str]:
    name = f"keel_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
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
             message: str = "condition") -> T:
    """Poll ``predicate`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}; last value: {last!r}")
