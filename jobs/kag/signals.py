"""Signal engine (kag.md §6): the per-project state, `apply_event` and the ten signals.

Wiring: the `signals` stage of `kag_recommendations_refresh` reads `kag_signal_state`
(`state_payload`, `last_event_id`) and the `kag_events` rows with `id > last_event_id` (id order),
calls `process_events(state_payload, events, now)` and, in one transaction, writes
`run.state.to_payload()` / `run.state.last_event_id` to `kag_signal_state`, upserts
`run.signals` on `(project_id, signal_key)`, appends them to `kag_signal_history`, and sets
`kag_events.status='processed', processed_at=now` for `run.processed_event_ids`.
`run.warnings` become `process_warning` rows; `run.result()` is the stage result.

Events are row-likes with `id, event_type, event_ts, subject_node_id, payload, source_refs,
rag_chunk_refs`. Events with `id <= last_event_id` are skipped, so re-running a batch is a no-op.

Decisions where the spec is silent:
- Truthiness of `approval_pending`/`requires_approval`: booleans as-is, numbers non-zero, strings by
  the platform boolean rule (`1,true,yes,on,enabled`).
- `approval_approved` identifies the agreement by payload `agreement_id` → `approval_id` → subject id.
- Timestamp lists are kept sorted ascending ("oldest pending" = the earliest timestamp), newest 400.
- Pruning (35/30/90 days) runs after every event as specified and once more after the batch, so a
  run with no new events still forgets stale blockers/agreements.
"""

from __future__ import annotations

import bisect
import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from jobs.kag.events_log import KagWarning
from jobs.kag.evidence import CAP_EVENT, CAP_SIGNAL_BUCKET, chunk_ref, signal_refs
from jobs.kag.rounding import clamp, rnd, to_number
from jobs.kag.rows import field as get
from jobs.kag.settings import parse_flag
from jobs.kag.timeutil import DAY, day_key, days_between, iso_z, parse_ts
from jobs.kag.vocab import SIGNAL_KEYS, WarningCode

__all__ = [
    "MAX_EVENTS_PER_RUN",
    "SIGNAL_DEFS",
    "SignalDef",
    "SignalRow",
    "SignalRun",
    "SignalState",
    "apply_event",
    "compute_signals",
    "event_evidence",
    "index_signals",
    "process_events",
    "signal_status",
    "signal_value",
]

BATCH_SIZE = 1000
MAX_BATCHES = 10
MAX_EVENTS_PER_RUN = BATCH_SIZE * MAX_BATCHES
MAX_TIMESTAMPS = 400
TIMESTAMP_TTL = timedelta(days=35)
DAILY_COUNT_TTL_DAYS = 30
OPEN_ITEM_TTL = timedelta(days=90)


@dataclass(frozen=True)
class SignalDef:
    key: str
    unit: str
    warn: float
    critical: float
    direction: str  # "high": bigger is worse; "low": smaller (more negative) is worse


SIGNAL_DEFS: dict[str, SignalDef] = {
    d.key: d
    for d in (
        SignalDef("waiting_on_client_days", "days", 2, 4, "high"),
        SignalDef("response_time_avg", "minutes", 240, 720, "high"),
        SignalDef("blockers_age", "days", 3, 5, "high"),
        SignalDef("stage_overdue", "days", 1, 3, "high"),
        SignalDef("agreement_overdue_count", "count", 1, 2, "high"),
        SignalDef("sentiment_trend", "delta", -0.15, -0.30, "low"),
        SignalDef("scope_creep_rate", "ratio", 0.20, 0.35, "high"),
        SignalDef("budget_burn_rate", "ratio", 1.10, 1.20, "high"),
        SignalDef("margin_risk", "ratio", 0.25, 0.40, "high"),
        SignalDef("activity_drop", "ratio", 0.30, 0.50, "high"),
    )
}


def signal_status(key: str, value: float) -> str:
    """`ok` / `warn` / `critical` of an (unrounded) value, by the signal's direction."""
    d = SIGNAL_DEFS[key]
    if d.direction == "low":
        return "critical" if value <= d.critical else "warn" if value <= d.warn else "ok"
    return "critical" if value >= d.critical else "warn" if value >= d.warn else "ok"


