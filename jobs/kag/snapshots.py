"""Daily snapshots, outcomes and retention rules (kag.md §11).

Wiring (`project_snapshot_daily`): read the stored `kag_signals` and `kag_scores`, the project's
`kag_event_log` rows of the last 30 days, `linear_issues_raw` and `attio_opportunities_raw`; call
`build_snapshot(...)` and upsert `SnapshotRow.to_row()` into `project_snapshots` on
`(project_id, snapshot_date)`; call `derive_outcomes(...)` and upsert each `OutcomeRow.to_row()`
into `past_case_outcomes` on `(project_id, dedupe_key)` (severity, notes, evidence and
source_event_id replaced). An unpublishable snapshot adds a `snapshot_unpublishable` warning
(`snapshot_warning`). Retention (`housekeeping`) uses `retention_cutoffs` / `retention_guard_key`.

Decisions where the spec is silent:
- `revenue.pipeline_amount` / `opportunities` count **open** deals only (normalised stage not
  won/lost): a pipeline is what can still be won.
- Event counts use `occurred_at >= now - N days` (no upper bound) and skip `process_*` rows.
- A deal outcome matches when the normalised stage is `lost` or the lower-cased raw stage contains
  `lost`, `churn`, `frozen` or `stalled`; its evidence `source_pk` is the event payload `deal_id`
  (the raw row id), else the event `source_ref`.
- Signal-derived outcome evidence is capped at 60 refs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from jobs.kag.events_log import KagWarning, is_process_event
from jobs.kag.evidence import CAP_SCORE, merge_refs, normalize_refs
from jobs.kag.keys import sha1hex
from jobs.kag.rounding import clamp, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.scores import index_scores
from jobs.kag.settings import KagSettings
from jobs.kag.signals import index_signals, signal_value
from jobs.kag.stages import is_closed_stage, is_lost_like_stage
from jobs.kag.timeutil import iso_z, parse_date, parse_ts, utc_date
from jobs.kag.vocab import SCORE_TYPES, SIGNAL_KEYS, WarningCode
from shared.kag.lifecycle import parse_snapshot_date  # noqa: F401 - re-exported

__all__ = [
    "OUTCOME_NOTES",
    "OutcomeRow",
    "RetentionCutoffs",
    "SnapshotRow",
    "build_snapshot",
    "derive_outcomes",
    "key_aggregates",
    "normalized_signal",
    "parse_snapshot_date",
    "retention_cutoffs",
    "retention_guard_key",
    "snapshot_result",
    "snapshot_warning",
]

OUTCOME_NOTES: dict[str, str] = {
    "delivery_risk": (
        "Delivery risk: blockers older than 5 days, stage overdue over 3 days or risk score >= 75."
    ),
    "finance_risk": "Finance risk: budget burn >= 1.2x plan or margin risk >= 0.4.",
    "client_risk": "Client risk: client silent >= 4 days, sentiment trend <= -0.3 or health <= 45.",
    "scope_risk": "Scope risk: scope creep rate >= 0.35.",
}
DEAL_OUTCOME_NOTES = "Client risk: deal moved to a lost, churned, frozen or stalled stage."
MAX_DEAL_OUTCOMES = 500


def _json_ts(value: Any) -> Any:
    ts = parse_ts(value) if value is not None else None
    return iso_z(ts) if ts is not None else value


def normalized_signal(
    value: float, status: str, warn: float | None, critical: float | None, key: str = ""
) -> float:
    """Signal risk in 0..1 (4 dp) for `normalized_signals_json` (§11.1)."""
    if warn is not None and critical is not None and warn != critical:
        if key == "sentiment_trend":
            result = clamp((warn - value) / (warn - critical), 0.0, 1.0)
        else:
            result = clamp(value / critical, 0.0, 1.0) if critical else 0.0
    else:
        result = {"critical": 0.9, "warn": 0.6}.get(status, 0.1)
    return rnd(result, 4)


def key_aggregates(
    event_log: Iterable[Any] = (),
    linear_issues: Iterable[Any] = (),
    deals: Iterable[Any] = (),
    *,
    now: datetime,
) -> dict[str, Any]:
    """`key_aggregates_json`: domain event counts, workload from Linear, pipeline from Attio."""
    domain = [row for row in event_log if not is_process_event(row)]
    counts = {"events_7d": 0, "events_14d": 0, "events_30d": 0}
    by_source: dict[str, int] = {}
    for row in domain:
        occurred = parse_ts(get(row, "occurred_at"))
        if occurred is None:
            continue
        for days in (7, 14, 30):
            if occurred >= now - timedelta(days=days):
                counts[f"events_{days}d"] += 1
        if occurred >= now - timedelta(days=14):
            source = str(get(row, "source", "unknown"))
            by_source[source] = by_source.get(source, 0) + 1

    today = utc_date(now)
    open_issues = blocked = overdue = 0
    for issue in linear_issues:
        if get(issue, "completed_at") is not None:
            continue
        open_issues += 1
        if bool(get(issue, "blocked", False)):
            blocked += 1
        due = parse_date(get(issue, "due_date"))
        if due is not None and due < today:
            overdue += 1

    pipeline = 0.0
    opportunities = 0
    for deal in deals:
        if is_closed_stage(get(deal, "stage")):
            continue
        opportunities += 1
        pipeline += to_number(get(deal, "amount"), allow_str=True) or 0.0

    return {
        "events": counts,
        "events_by_source_14d": dict(sorted(by_source.items())),
        "workload": {"open_issues": open_issues, "blocked_issues": blocked, "overdue_issues": overdue},
        "revenue": {"pipeline_amount": rnd(pipeline, 2), "opportunities": opportunities},
    }


@dataclass(frozen=True)
class SnapshotRow:
    """One `project_snapshots` row."""

    snapshot_date: date
    signals_json: dict[str, Any]
    normalized_signals_json: dict[str, float]
    scores_json: dict[str, Any]
    key_aggregates_json: dict[str, Any]
    publishable: bool

    def to_row(self) -> dict[str, Any]:
        return {
            "snapshot_date": self.snapshot_date,
            "signals_json": self.signals_json,
            "normalized_signals_json": self.normalized_signals_json,
            "scores_json": self.scores_json,
            "key_aggregates_json": self.key_aggregates_json,
            "publishable": self.publishable,
        }


def build_snapshot(
    signals: Iterable[Any] | Mapping[str, Any] | None,
    scores: Iterable[Any] | Mapping[str, Any] | None,
    now: datetime,
    *,
    snapshot_date: date | None = None,
    event_log: Iterable[Any] = (),
    linear_issues: Iterable[Any] = (),
    deals: Iterable[Any] = (),
) -> SnapshotRow:
    """Snapshot of the current stored state, labelled `snapshot_date` (default: UTC date of now)."""
    sig = index_signals(signals)
    sco = index_scores(scores)
    signals_json: dict[str, Any] = {}
    normalized: dict[str, float] = {}
    for key in SIGNAL_KEYS:
        row = sig.get(key)
        if row is None:
            continue
        signals_json[key] = {
            "value": row["value"],
            "status": row["status"],
            "threshold_warn": row["threshold_warn"],
            "threshold_critical": row["threshold_critical"],
            "details": row["details"],
            "evidence_refs": normalize_refs(row["evidence_refs"]),
            "computed_at": _json_ts(row["computed_at"]),
        }
        normalized[key] = normalized_signal(
            row["value"], str(row["status"]), row["threshold_warn"], row["threshold_critical"], key
        )
    scores_json = {
        t: {
            "score": sco[t]["score"],
            "level": sco[t]["level"],
            "factors": sco[t]["factors"],
            "evidence_refs": normalize_refs(sco[t]["evidence_refs"]),
            "computed_at": _json_ts(sco[t]["computed_at"]),
        }
        for t in SCORE_TYPES
        if t in sco
    }
    publishable = any(v["evidence_refs"] for v in signals_json.values())
    return SnapshotRow(
        snapshot_date=snapshot_date or utc_date(now),
        signals_json=signals_json,
        normalized_signals_json=normalized,
        scores_json=scores_json,
        key_aggregates_json=key_aggregates(event_log, linear_issues, deals, now=now),
        publishable=publishable,
    )


def snapshot_warning(snapshot: SnapshotRow) -> KagWarning | None:
    if snapshot.publishable:
        return None
    return KagWarning(
        WarningCode.SNAPSHOT_UNPUBLISHABLE,
        f"snapshot {snapshot.snapshot_date.isoformat()} has no signal evidence",
        {"snapshot_date": snapshot.snapshot_date.isoformat()},
    )


# --- outcomes ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutcomeRow:
    """One `past_case_outcomes` row."""

    outcome_type: str
    occurred_at: datetime
    severity: int
    notes: str
    evidence_refs: list[dict[str, Any]]
    dedupe_key: str
    source_event_id: int | None = None

    def to_row(self) -> dict[str, Any]:
        return {
            "outcome_type": self.outcome_type,
            "occurred_at": self.occurred_at,
            "severity": self.severity,
            "notes": self.notes[:3000],
            "evidence_refs": [dict(r) for r in self.evidence_refs],
            "source_event_id": self.source_event_id,
            "dedupe_key": self.dedupe_key,
        }


def _severity(value: int) -> int:
    return int(min(max(value, 1), 5))


def derive_outcomes(
    project_id: Any,
    snapshot_date: date,
    signals: Iterable[Any] | Mapping[str, Any] | None,
    scores: Iterable[Any] | Mapping[str, Any] | None,
    *,
    event_log: Iterable[Any] = (),
) -> list[OutcomeRow]:
    """Signal-derived outcomes (one per type per day) + one per lost-like deal stage change."""
    sig = index_signals(signals)
    sco = index_scores(scores)
    occurred = datetime.combine(snapshot_date, time(23, 59, 59), tzinfo=UTC)
    occurred_iso = f"{snapshot_date.isoformat()}T23:59:59.000Z"

    def v(key: str) -> float:
        return signal_value(sig, key)

    risk = float((sco.get("risk") or {}).get("score", 0.0))
    health = float(sco["project_health"]["score"]) if "project_health" in sco else 100.0

    def refs(*keys: str) -> list[dict[str, Any]]:
        return merge_refs(*((sig.get(k) or {}).get("evidence_refs") for k in keys), cap=CAP_SCORE)

    candidates: list[tuple[str, int, list[dict[str, Any]]]] = []
    if v("blockers_age") > 5 or v("stage_overdue") > 3 or risk >= 75:
        candidates.append(("delivery_risk", 5 if risk >= 85 else 4, refs("blockers_age", "stage_overdue")))
    if v("budget_burn_rate") >= 1.2 or v("margin_risk") >= 0.4:
        candidates.append(
            (
                "finance_risk",
                5 if v("budget_burn_rate") >= 1.3 else 4,
                refs("budget_burn_rate", "margin_risk"),
            )
        )
    if v("waiting_on_client_days") >= 4 or v("sentiment_trend") <= -0.3 or health <= 45:
        candidates.append(
            (
                "client_risk",
                5 if v("waiting_on_client_days") >= 6 else 4,
                refs("waiting_on_client_days", "sentiment_trend"),
            )
        )
    if v("scope_creep_rate") >= 0.35:
        candidates.append(("scope_risk", 5 if v("scope_creep_rate") >= 0.5 else 4, refs("scope_creep_rate")))

    outcomes = [
        OutcomeRow(
            outcome_type=outcome_type,
            occurred_at=occurred,
            severity=_severity(severity),
            notes=OUTCOME_NOTES[outcome_type],
            evidence_refs=evidence,
            dedupe_key=sha1hex(f"{project_id}:{outcome_type}:{occurred_iso}:{OUTCOME_NOTES[outcome_type]}"),
        )
        for outcome_type, severity, evidence in candidates
    ]

    deal_events = 0
    for event in event_log:
        if deal_events >= MAX_DEAL_OUTCOMES:
            break
        if get(event, "event_type") != "deal_stage_changed" or is_process_event(event):
            continue
        event_ts = parse_ts(get(event, "occurred_at"))
        if event_ts is None or utc_date(event_ts) != snapshot_date:
            continue
        payload = get(event, "payload_json", {})
        payload = payload if isinstance(payload, Mapping) else {}
        if not is_lost_like_stage(payload.get("stage")):
            continue
        deal_events += 1
        source_ref = str(get(event, "source_ref", ""))
        evidence = normalize_refs(
            [
                {
                    "attio_record_id": source_ref,
                    "source_table": "attio_opportunities_raw",
                    "source_pk": payload.get("deal_id") or source_ref,
                }
            ]
        )
        event_id = get(event, "id")
        outcomes.append(
            OutcomeRow(
                outcome_type="client_risk",
                occurred_at=event_ts,
                severity=4,
                notes=DEAL_OUTCOME_NOTES,
                evidence_refs=evidence,
                source_event_id=int(event_id) if event_id is not None else None,
                dedupe_key=sha1hex(f"{project_id}:client_risk:{iso_z(event_ts)}:{source_ref}"),
            )
        )
    return outcomes


def snapshot_result(
    snapshot: SnapshotRow, outcomes: list[OutcomeRow], touched: int | None = None
) -> dict[str, Any]:
    return {
        "snapshot_date": snapshot.snapshot_date.isoformat(),
        "signals_count": len(snapshot.signals_json),
        "scores_count": len(snapshot.scores_json),
        "outcomes_touched": len(outcomes) if touched is None else touched,
        "publishable": snapshot.publishable,
        "key_aggregates": snapshot.key_aggregates_json,
    }


# --- input validation and retention -----------------------------------------------------------


# parse_snapshot_date: `shared.kag.lifecycle` (the route validates with it).


@dataclass(frozen=True)
class RetentionCutoffs:
    snapshots_before: date  # delete project_snapshots with snapshot_date < this
    history_before: datetime  # delete kag_signal_history / kag_score_history with computed_at < this
    process_events_before: datetime  # delete process_* kag_event_log rows with occurred_at < this


def retention_cutoffs(now: datetime, settings: KagSettings | None = None) -> RetentionCutoffs:
    s = settings or KagSettings()
    return RetentionCutoffs(
        snapshots_before=utc_date(now) - timedelta(days=s.snapshot_retention_days),
        history_before=now - timedelta(days=s.history_retention_days),
        process_events_before=now - timedelta(days=s.process_event_retention_days),
    )


def retention_guard_key(now: datetime) -> str:
    """Redis guard key so retention runs at most once per UTC day."""
    return f"kag:retention:{utc_date(now).isoformat()}"
