"""Legacy signals and Next Best Actions (kag.md §10, job `signals_extraction`).

Wiring: read the project's `cw_messages` (non-private, last 14 days, newest 600), open
`linear_issues_raw`, and `crm_opportunities`; `legacy_signal_candidates(...)` returns candidates
to upsert into `signals` on `(project_id, dedupe_key)` with the `merge_legacy_signal` rule
(severity/confidence = max, summary/evidence/source_kind replaced, status and created_at kept).
For every upserted signal row (now with its `id`), `nba_for_signal(...)` gives the
`next_best_actions` row, upserted with `merge_nba` (priority = max, summary/evidence replaced,
`updated_at = now`, status kept). Routes use `apply_legacy_signal_status`, `apply_nba_status`,
`top_nba`.

Decisions where the spec is silent:
- The message id used as `source_ref`/evidence is the message's global id (`cw_messages.id`).
- "Open" CRM opportunities exclude the normalised stages `won`/`lost` (connectors-rag §4.6).
- Linear issues are "overdue" when `due_date` < the UTC date of `now`.
- NBA summaries are "<action sentence>: <signal summary>".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from jobs.kag.keys import sha1hex
from jobs.kag.rounding import clamp, to_number
from jobs.kag.rows import field as get
from jobs.kag.stages import is_closed_stage
from jobs.kag.timeutil import parse_date, parse_ts, utc_date
from jobs.kag.vocab import (
    LEGACY_SIGNAL_STATUSES,
    NBA_STATUSES,
    TOP_NBA_STATUSES,
    RecommendationStatus,
    parse_status,
)

__all__ = [
    "KEYWORD_RULES",
    "NBA_MAPPING",
    "LegacySignalCandidate",
    "NbaCandidate",
    "apply_legacy_signal_status",
    "apply_nba_status",
    "legacy_signal_candidates",
    "merge_legacy_signal",
    "merge_nba",
    "nba_for_signal",
    "top_nba",
]


@dataclass(frozen=True)
class KeywordRule:
    signal_type: str
    keywords: tuple[str, ...]
    severity: int
    confidence: float
    summary: str


KEYWORD_RULES: tuple[KeywordRule, ...] = (
    KeywordRule(
        "delivery_risk",
        ("delay", "blocked", "blocker", "stuck", "slipped", "late"),
        4,
        0.82,
        "Client conversation mentions a delivery delay or blocker.",
    ),
    KeywordRule(
        "commercial_pressure",
        ("budget", "pricing", "discount", "cost", "expensive"),
        3,
        0.74,
        "Client conversation raises budget or pricing pressure.",
    ),
    KeywordRule(
        "upsell_intent",
        ("upgrade", "add-on", "addon", "expand", "crosssell", "cross-sell", "cross sell", "upsell"),
        2,
        0.70,
        "Client conversation shows interest in expanding the engagement.",
    ),
    KeywordRule(
        "urgency_increase",
        ("urgent", "asap", "critical", "priority"),
        4,
        0.76,
        "Client conversation signals increased urgency.",
    ),
)

NBA_MAPPING: dict[str, tuple[str, int, str]] = {
    "delivery_risk": ("review_delivery_blockers", 5, "Review delivery blockers"),
    "delivery_overdue": ("review_delivery_blockers", 5, "Review delivery blockers"),
    "commercial_pressure": ("prepare_pricing_response", 4, "Prepare a pricing response"),
    "upsell_intent": ("prepare_upsell_offer", 4, "Prepare an upsell offer"),
    "urgency_increase": ("align_priority_and_timeline", 4, "Align priority and timeline"),
}
TRIAGE = ("triage_signal", 3, "Triage the signal")
MESSAGE_WINDOW = timedelta(days=14)
MAX_MESSAGES = 600
MAX_OPPORTUNITIES = 200
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class LegacySignalCandidate:
    """One `signals` row to upsert (`status` defaults to `proposed` on insert)."""

    signal_type: str
    severity: int
    confidence: float
    summary: str
    source_kind: str
    source_ref: str
    evidence_refs: list[str]
    dedupe_key: str

    def to_row(self) -> dict[str, Any]:
        return {
            "signal_type": self.signal_type,
            "severity": self.severity,
            "confidence": self.confidence,
            "summary": self.summary,
            "source_kind": self.source_kind,
            "evidence_refs": list(self.evidence_refs),
            "dedupe_key": self.dedupe_key,
        }


def _candidate(
    project_id: Any,
    signal_type: str,
    severity: int,
    confidence: float,
    summary: str,
    source_kind: str,
    source_ref: str,
    evidence: list[Any],
) -> LegacySignalCandidate:
    refs = [str(e).strip() for e in evidence if e is not None and str(e).strip()]
    return LegacySignalCandidate(
        signal_type=signal_type,
        severity=int(min(max(severity, 1), 5)),
        confidence=clamp(confidence, 0, 1),
        summary=summary,
        source_kind=source_kind,
        source_ref=source_ref,
        evidence_refs=refs,
        dedupe_key=sha1hex(f"{project_id}:{signal_type}:{source_ref}"),
    )


def legacy_signal_candidates(
    project_id: Any,
    *,
    messages: Iterable[Any] = (),
    linear_issues: Iterable[Any] = (),
    opportunities: Iterable[Any] = (),
    now: datetime,
) -> tuple[list[LegacySignalCandidate], int]:
    """(candidates with evidence, number dropped without evidence)."""
    candidates: list[LegacySignalCandidate] = []

    recent = []
    for m in messages:
        if bool(get(m, "private", False)):
            continue
        created = parse_ts(get(m, "created_at"))
        if created is None or created < now - MESSAGE_WINDOW:
            continue
        recent.append((created, m))
    recent.sort(key=lambda item: item[0], reverse=True)
    for _, m in recent[:MAX_MESSAGES]:
        text = str(get(m, "content", ""))[:1200].lower()
        message_id = get(m, "id") or get(m, "message_id")
        for rule in KEYWORD_RULES:
            if any(k in text for k in rule.keywords):
                candidates.append(
                    _candidate(
                        project_id,
                        rule.signal_type,
                        rule.severity,
                        rule.confidence,
                        rule.summary,
                        "conversation",
                        str(message_id or ""),
                        [message_id, get(m, "conversation_global_id")],
                    )
                )

    today = utc_date(now)
    overdue: dict[str, list[str]] = {}
    for issue in linear_issues:
        if get(issue, "completed_at") is not None:
            continue
        due = parse_date(get(issue, "due_date"))
        if due is None or due >= today:
            continue
        project_key = str(get(issue, "linear_project_external_id") or "unknown")
        overdue.setdefault(project_key, []).append(str(get(issue, "id")))
    for project_key in sorted(overdue):
        ids = overdue[project_key]
        n = len(ids)
        candidates.append(
            _candidate(
                project_id,
                "delivery_overdue",
                min(5, 2 + n),
                0.7 + min(0.2, 0.03 * n),
                f"Linear overdue issues: {n}",
                "linear",
                f"linear_project:{project_key}",
                [min(ids)],
            )
        )

    open_opps = []
    for opp in opportunities:
        if is_closed_stage(get(opp, "stage")):
            continue
        next_step = get(opp, "next_step")
        if next_step is not None and len(str(next_step).strip()) >= 6:
            continue
        open_opps.append((parse_ts(get(opp, "updated_at")), opp))
    open_opps.sort(key=lambda item: item[0] or _EPOCH, reverse=True)
    for _, opp in open_opps[:MAX_OPPORTUNITIES]:
        opp_id = str(get(opp, "id"))
        title = str(get(opp, "title") or opp_id)
        candidates.append(
            _candidate(
                project_id,
                "deal_without_next_step",
                3,
                0.72,
                f"Opportunity '{title}' has no next step.",
                "crm",
                opp_id,
                [get(opp, "id")],
            )
        )

    kept = [c for c in candidates if c.evidence_refs]
    return kept, len(candidates) - len(kept)


def merge_legacy_signal(
    existing: Mapping[str, Any] | None, candidate: LegacySignalCandidate, now: datetime
) -> dict[str, Any]:
    """Row after upsert: severity/confidence = max; summary/evidence/source_kind replaced; status kept."""
    row = candidate.to_row()
    if existing is None:
        return row | {"status": RecommendationStatus.PROPOSED.value, "created_at": now}
    merged = dict(existing) | row
    merged["severity"] = max(
        int(to_number(existing.get("severity"), allow_str=True) or 0), candidate.severity
    )
    merged["confidence"] = max(
        to_number(existing.get("confidence"), allow_str=True) or 0.0, candidate.confidence
    )
    merged["status"] = existing.get("status") or RecommendationStatus.PROPOSED.value
    merged["created_at"] = existing.get("created_at", now)
    return merged


@dataclass(frozen=True)
class NbaCandidate:
    """One `next_best_actions` row to upsert."""

    signal_id: Any
    action_type: str
    priority: int
    summary: str
    evidence_refs: list[str]
    dedupe_key: str
    account_id: Any = None
    opportunity_id: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_row(self) -> dict[str, Any]:
        return {
            "signal_id": self.signal_id,
            "account_id": self.account_id,
            "opportunity_id": self.opportunity_id,
            "action_type": self.action_type,
            "priority": self.priority,
            "summary": self.summary,
            "evidence_refs": list(self.evidence_refs),
            "dedupe_key": self.dedupe_key,
        }


def nba_for_signal(project_id: Any, signal_row: Any) -> NbaCandidate | None:
    """The NBA of one upserted `signals` row (needs its `id`); None without evidence."""
    signal_type = str(get(signal_row, "signal_type", ""))
    action_type, priority, sentence = NBA_MAPPING.get(signal_type, TRIAGE)
    evidence = [
        str(e) for e in (get(signal_row, "evidence_refs", []) or []) if e is not None and str(e).strip()
    ]
    if not evidence:
        return None
    signal_id = get(signal_row, "id")
    return NbaCandidate(
        signal_id=signal_id,
        action_type=action_type,
        priority=priority,
        summary=f"{sentence}: {get(signal_row, 'summary', '')}".strip(),
        evidence_refs=evidence,
        dedupe_key=sha1hex(f"{project_id}:{signal_id}:{action_type}"),
        account_id=get(signal_row, "account_id"),
        opportunity_id=get(signal_row, "opportunity_id"),
    )


def merge_nba(existing: Mapping[str, Any] | None, candidate: NbaCandidate, now: datetime) -> dict[str, Any]:
    """Row after upsert: priority = max; summary/evidence replaced; updated_at = now; status kept."""
    row = candidate.to_row()
    if existing is None:
        return row | {"status": RecommendationStatus.PROPOSED.value, "created_at": now, "updated_at": now}
    merged = dict(existing) | row
    merged["priority"] = max(
        int(to_number(existing.get("priority"), allow_str=True) or 0), candidate.priority
    )
    merged["status"] = existing.get("status") or RecommendationStatus.PROPOSED.value
    merged["created_at"] = existing.get("created_at", now)
    merged["updated_at"] = now
    return merged


def apply_legacy_signal_status(row: Mapping[str, Any], status: Any) -> tuple[dict[str, Any], bool]:
    """(row, changed); same status leaves the row untouched; unknown → `InvalidStatus`."""
    target = parse_status(status, LEGACY_SIGNAL_STATUSES)
    if row.get("status") == target:
        return dict(row), False
    return dict(row) | {"status": target}, True


def apply_nba_status(row: Mapping[str, Any], status: Any, now: datetime) -> tuple[dict[str, Any], bool]:
    """(row, changed); `updated_at = now` always, also when the status is unchanged (§19)."""
    target = parse_status(status, NBA_STATUSES)
    changed = row.get("status") != target
    return dict(row) | {"status": target, "updated_at": now}, changed


def top_nba(rows: Iterable[Mapping[str, Any]], limit: int = 5) -> list[Mapping[str, Any]]:
    """Status proposed/accepted, priority desc, updated_at desc, limit clamped to 1..50."""
    limit = int(min(max(limit, 1), 50))
    live = [r for r in rows if r.get("status", "proposed") in TOP_NBA_STATUSES]
    live.sort(
        key=lambda r: (
            -(to_number(r.get("priority"), allow_str=True) or 0),
            -(parse_ts(r.get("updated_at")) or _EPOCH).timestamp(),
        )
    )
    return live[:limit]