# --- state ------------------------------------------------------------------------------------


def _ts_list(values: Any) -> list[datetime]:
    out = [ts for ts in (parse_ts(v) for v in (values or ())) if ts is not None]
    out.sort()
    return out


def _iso_list(values: list[datetime]) -> list[str]:
    return [iso_z(v) for v in values]  # type: ignore[misc]


def _num(value: Any, default: float = 0.0) -> float:
    number = to_number(value, allow_str=True)
    return default if number is None else number


@dataclass
class SignalState:
    """`kag_signal_state.state_payload` as a typed value (§6.1)."""

    last_client_message_at: datetime | None = None
    last_team_message_at: datetime | None = None
    pending_client_messages: list[datetime] = field(default_factory=list)
    response_total_minutes: float = 0.0
    response_samples: int = 0
    open_blockers: dict[str, datetime] = field(default_factory=dict)
    stage_id: str | None = None
    stage_name: str | None = None
    stage_status: str = "unknown"
    stage_started_at: datetime | None = None
    stage_due_at: datetime | None = None
    approval_pending: bool = False
    open_agreements: dict[str, dict[str, datetime | None]] = field(default_factory=dict)
    sentiment_ewma: float = 0.0
    sentiment_prev_ewma: float = 0.0
    sentiment_samples: int = 0
    sentiment_alpha: float = 0.35
    scope_requests: list[datetime] = field(default_factory=list)
    client_requests: list[datetime] = field(default_factory=list)
    planned_budget: float = 0.0
    actual_cost: float = 0.0
    revenue: float = 0.0
    daily_counts: dict[str, int] = field(default_factory=dict)
    need_events: list[datetime] = field(default_factory=list)
    need_evidence: list[dict[str, Any]] = field(default_factory=list)
    evidence_by_signal: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    last_event_id: int = 0
    last_event_ts: datetime | None = None

    # -- serialisation ------------------------------------------------------------------------

    def to_payload(self) -> dict[str, Any]:
        return {
            "waiting": {
                "last_client_message_at": iso_z(self.last_client_message_at),
                "last_team_message_at": iso_z(self.last_team_message_at),
            },
            "response": {
                "pending_client_messages": _iso_list(self.pending_client_messages),
                "total_minutes": self.response_total_minutes,
                "samples": self.response_samples,
            },
            "blockers": {"open": {k: {"opened_at": iso_z(v)} for k, v in self.open_blockers.items()}},
            "stage": {
                "stage_id": self.stage_id,
                "stage_name": self.stage_name,
                "status": self.stage_status,
                "started_at": iso_z(self.stage_started_at),
                "due_at": iso_z(self.stage_due_at),
                "approval_pending": self.approval_pending,
            },
            "agreements": {
                "open": {
                    k: {"due_at": iso_z(v.get("due_at")), "created_at": iso_z(v.get("created_at"))}
                    for k, v in self.open_agreements.items()
                }
            },
            "sentiment": {
                "ewma": self.sentiment_ewma,
                "prev_ewma": self.sentiment_prev_ewma,
                "samples": self.sentiment_samples,
                "alpha": self.sentiment_alpha,
            },
            "scope": {
                "requests": _iso_list(self.scope_requests),
                "client_requests": _iso_list(self.client_requests),
            },
            "finance": {
                "planned_budget": self.planned_budget,
                "actual_cost": self.actual_cost,
                "revenue": self.revenue,
            },
            "activity": {"daily_counts": dict(sorted(self.daily_counts.items()))},
            "needs": {"events": _iso_list(self.need_events), "evidence": copy.deepcopy(self.need_evidence)},
            "evidence_by_signal": copy.deepcopy(self.evidence_by_signal),
            "cursor": {"last_event_id": self.last_event_id, "last_event_ts": iso_z(self.last_event_ts)},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any] | None) -> SignalState:
        """Rebuild from a stored payload; missing parts take their initial values."""
        p: Mapping[str, Any] = payload or {}

        def part(name: str) -> Mapping[str, Any]:
            value = p.get(name)
            return value if isinstance(value, Mapping) else {}

        waiting, response, stage = part("waiting"), part("response"), part("stage")
        sentiment, scope, finance = part("sentiment"), part("scope"), part("finance")
        needs, cursor = part("needs"), part("cursor")
        blockers_open = part("blockers").get("open") or {}
        agreements_open = part("agreements").get("open") or {}
        daily = part("activity").get("daily_counts") or {}
        buckets = p.get("evidence_by_signal") or {}
        state = cls(
            last_client_message_at=parse_ts(waiting.get("last_client_message_at")),
            last_team_message_at=parse_ts(waiting.get("last_team_message_at")),
            pending_client_messages=_ts_list(response.get("pending_client_messages")),
            response_total_minutes=_num(response.get("total_minutes")),
            response_samples=int(_num(response.get("samples"))),
            stage_id=stage.get("stage_id"),
            stage_name=stage.get("stage_name"),
            stage_status=stage.get("status") or "unknown",
            stage_started_at=parse_ts(stage.get("started_at")),
            stage_due_at=parse_ts(stage.get("due_at")),
            approval_pending=bool(stage.get("approval_pending")),
            sentiment_ewma=_num(sentiment.get("ewma")),
            sentiment_prev_ewma=_num(sentiment.get("prev_ewma")),
            sentiment_samples=int(_num(sentiment.get("samples"))),
            sentiment_alpha=_num(sentiment.get("alpha"), 0.35),
            scope_requests=_ts_list(scope.get("requests")),
            client_requests=_ts_list(scope.get("client_requests")),
            planned_budget=_num(finance.get("planned_budget")),
            actual_cost=_num(finance.get("actual_cost")),
            revenue=_num(finance.get("revenue")),
            daily_counts={str(k): int(_num(v)) for k, v in daily.items()}
            if isinstance(daily, Mapping)
            else {},
            need_events=_ts_list(needs.get("events")),
            need_evidence=signal_refs(needs.get("evidence"), CAP_SIGNAL_BUCKET),
            last_event_id=int(_num(cursor.get("last_event_id"))),
            last_event_ts=parse_ts(cursor.get("last_event_ts")),
        )
        if isinstance(blockers_open, Mapping):
            for key, item in blockers_open.items():
                opened = parse_ts(item.get("opened_at") if isinstance(item, Mapping) else None)
                if opened is not None:
                    state.open_blockers[str(key)] = opened
        if isinstance(agreements_open, Mapping):
            for key, item in agreements_open.items():
                item = item if isinstance(item, Mapping) else {}
                created = parse_ts(item.get("created_at"))
                if created is not None:
                    state.open_agreements[str(key)] = {
                        "due_at": parse_ts(item.get("due_at")),
                        "created_at": created,
                    }
        if isinstance(buckets, Mapping):
            state.evidence_by_signal = {
                str(k): signal_refs(v, CAP_SIGNAL_BUCKET) for k, v in buckets.items() if isinstance(v, list)
            }
        return state

    @classmethod
    def coerce(cls, state: SignalState | Mapping[str, Any] | None) -> SignalState:
        """A private copy of a state given as a `SignalState`, a payload dict or None."""
        if isinstance(state, SignalState):
            return copy.deepcopy(state)
        return cls.from_payload(state)

    # -- derived counts -----------------------------------------------------------------------

    def needs_since(self, since: datetime) -> int:
        return sum(1 for ts in self.need_events if ts >= since)

    def scope_requests_since(self, since: datetime) -> int:
        return sum(1 for ts in self.scope_requests if ts >= since)

    def client_requests_since(self, since: datetime) -> int:
        return sum(1 for ts in self.client_requests if ts >= since)


