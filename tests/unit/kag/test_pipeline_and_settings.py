"""Flags, settings, follow-up chain (kag.md §2, §15) and the rounding/time primitives of §1."""

from __future__ import annotations

import pytest

from jobs.kag.pipeline import (
    KAG_DISABLED_RESULT,
    evaluate_project,
    follow_up,
    follow_up_chain,
    next_follow_up,
)
from jobs.kag.rounding import clamp, fmt, rnd
from jobs.kag.settings import KagSettings, parse_flag
from jobs.kag.timeutil import iso_z, parse_ts
from jobs.kag.vocab import NBA_STATUSES, V1_STATUSES, RecommendationStatus, parse_status
from tests.unit.kag._support import NOW, STUDIO, events


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", True),
        ("TRUE", True),
        (" yes ", True),
        ("on", True),
        ("Enabled", True),
        (None, "default"),
        ("", "default"),
        ("  ", "default"),
        ("0", False),
        ("nope", False),
    ],
)
def test_flag_parsing(raw, expected):
    assert parse_flag(raw, True) is (True if expected == "default" else expected)
    assert parse_flag(raw, False) is (False if expected == "default" else expected)


def test_settings_bounds_and_model():
    s = KagSettings.from_env(
        {
            "KAG_EVENT_LOG_LOOKBACK_DAYS": "500",
            "KAG_SNAPSHOT_RETENTION_DAYS": "1",
            "KAG_HISTORY_RETENTION_DAYS": "x",
            "KAG_FORECAST_MODEL": " LOGIT_V1 ",
            "KAG_ENABLED": "off",
        }
    )
    assert (s.event_log_lookback_days, s.snapshot_retention_days, s.history_retention_days) == (90, 35, 180)
    assert s.forecast_model == "logit_v1" and s.kag_enabled is False
    assert KagSettings.from_env({"KAG_FORECAST_MODEL": "magic"}).forecast_model == "rules_v1"


def test_follow_up_chain_obeys_flags():
    assert follow_up_chain(KagSettings()) == [
        "project_snapshot_daily",
        "kag_v2_forecast_refresh",
        "kag_v2_recommendations_refresh",
    ]
    assert follow_up_chain(KagSettings(snapshots_enabled=False, recommendations_enabled=False)) == [
        "kag_v2_forecast_refresh",
    ]
    chain = follow_up_chain(KagSettings())
    assert follow_up(chain) == {
        "job_type": "project_snapshot_daily",
        "params": {"chain": ["kag_v2_forecast_refresh", "kag_v2_recommendations_refresh"]},
    }
    assert next_follow_up(
        {"chain": ["kag_v2_forecast_refresh", "kag_v2_recommendations_refresh"]},
        KagSettings(forecasting_enabled=False),
    ) == {
        "job_type": "kag_v2_recommendations_refresh",
        "params": {"chain": []},
    }
    assert next_follow_up({"chain": []}) is None and follow_up([]) is None
    assert KAG_DISABLED_RESULT["skipped"] == "kag_disabled"


def test_disabled_recommendations_skip_v1_and_v2():
    evs = events(("message_sent", "2026-02-13T10:00Z", {"sender": "team"}, [{"message_id": "m"}]))
    e = evaluate_project(evs, NOW, context=STUDIO, settings=KagSettings(recommendations_enabled=False))
    assert e.v1 is None and e.v2 is None and e.forecasts


def test_rounding_is_half_away_from_zero_on_the_exact_float():
    assert rnd(2.675, 2) == 2.67  # the float is 2.67499999…
    assert rnd(0.125, 2) == 0.13 and rnd(-0.125, 2) == -0.13
    assert fmt(4.08333, 1) == "4.1" and fmt(1.2, 2) == "1.20" and fmt(-0.0001, 2) == "0.00"
    assert rnd(float("nan"), 2) == 0
    assert clamp(float("inf"), 0, 1) == 0 and clamp("x", 2, 3) == 2 and clamp(5, 0, 1) == 1


def test_timestamps():
    assert iso_z(parse_ts("2026-02-13T09:00Z")) == "2026-02-13T09:00:00.000Z"
    assert parse_ts("2026-02-13") == parse_ts("2026-02-13T00:00:00+00:00")
    assert parse_ts(1771329600) == parse_ts(1771329600000) == NOW
    assert parse_ts("2026-02-13T09:00:00.123456789+03:00").isoformat() == "2026-02-13T06:00:00.123456+00:00"
    assert parse_ts("nonsense") is None and parse_ts(True) is None


def test_shared_status_vocabulary():
    assert set(V1_STATUSES) < set(NBA_STATUSES)
    assert set(NBA_STATUSES) == {s.value for s in RecommendationStatus}
    assert parse_status(" Done ", V1_STATUSES) == "done"
