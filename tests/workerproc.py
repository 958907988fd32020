"""Test-only worker entry point and test connector routines.

``python -m tests.workerproc <pool> [--burst]`` registers the routines named in ``KEEL_TEST_ROUTINES``
(``linear=slow,chatwoot=flaky``) in ``jobs.connectors.sync.ROUTINES`` and then runs the real pool entry
point ``workers.__main__.main``. The routines coordinate with the test through Redis keys, never sleeps:
``test:routine:started``/``completed``/``calls`` count executions, ``test:routine:release`` lets a slow
routine finish, ``test:routine:fail_times`` says how often the flaky one fails first.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from shared.errors import TransientError, UpstreamClientError
from shared.runtime import current
from shared.scope import Scope

PREFIX = "test:routine:"
SLOW_DEADLINE_S = 60.0


def _redis() -> Any:
    return current().redis


def slow_routine(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Runs until the test sets ``test:routine:release`` (simulated long work), then succeeds."""
    redis = _redis()
    redis.incr(PREFIX + "started")
    deadline = time.monotonic() + SLOW_DEADLINE_S
    while not redis.exists(PREFIX + "release"):
        if time.monotonic() > deadline:
            raise TransientError("slow routine was never released")
        time.sleep(0.02)  # the simulated work itself, not test synchronisation
    redis.incr(PREFIX + "completed")
    return {"processed_issues": 1, "cursor_ts": None, "cursor_id": None}


def flaky_routine(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    """Fails transiently ``fail_times`` times (503 from the vendor), then succeeds."""
    redis = _redis()
    calls = redis.incr(PREFIX + "calls")
    if calls <= int(redis.get(PREFIX + "fail_times") or 0):
        raise TransientError("upstream answered 503", status=503, error_kind="http_503")
    redis.incr(PREFIX + "completed")
    return {"processed_issues": 2, "touched_issues": 2, "touched_projects": 1}


def failing_routine(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict[str, Any]:
    _redis().incr(PREFIX + "calls")
    raise TransientError("upstream answered 503", status=503, error_kind="http_503")


def unauthorized_routine(scope: Scope, external_id: str, state: dict[str, Any], log: logging.Logger) -> dict:
    _redis().incr(PREFIX + "calls")
    raise UpstreamClientError("upstream answered 401 Unauthorized", status=401, error_kind="auth_failed")


def register(spec: str) -> None:
    from jobs.connectors import sync

    for pair in filter(None, (p.strip() for p in spec.split(","))):
        connector, _, name = pair.partition("=")
        sync.ROUTINES[connector] = f"tests.workerproc:{name}_routine"


def main() -> int:
    register(os.environ.get("KEEL_TEST_ROUTINES", ""))
    from workers.__main__ import main as worker_main

    return worker_main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