# --- applying events --------------------------------------------------------------------------


def event_evidence(source_refs: Any, rag_chunk_refs: Any) -> list[dict[str, Any]]:
    """An event's evidence: its `source_refs` + one chunk ref per `rag_chunk_refs` entry, ≤15."""
    chunks = [chunk_ref(c) for c in (rag_chunk_refs or ()) if not isinstance(c, Mapping)]
    chunks += [c for c in (rag_chunk_refs or ()) if isinstance(c, Mapping)]
    return signal_refs(list(source_refs or ()) + [c for c in chunks if c], CAP_EVENT)


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    if isinstance(value, str):
        return parse_flag(value, False)
    return False


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    return text or None


def _attach(state: SignalState, key: str, evidence: list[dict[str, Any]]) -> None:
    if not evidence:
        return
    bucket = state.evidence_by_signal.get(key, [])
    state.evidence_by_signal[key] = signal_refs(bucket + evidence)[-CAP_SIGNAL_BUCKET:]


def _activity(state: SignalState, ts: datetime) -> None:
    key = day_key(ts)
    state.daily_counts[key] = state.daily_counts.get(key, 0) + 1


def _push(values: list[datetime], ts: datetime) -> None:
    bisect.insort(values, ts)
    if len(values) > MAX_TIMESTAMPS:
        del values[: len(values) - MAX_TIMESTAMPS]


