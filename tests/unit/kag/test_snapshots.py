"""Snapshots, outcomes and retention (kag.md §11)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from jobs.kag.errors import InvalidSnapshotDate
from jobs.kag.keys import sha1hex
from jobs.kag.settings import KagSettings
from jobs.kag.snapshots import (
    OUTCOME_NOTES,
    build_snapshot,
    derive_outcomes,
    key_aggregates,
    normalized_signal,
    parse_snapshot_date,
    retention_cutoffs,
    retention_guard_key,
    snapshot_result,
)
from tests.unit.kag._support import NOW

TODAY = date(2026, 2, 17)


def sig(key, value, warn=None, critical=None, status="ok", refs=()):
    return {
        "signal_key": key,
        "value": value,
        "status": status,
        "threshold_warn": warn,
        "threshold_critical": critical,
        "details": {},
        "evidence_refs": list(refs),
        "computed_at": NOW,
    }


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((2.0, "warn", 2, 4, "waiting_on_client_days"), 0.5),
        ((9.0, "critical", 2, 4, "waiting_on_client_days"), 1.0),
        ((-0.225, "warn", -0.15, -0.30, "sentiment_trend"), 0.5),
        ((0.3, "ok", -0.15, -0.30, "sentiment_trend"), 0.0),
        ((1.0, "critical", None, None, "x"), 0.9),
        ((1.0, "warn", 1, 1, "x"), 0.6),
        ((1.0, "ok", None, 2, "x"), 0.1),
    ],
)
def test_normalized_signal(args, expected):
    assert normalized_signal(*args) == pytest.approx(expected)


def test_snapshot_is_publishable_only_with_signal_evidence():
    unpublishable = build_snapshot([sig("waiting_on_client_days", 1, 2, 4)], [], NOW)
    assert unpublishable.publishable is False and unpublishable.snapshot_date == TODAY
    published = build_snapshot(
        [sig("waiting_on_client_days", 1, 2, 4, refs=[{"message_id": "m"}])],
        [],
        NOW,
        snapshot_date=date(2026, 2, 10),
    )
    assert published.publishable is True and published.snapshot_date == date(2026, 2, 10)
    assert published.signals_json["waiting_on_client_days"]["computed_at"] == "2026-02-17T12:00:00.000Z"
    assert snapshot_result(published, [])["snapshot_date"] == "2026-02-10"


def test_key_aggregates_skip_process_events_and_count_open_work():
    log = [
        {"event_type": "message_sent", "source": "chatwoot", "occurred_at": NOW - timedelta(days=1)},
        {"event_type": "issue_blocked", "source": "linear", "occurred_at": NOW - timedelta(days=10)},
        {"event_type": "deal_stage_changed", "source": "attio", "occurred_at": NOW - timedelta(days=20)},
        {"event_type": "process_started", "source": "system", "occurred_at": NOW},
    ]
    issues = [
        {"completed_at": None, "blocked": True, "due_date": "2026-02-16"},
        {"completed_at": None, "blocked": False, "due_date": "2026-02-17"},
        {"completed_at": "2026-02-01T00:00Z", "blocked": True, "due_date": "2026-01-01"},
    ]
    deals = [
        {"stage": "proposal", "amount": 100.555},
        {"stage": "Won 🎉", "amount": 1000},
        {"stage": "x", "amount": None},
    ]
    agg = key_aggregates(log, issues, deals, now=NOW)
    assert agg["events"] == {"events_7d": 1, "events_14d": 2, "events_30d": 3}
    assert agg["events_by_source_14d"] == {"chatwoot": 1, "linear": 1}
    assert agg["workload"] == {"open_issues": 2, "blocked_issues": 1, "overdue_issues": 1}
    assert agg["revenue"] == {"pipeline_amount": 100.56, "opportunities": 2}


def test_signal_outcomes_one_per_type_per_day_with_fixed_keys():
    signals = [
        sig("blockers_age", 5.5, refs=[{"linear_issue_id": "L"}]),
        sig("budget_burn_rate", 1.3),
        sig("margin_risk", 0.1),
        sig("waiting_on_client_days", 6.0, refs=[{"message_id": "m"}]),
        sig("scope_creep_rate", 0.35),
    ]
    scores = [{"score_type": "risk", "score": 85}, {"score_type": "project_health", "score": 60}]
    outcomes = derive_outcomes("P", TODAY, signals, scores)
    assert [(o.outcome_type, o.severity) for o in outcomes] == [
        ("delivery_risk", 5),
        ("finance_risk", 5),
        ("client_risk", 5),
        ("scope_risk", 4),
    ]
    delivery = outcomes[0]
    assert delivery.dedupe_key == sha1hex(
        f"P:delivery_risk:2026-02-17T23:59:59.000Z:{OUTCOME_NOTES['delivery_risk']}"
    )
    assert [r["linear_issue_id"] for r in delivery.evidence_refs] == ["L"]
    assert derive_outcomes("P", TODAY, signals, scores)[0].to_row() == delivery.to_row()


def test_low_health_alone_is_a_client_outcome_and_missing_health_counts_as_100():
    assert [
        o.outcome_type
        for o in derive_outcomes("P", TODAY, [], [{"score_type": "project_health", "score": 45}])
    ] == [
        "client_risk",
    ]
    assert derive_outcomes("P", TODAY, [], []) == []


def test_deal_stage_outcomes_on_the_snapshot_date():
    log = [
        {
            "id": 11,
            "event_type": "deal_stage_changed",
            "source_ref": "d1",
            "occurred_at": "2026-02-17T08:00Z",
            "payload_json": {"stage": "Frozen", "deal_id": "attiodeal:w:d1"},
        },
        {
            "id": 12,
            "event_type": "deal_stage_changed",
            "source_ref": "d2",
            "occurred_at": "2026-02-17T09:00Z",
            "payload_json": {"stage": "Closed-Lost"},
        },
        {
            "id": 13,
            "event_type": "deal_stage_changed",
            "source_ref": "d3",
            "occurred_at": "2026-02-16T09:00Z",
            "payload_json": {"stage": "lost"},
        },
        {
            "id": 14,
            "event_type": "deal_stage_changed",
            "source_ref": "d4",
            "occurred_at": "2026-02-17T09:00Z",
            "payload_json": {"stage": "Won 🎉"},
        },
    ]
    outcomes = derive_outcomes("P", TODAY, [], [], event_log=log)
    assert [(o.outcome_type, o.severity, o.source_event_id) for o in outcomes] == [
        ("client_risk", 4, 11),
        ("client_risk", 4, 12),
    ]
    assert outcomes[0].evidence_refs[0]["attio_record_id"] == "d1"
    assert outcomes[0].evidence_refs[0]["source_pk"] == "attiodeal:w:d1"
    assert outcomes[0].dedupe_key == sha1hex("P:client_risk:2026-02-17T08:00:00.000Z:d1")


@pytest.mark.parametrize(
    "value",
    [
        "2026-13-01",
        "17.02.2026",
        "2026-02-18",
        "2026-02-18T01:00:00Z",
        "2026-02-17T23:30:00-05:00",
        "tomorrow",
        5,
    ],
)
def test_invalid_snapshot_dates(value):
    with pytest.raises(InvalidSnapshotDate):
        parse_snapshot_date(value, NOW)


def test_valid_snapshot_dates():
    assert parse_snapshot_date(None, NOW) is None
    assert parse_snapshot_date("2026-02-17", NOW) == TODAY
    assert parse_snapshot_date("2026-02-16T23:30:00+00:00", NOW) == date(2026, 2, 16)


def test_retention_cutoffs():
    cut = retention_cutoffs(
        NOW,
        KagSettings(snapshot_retention_days=35, history_retention_days=30, process_event_retention_days=7),
    )
    assert cut.snapshots_before == date(2026, 1, 13)
    assert cut.history_before == NOW - timedelta(days=30)
    assert cut.process_events_before == NOW - timedelta(days=7)
    assert retention_guard_key(NOW) == "kag:retention:2026-02-17"
