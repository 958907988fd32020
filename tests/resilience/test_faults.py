"""The fault suite, short form: the whole stack on a private PostgreSQL and Redis, faults injected.

One stack for the module (gunicorn web, ``python -m workers`` processes, the scheduler, Chroma, the vendor
emulators): worker ``kill -9`` mid-sync, Redis restart, PostgreSQL restart, vendor 429/5xx/timeout/malformed
bursts, and the UI load while a sync runs. Each asserts no record lost or duplicated, no run left in
flight, no API 5xx beyond the spec's outage answers. The long form (10 kills, bigger bursts, a PostgreSQL
crash) is ``bench/resilience.py`` / ``KEEL_RESILIENCE_LONG=1``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.resilience import scenarios
from tests.resilience.conftest import stack_missing

pytestmark = [pytest.mark.slow, pytest.mark.skipif(stack_missing() is not None, reason=str(stack_missing()))]


@pytest.fixture(scope="module")
def lab() -> Iterator[scenarios.SyncLab]:
    with scenarios.sync_lab(accounts=16) as lab:
        yield lab


def check(result: scenarios.ScenarioResult, lab: scenarios.SyncLab) -> None:
    report = result.as_dict()
    report["details"].pop("projects", None)
    print(json.dumps(report, indent=1, default=str))
    if not result.passed:
        lines = lab.stack.web_log().splitlines()
        errors = [line for line in lines if '"level": "error"' in line or '"status": 500' in line]
        report["web_errors"] = errors[-20:]
    assert result.passed, json.dumps(report, default=str)


def test_redis_restart_keeps_the_api_up_and_the_data_whole(lab: scenarios.SyncLab) -> None:
    result = scenarios.redis_restart(lab)
    check(result, lab)
    assert result.details["trigger_while_down"]["error"] == "queue_unavailable"


def test_postgres_restart_mid_sync_recovers(lab: scenarios.SyncLab) -> None:
    check(scenarios.postgres_restart(lab), lab)


def test_worker_kills_vendor_bursts_and_load(lab: scenarios.SyncLab) -> None:
    """Worker ``kill -9`` mid-sync; while RQ's retry interval runs down, the vendor fault bursts and the UI load
    (neither disturbs the killed runs, so the suite does not wait 30 s idle)."""
    during: dict[str, Any] = {}

    def meanwhile() -> None:
        during["vendor"] = scenarios.vendor_faults(lab, burst=2)
        during["load"] = scenarios.load_during_sync(lab, clients=50, duration_s=5)

    kills = scenarios.worker_kill(lab, kills=2, wave=2, while_recovering=meanwhile)
    check(kills, lab)
    assert kills.details["kills_not_mid_sync"] == 0
    assert kills.details["runs_interrupted"] == 2

    vendor = during["vendor"]
    check(vendor, lab)
    assert all(k["faults_served"] >= 1 for k in vendor.details["kinds"].values())

    load = during["load"]
    print(json.dumps(load, indent=1))
    assert load["errors"] == 0, load["error_detail"]
    assert load["requests"] > 50
    assert load["sync"]["status"] == "ok" and load["sync"]["records_lost"] == 0


@pytest.mark.long
def test_long_form(lab: scenarios.SyncLab) -> None:
    for result in (scenarios.worker_kill(lab, kills=10, wave=5), scenarios.postgres_restart(lab, mode="immediate"),
                   scenarios.vendor_faults(lab, burst=5)):
        check(result, lab)