def _prune(state: SignalState, now: datetime) -> None:
    cutoff = now - TIMESTAMP_TTL
    for values in (
        state.pending_client_messages,
        state.scope_requests,
        state.client_requests,
        state.need_events,
    ):
        keep = [ts for ts in values if ts >= cutoff][-MAX_TIMESTAMPS:]
        values[:] = keep
    oldest_day = day_key(now - timedelta(days=DAILY_COUNT_TTL_DAYS))
    state.daily_counts = {k: v for k, v in state.daily_counts.items() if k >= oldest_day}
    item_cutoff = now - OPEN_ITEM_TTL
    state.open_blockers = {k: v for k, v in state.open_blockers.items() if v >= item_cutoff}
    state.open_agreements = {
        k: v
        for k, v in state.open_agreements.items()
        if v.get("created_at") is not None and v["created_at"] >= item_cutoff  # type: ignore[operator]
    }


def _item_id(payload: Mapping[str, Any], keys: tuple[str, ...], subject: Any) -> str | None:
    for key in keys:
        value = _text(payload.get(key))
        if value:
            return value
    return _text(subject)


def _apply_in_place(state: SignalState, event: Any, now: datetime) -> list[KagWarning]:
    """Apply one event, then advance the cursor and prune (also for ignored events)."""
    warnings: list[KagWarning] = []
    ts = _apply_change(state, event, now, warnings)
    state.last_event_id = max(state.last_event_id, int(_num(get(event, "id", 0))))
    state.last_event_ts = ts
    _prune(state, now)
    return warnings


