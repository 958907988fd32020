"""The fault suite's markers: ``long`` runs only with ``KEEL_RESILIENCE_LONG=1`` (``bench/resilience.py``
runs the long form directly and writes ``bench/results/resilience.json``)."""

from __future__ import annotations

import os
import shutil

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "long: the long form of the fault suite (KEEL_RESILIENCE_LONG=1)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("KEEL_RESILIENCE_LONG"):
        return
    skip = pytest.mark.skip(reason="long fault suite: set KEEL_RESILIENCE_LONG=1 or run bench/resilience.py")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


def stack_missing() -> str | None:
    from tests.resilience.stack import postgres_bindir

    try:
        postgres_bindir()
    except RuntimeError as exc:
        return str(exc)
    return None if shutil.which("redis-server") else "redis-server not found"
