"""``GET /health`` (platform §6.1): liveness, and readiness with ``?deep=1``."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Response
from sqlalchemy import text

from shared.db.migrate import current_revision, head_revision
from shared.errors import ServiceUnavailable
from shared.runtime import Runtime
from web.api import route
from web.context import runtime
from web.envelope import ok
from web.health import bp
from web.validation import Query

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 2.0
_pool = ThreadPoolExecutor(max_workers=3, thread_name_prefix="health")


class HealthQuery(Query):
    deep: str | None = None


def _database(rt: Runtime) -> str:
    with rt.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return "ok"


def _redis(rt: Runtime) -> str:
    rt.redis.ping()
    return "ok"


def _migrations(rt: Runtime) -> str:
    with rt.engine.connect() as conn:
        return "ok" if current_revision(conn) == head_revision() else "pending"


def deep_checks(rt: Runtime) -> dict[str, str]:
    futures = {name: _pool.submit(fn, rt) for name, fn in
               (("database", _database), ("redis", _redis), ("migrations", _migrations))}
    checks = {}
    for name, fut in futures.items():
        try:
            checks[name] = fut.result(timeout=CHECK_TIMEOUT_S)
        except FutureTimeout:
            checks[name] = "error"
        except Exception:  # noqa: BLE001 - a failed check is reported, never raised
            log.warning("health check failed", extra={"fields": {"check": name}})
            checks[name] = "error"
    return checks


@route(bp, "/health", public=True, query=HealthQuery, summary="Liveness; readiness with ?deep=1",
       responses={503: "unhealthy"})
def health(q: HealthQuery) -> Response:
    if q.deep not in (None, "", "0", "false"):
        checks = deep_checks(runtime())
        if any(v != "ok" for v in checks.values()):
            raise ServiceUnavailable("unhealthy", "Service is unhealthy", details={"checks": checks})
        return ok({"service": "server", "checks": checks})
    return ok({"service": "server"})