def _apply_change(state: SignalState, event: Any, now: datetime, warnings: list[KagWarning]) -> datetime:
    event_type = str(get(event, "event_type", "")).strip()
    event_id = int(_num(get(event, "id", 0)))
    ts = parse_ts(get(event, "event_ts"))
    if ts is None:
        ts = now
        warnings.append(
            KagWarning(
                WarningCode.INVALID_EVENT_TIMESTAMP,
                f"event {event_id} has an unparsable timestamp; using the run's now",
                {"event_id": event_id, "event_ts": str(get(event, "event_ts"))},
            )
        )
    raw_payload = get(event, "payload", {})
    payload: Mapping[str, Any] = raw_payload if isinstance(raw_payload, Mapping) else {}
    subject = get(event, "subject_node_id")
    evidence = event_evidence(get(event, "source_refs", ()), get(event, "rag_chunk_refs", ()))

    if event_type == "message_sent":
        sender = str(payload.get("sender") or "").strip().lower()
        if sender == "client":
            state.last_client_message_at = ts
            _push(state.pending_client_messages, ts)
            _push(state.client_requests, ts)
            for key in ("waiting_on_client_days", "response_time_avg", "activity_drop"):
                _attach(state, key, evidence)
        elif sender in ("team", "agent", "pm"):
            state.last_team_message_at = ts
            sampled = False
            if state.pending_client_messages:
                oldest = state.pending_client_messages.pop(0)
                state.response_total_minutes += max(0.0, (ts - oldest).total_seconds() / 60.0)
                state.response_samples += 1
                sampled = True
            _attach(state, "waiting_on_client_days", evidence)
            _attach(state, "activity_drop", evidence)
            if sampled:
                _attach(state, "response_time_avg", evidence)
        else:
            _attach(state, "activity_drop", evidence)
        _activity(state, ts)
        score = payload.get("sentiment_score")
        if (
            isinstance(score, int | float | Decimal)
            and not isinstance(score, bool)
            and to_number(score) is not None
        ):
            s = clamp(float(score), -1.0, 1.0)
            alpha = clamp(state.sentiment_alpha, 0.05, 0.9)
            state.sentiment_prev_ewma = state.sentiment_ewma
            state.sentiment_ewma = (
                s if state.sentiment_samples == 0 else alpha * s + (1 - alpha) * state.sentiment_ewma
            )
            state.sentiment_samples += 1
            _attach(state, "sentiment_trend", evidence)
    elif event_type in ("task_blocked", "blocker_resolved"):
        blocker_id = _item_id(payload, ("blocker_id", "task_id"), subject)
        if blocker_id is None:
            return ts  # ignored entirely
        if event_type == "task_blocked":
            state.open_blockers.setdefault(blocker_id, ts)
        else:
            state.open_blockers.pop(blocker_id, None)
        _activity(state, ts)
        _attach(state, "blockers_age", evidence)
    elif event_type == "stage_started":
        state.stage_id = _text(payload.get("stage_id")) or _text(subject) or state.stage_id
        state.stage_name = _text(payload.get("stage_name")) or state.stage_name
        state.stage_status = "active"
        state.stage_started_at = ts
        state.stage_due_at = parse_ts(payload.get("due_at"))
        state.approval_pending = _truthy(payload.get("approval_pending")) or _truthy(
            payload.get("requires_approval")
        )
        _activity(state, ts)
        _attach(state, "stage_overdue", evidence)
    elif event_type == "stage_completed":
        state.stage_status = "completed"
        state.approval_pending = False
        _activity(state, ts)
        _attach(state, "stage_overdue", evidence)
    elif event_type == "agreement_created":
        agreement_id = _item_id(payload, ("agreement_id",), subject)
        if agreement_id is None:
            return ts
        state.open_agreements[agreement_id] = {"due_at": parse_ts(payload.get("due_at")), "created_at": ts}
        _activity(state, ts)
        _attach(state, "agreement_overdue_count", evidence)
    elif event_type == "approval_approved":
        agreement_id = _item_id(payload, ("agreement_id", "approval_id"), subject)
        if agreement_id is not None:
            state.open_agreements.pop(agreement_id, None)
        state.approval_pending = False
        _activity(state, ts)
        _attach(state, "agreement_overdue_count", evidence)
    elif event_type == "scope_change_requested":
        _push(state.scope_requests, ts)
        _activity(state, ts)
        _attach(state, "scope_creep_rate", evidence)
    elif event_type == "finance_entry_created":
        _apply_finance(state, payload)
        _activity(state, ts)
        _attach(state, "budget_burn_rate", evidence)
        _attach(state, "margin_risk", evidence)
    elif event_type == "need_detected":
        _push(state.need_events, ts)
        state.need_evidence = signal_refs(state.need_evidence + evidence)[-CAP_SIGNAL_BUCKET:]
        _activity(state, ts)
        _attach(state, "activity_drop", evidence)
    elif event_type in ("decision_made", "offer_created", "task_created"):
        _activity(state, ts)
        _attach(state, "activity_drop", evidence)
    # deal_updated, risk_detected and unknown types change nothing.
    return ts


def _apply_finance(state: SignalState, payload: Mapping[str, Any]) -> None:
    kind = str(payload.get("entry_type") or payload.get("kind") or "").strip().lower()
    signed = to_number(payload.get("amount"), allow_str=True) or 0.0
    amount = abs(signed)
    if kind in ("planned_budget", "budget_plan", "budget"):
        state.planned_budget += amount
    elif kind in ("cost", "expense"):
        state.actual_cost += amount
    elif kind in ("revenue", "invoice", "payment"):
        state.revenue += amount
    elif kind == "revenue_adjustment":
        state.revenue = max(0.0, state.revenue + signed)


def apply_event(
    state: SignalState | Mapping[str, Any] | None, event: Any, now: datetime
) -> tuple[SignalState, list[KagWarning]]:
    """Apply one event to a copy of `state` (§6.2); returns the new state and its warnings."""
    new_state = SignalState.coerce(state)
    warnings = _apply_in_place(new_state, event, now)
    return new_state, warnings


# --- the ten signals --------------------------------------------------------------------------


@dataclass(frozen=True)
class SignalRow:
    """One `kag_signals` row (also appended to `kag_signal_history`)."""

    signal_key: str
    value: float
    status: str
    threshold_warn: float
    threshold_critical: float
    details: dict[str, Any]
    evidence_refs: list[dict[str, Any]]
    computed_at: datetime
    raw_value: float = field(default=0.0, compare=False, repr=False)

    def to_row(self) -> dict[str, Any]:
        return {
            "signal_key": self.signal_key,
            "value": self.value,
            "status": self.status,
            "threshold_warn": self.threshold_warn,
            "threshold_critical": self.threshold_critical,
            "details": copy.deepcopy(self.details),
            "evidence_refs": copy.deepcopy(self.evidence_refs),
            "computed_at": self.computed_at,
        }

    def history_row(self) -> dict[str, Any]:
        row = self.to_row()
        row.pop("threshold_warn")
        row.pop("threshold_critical")
        return row


def _signal_values(state: SignalState, now: datetime) -> dict[str, tuple[float, dict[str, Any]]]:
    team, client = state.last_team_message_at, state.last_client_message_at
    waiting_flag = team is not None and (client is None or team > client)
    waiting = days_between(team, now) if waiting_flag and team is not None else 0.0

    samples = state.response_samples
    response = state.response_total_minutes / samples if samples > 0 else 0.0

    ages = [days_between(opened, now) for opened in state.open_blockers.values()]
    blockers_age = sum(ages) / len(ages) if ages else 0.0

    due = state.stage_due_at
    stage_overdue = (
        days_between(due, now) if state.stage_status == "active" and due is not None and now > due else 0.0
    )

    overdue_agreements = sum(
        1
        for item in state.open_agreements.values()
        if item.get("due_at") is not None and item["due_at"] < now  # type: ignore[operator]
    )
    trend = state.sentiment_ewma - state.sentiment_prev_ewma

    week_ago = now - timedelta(days=7)
    scope_7d = state.scope_requests_since(week_ago)
    client_7d = state.client_requests_since(week_ago)
    scope_rate = scope_7d / max(1, client_7d)

    planned, cost, revenue = state.planned_budget, state.actual_cost, state.revenue
    if planned > 0:
        burn = cost / planned
    elif cost > 0:
        burn = 1.5
    else:
        burn = 0.0
    if revenue <= 0 and cost > 0:
        margin = 1.0
    elif revenue > 0:
        margin = clamp((0.35 - (revenue - cost) / revenue) / 0.35, 0.0, 1.0)
    else:
        margin = 0.0

    current = sum(state.daily_counts.get(day_key(now - DAY * d), 0) for d in range(0, 7))
    previous = sum(state.daily_counts.get(day_key(now - DAY * d), 0) for d in range(7, 14))
    activity_drop = clamp((previous - current) / previous, 0.0, 1.0) if previous > 0 else 0.0

    return {
        "waiting_on_client_days": (
            waiting,
            {
                "waiting_on_client": waiting_flag,
                "last_client_message_at": iso_z(client),
                "last_team_message_at": iso_z(team),
                "stage_name": state.stage_name,
                "approval_pending": state.approval_pending,
            },
        ),
        "response_time_avg": (
            response,
            {"samples": samples, "total_minutes": rnd(state.response_total_minutes, 2)},
        ),
        "blockers_age": (blockers_age, {"open_blockers": len(ages)}),
        "stage_overdue": (
            stage_overdue,
            {
                "stage_id": state.stage_id,
                "stage_name": state.stage_name,
                "due_at": iso_z(due),
                "stage_status": state.stage_status,
                "approval_pending": state.approval_pending,
            },
        ),
        "agreement_overdue_count": (
            float(overdue_agreements),
            {"open_agreements": len(state.open_agreements)},
        ),
        "sentiment_trend": (
            trend,
            {
                "ewma": rnd(state.sentiment_ewma, 4),
                "prev_ewma": rnd(state.sentiment_prev_ewma, 4),
                "samples": state.sentiment_samples,
            },
        ),
        "scope_creep_rate": (scope_rate, {"scope_requests_7d": scope_7d, "client_requests_7d": client_7d}),
        "budget_burn_rate": (burn, {"planned_budget": rnd(planned, 2), "actual_cost": rnd(cost, 2)}),
        "margin_risk": (margin, {"revenue": rnd(revenue, 2), "actual_cost": rnd(cost, 2)}),
        "activity_drop": (activity_drop, {"activity_current_7d": current, "activity_prev_7d": previous}),
    }


def compute_signals(state: SignalState | Mapping[str, Any] | None, now: datetime) -> list[SignalRow]:
    """The ten signal rows at `now`, in `SIGNAL_KEYS` order (§6.3)."""
    st = state if isinstance(state, SignalState) else SignalState.from_payload(state)
    values = _signal_values(st, now)
    rows: list[SignalRow] = []
    for key in SIGNAL_KEYS:
        raw, details = values[key]
        d = SIGNAL_DEFS[key]
        rows.append(
            SignalRow(
                signal_key=key,
                value=rnd(raw, 4),
                status=signal_status(key, raw),
                threshold_warn=d.warn,
                threshold_critical=d.critical,
                details=details,
                evidence_refs=copy.deepcopy(st.evidence_by_signal.get(key, [])),
                computed_at=now,
                raw_value=raw,
            )
        )
    return rows


# --- one stage run ----------------------------------------------------------------------------


@dataclass
class SignalRun:
    state: SignalState
    signals: list[SignalRow]
    processed_event_ids: list[int]
    warnings: list[KagWarning]
    backlog: int = 0

    def result(self) -> dict[str, Any]:
        return {
            "processed_events": len(self.processed_event_ids),
            "last_event_id": self.state.last_event_id,
            "touched_signals": len(self.signals),
        }


def process_events(
    state: SignalState | Mapping[str, Any] | None,
    events: Iterable[Any],
    now: datetime,
    *,
    max_events: int = MAX_EVENTS_PER_RUN,
) -> SignalRun:
    """Consume pending events in id order (≤`max_events`), then compute the ten signals."""
    st = SignalState.coerce(state)
    pending = sorted(
        (e for e in events if int(_num(get(e, "id", 0))) > st.last_event_id),
        key=lambda e: int(_num(get(e, "id", 0))),
    )
    batch, leftover = pending[:max_events], pending[max_events:]
    warnings: list[KagWarning] = []
    processed: list[int] = []
    for event in batch:
        warnings.extend(_apply_in_place(st, event, now))
        processed.append(int(_num(get(event, "id", 0))))
    if leftover:
        warnings.append(
            KagWarning(
                WarningCode.EVENT_BACKLOG,
                f"{len(leftover)} pending graph events left for the next run",
                {"pending": len(leftover), "processed": len(processed), "last_event_id": st.last_event_id},
            )
        )
    _prune(st, now)
    return SignalRun(st, compute_signals(st, now), processed, warnings, len(leftover))


def index_signals(rows: Iterable[Any] | Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Stored signal rows (dicts, `SignalRow`s or DB rows) keyed by `signal_key` as plain dicts.

    Values are floats (`numeric` columns arrive as `Decimal`); missing parts default to empty.
    """
    out: dict[str, dict[str, Any]] = {}
    if rows is None:
        return out
    items = rows.values() if isinstance(rows, Mapping) else rows
    for row in items:
        key = get(row, "signal_key")
        if key is None:
            continue
        details = get(row, "details", {})
        out[str(key)] = {
            "signal_key": str(key),
            "value": _num(get(row, "value", 0.0)),
            "status": get(row, "status", "ok"),
            "threshold_warn": to_number(get(row, "threshold_warn")),
            "threshold_critical": to_number(get(row, "threshold_critical")),
            "details": dict(details) if isinstance(details, Mapping) else {},
            "evidence_refs": list(get(row, "evidence_refs", []) or []),
            "computed_at": get(row, "computed_at"),
        }
    return out


def signal_value(signals: Mapping[str, Mapping[str, Any]], key: str) -> float:
    """Stored value of one signal from `index_signals` output; a missing signal counts as 0."""
    row = signals.get(key)
    return _num(row.get("value")) if row else 0.0
