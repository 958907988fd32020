"""Recommendations v1 (kag.md §9): rule-based next best actions from signals and scores.

Wiring: the `recommendations_v1` stage reads the stored signals, scores, the signal state,
`kag_templates` rows, the project and its CRM accounts, calls
`generate_v1_recommendations(signals, scores, state, context, now, templates=rows)` and upserts
each `V1Recommendation.to_row()` into `kag_recommendations` on `(project_id, dedupe_key)`:
content columns replaced, `status` never written on conflict (`merge_v1_row` is the same rule as a
pure function; new rows start `proposed`). `result.dropped` feeds one `no_evidence_dropped`
warning (`result.warning`). `result.result(touched)` is the stage result.

Decisions where the spec is silent: titles, rationales and the fixed upsell phrases are Russian
product copy; numbers inside them use `fmt` with `.` as decimal separator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from jobs.kag.context import ProjectContext
from jobs.kag.events_log import KagWarning, no_evidence_warning
from jobs.kag.evidence import CAP_SIGNAL_BUCKET, CAP_V1, gate_by_evidence, merge_refs
from jobs.kag.keys import dedupe_key
from jobs.kag.rounding import fmt, rnd, to_int
from jobs.kag.scores import index_scores
from jobs.kag.signals import SignalState, index_signals, signal_value
from jobs.kag.templates import DEFAULT_STAGE_NAME, TEMPLATE_FOR_CATEGORY, plural_ru, render_template
from jobs.kag.vocab import V1_STATUSES, RecommendationStatus, parse_status

__all__ = [
    "TITLES_V1",
    "apply_v1_status",
    "V1Recommendation",
    "V1Result",
    "generate_v1_recommendations",
    "merge_v1_row",
    "need_signal_phrase",
]

TITLES_V1: dict[str, str] = {
    "waiting_on_client": "Напомнить клиенту об апруве этапа",
    "scope_creep_change_request": "Оформить Change Request на запросы вне scope",
    "delivery_risk": "Эскалировать риск по срокам поставки",
    "finance_risk": "Провести ревью бюджета и маржи",
    "upsell_opportunity": "Подготовить оффер на расширение",
}
UPSELL_EXPECTED_VALUE = "рост выручки по аккаунту и более глубокая вовлечённость клиента"


def need_signal_phrase(count: int) -> str:
    """«обнаружено N сигнал(а/ов) потребности за 7 дней»."""
    return f"обнаружено {count} {plural_ru(count, 'сигнал', 'сигнала', 'сигналов')} потребности за 7 дней"


@dataclass(frozen=True)
class V1Recommendation:
    """One `kag_recommendations` row without `status` (new rows start `proposed`)."""

    category: str
    priority: int
    title: str
    rationale: str
    suggested_template_key: str
    suggested_template: str
    evidence_refs: list[dict[str, Any]]
    signal_snapshot: dict[str, Any]
    score_snapshot: dict[str, Any]
    dedupe_key: str

    def to_row(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "priority": self.priority,
            "title": self.title[:500],
            "rationale": self.rationale[:3000],
            "suggested_template_key": self.suggested_template_key,
            "suggested_template": self.suggested_template[:12000],
            "evidence_refs": [dict(r) for r in self.evidence_refs],
            "signal_snapshot": dict(self.signal_snapshot),
            "score_snapshot": dict(self.score_snapshot),
            "dedupe_key": self.dedupe_key,
        }


@dataclass
class V1Result:
    recommendations: list[V1Recommendation] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)

    @property
    def warning(self) -> KagWarning | None:
        return no_evidence_warning("recommendations_v1", self.dropped)

    def result(self, touched: int | None = None) -> dict[str, Any]:
        return {
            "generated": len(self.recommendations),
            "touched": len(self.recommendations) if touched is None else touched,
            "dropped_no_evidence": sum(self.dropped.values()),
        }


def _signal_snap(signals: Mapping[str, dict[str, Any]], key: str) -> dict[str, Any]:
    row = signals.get(key) or {}
    return {
        "signal_key": key,
        "value": row.get("value", 0.0),
        "status": row.get("status", "ok"),
        "details": dict(row.get("details") or {}),
    }


def _score_snap(scores: Mapping[str, dict[str, Any]], *types: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for score_type in types:
        row = scores.get(score_type) or {}
        out[score_type] = {
            "score_type": score_type,
            "score": row.get("score", 0.0),
            "level": row.get("level", "low"),
        }
    return out


def _refs(signals: Mapping[str, dict[str, Any]], *keys: str) -> list[list[Any]]:
    return [list((signals.get(k) or {}).get("evidence_refs") or []) for k in keys]


def generate_v1_recommendations(
    signals: Iterable[Any] | Mapping[str, Any] | None,
    scores: Iterable[Any] | Mapping[str, Any] | None,
    state: SignalState | Mapping[str, Any] | None,
    context: ProjectContext | None,
    now: datetime,
    *,
    templates: Iterable[Any] | None = None,
    rewriter: Callable[[str, str, Mapping[str, Any]], str | None] | None = None,
) -> V1Result:
    """Fire each §9 rule at most once; drop candidates without evidence; sort by priority desc."""
    sig = index_signals(signals)
    sco = index_scores(scores)
    st = state if isinstance(state, SignalState) else SignalState.from_payload(state)
    ctx = context or ProjectContext()
    stored_templates = list(templates or ())

    waiting = signal_value(sig, "waiting_on_client_days")
    stage_overdue = signal_value(sig, "stage_overdue")
    stage_details = (sig.get("stage_overdue") or {}).get("details") or {}
    stage_name = stage_details.get("stage_name") or st.stage_name or DEFAULT_STAGE_NAME
    approval_pending = bool(stage_details.get("approval_pending"))
    scope_rate = signal_value(sig, "scope_creep_rate")
    scope_requests = to_int(
        ((sig.get("scope_creep_rate") or {}).get("details") or {}).get("scope_requests_7d")
    )
    blockers_age = signal_value(sig, "blockers_age")
    open_blockers = to_int(((sig.get("blockers_age") or {}).get("details") or {}).get("open_blockers"))
    burn = signal_value(sig, "budget_burn_rate")
    margin = signal_value(sig, "margin_risk")
    upsell = float((sco.get("upsell_likelihood") or {}).get("score", 0.0))
    needs_7d = st.needs_since(now - timedelta(days=7))

    def build(
        category: str,
        priority: int,
        rationale: str,
        evidence: list[Any],
        variables: dict[str, Any],
        signal_snapshot: dict[str, Any],
        score_snapshot: dict[str, Any],
        ctx_key: dict[str, Any],
    ) -> V1Recommendation:
        template_key = TEMPLATE_FOR_CATEGORY[category]
        return V1Recommendation(
            category=category,
            priority=priority,
            title=TITLES_V1[category],
            rationale=rationale,
            suggested_template_key=template_key,
            suggested_template=render_template(
                template_key, variables, stored=stored_templates, rewriter=rewriter
            ),
            evidence_refs=merge_refs(*evidence, cap=CAP_V1),
            signal_snapshot=signal_snapshot,
            score_snapshot=score_snapshot,
            dedupe_key=dedupe_key(category, ctx_key),
        )

    candidates: list[V1Recommendation] = []
    if waiting >= 2:
        priority = 5 if waiting >= 4 or approval_pending else 4
        approval_text = (
            "этап ожидает апрува клиента" if approval_pending else "этап не помечен как ожидающий апрува"
        )
        candidates.append(
            build(
                "waiting_on_client",
                priority,
                f"Ждём ответа клиента {fmt(waiting, 1)} дн. по этапу «{stage_name}»; {approval_text}.",
                _refs(sig, "waiting_on_client_days", "stage_overdue"),
                {"client_name": ctx.client_name, "stage_name": stage_name, "waiting_days": fmt(waiting, 1)},
                {
                    "waiting": _signal_snap(sig, "waiting_on_client_days"),
                    "stage": _signal_snap(sig, "stage_overdue"),
                },
                _score_snap(sco, "project_health", "risk"),
                {"waiting_days": fmt(waiting, 1), "approval_pending": approval_pending},
            )
        )
    if scope_rate >= 0.20 or scope_requests >= 2:
        priority = 5 if scope_rate >= 0.35 or scope_requests >= 3 else 4
        count = scope_requests if scope_requests > 0 else max(1, int(rnd(scope_rate * 10, 0)))
        candidates.append(
            build(
                "scope_creep_change_request",
                priority,
                f"За 7 дней {scope_requests} запрос(а) вне scope; scope creep rate {fmt(scope_rate, 2)}.",
                _refs(sig, "scope_creep_rate"),
                {"client_name": ctx.client_name, "out_of_scope_count": count},
                {"scope_creep_rate": _signal_snap(sig, "scope_creep_rate")},
                _score_snap(sco, "project_health", "risk"),
                {"scope_requests_7d": scope_requests, "scope_creep_rate": fmt(scope_rate, 2)},
            )
        )
    blockers_rule = open_blockers > 3 and blockers_age > 5
    if blockers_rule or stage_overdue > 1:
        candidates.append(
            build(
                "delivery_risk",
                5 if blockers_rule else 4,
                f"Открытых блокеров: {open_blockers}, средний возраст {fmt(blockers_age, 1)} дн.; "
                f"просрочка этапа {fmt(stage_overdue, 1)} дн.",
                _refs(sig, "blockers_age", "stage_overdue"),
                {
                    "project_name": ctx.project_name,
                    "blockers_count": open_blockers,
                    "blockers_age_days": fmt(blockers_age, 1),
                    "stage_overdue_days": fmt(stage_overdue, 1),
                },
                {
                    "blockers_age": _signal_snap(sig, "blockers_age"),
                    "stage_overdue": _signal_snap(sig, "stage_overdue"),
                },
                _score_snap(sco, "project_health", "risk"),
                {
                    "blockers_count": open_blockers,
                    "blockers_age_days": fmt(blockers_age, 1),
                    "stage_overdue_days": fmt(stage_overdue, 1),
                },
            )
        )
    if burn > 1.10 or margin >= 0.25:
        candidates.append(
            build(
                "finance_risk",
                5 if burn >= 1.20 or margin >= 0.40 else 4,
                f"Burn rate {fmt(burn, 2)} к плану; "
                f"риск маржинальности (margin risk) {fmt(margin * 100, 1)} %.",
                _refs(sig, "budget_burn_rate", "margin_risk"),
                {
                    "client_name": ctx.client_name,
                    "burn_rate": fmt(burn, 2),
                    "margin_risk_pct": fmt(margin * 100, 1),
                },
                {
                    "budget_burn_rate": _signal_snap(sig, "budget_burn_rate"),
                    "margin_risk": _signal_snap(sig, "margin_risk"),
                },
                _score_snap(sco, "risk", "client_value"),
                {"burn_rate": fmt(burn, 2), "margin_risk": fmt(margin, 2)},
            )
        )
    if upsell >= 65 and needs_7d > 0:
        upsell_evidence = (sco.get("upsell_likelihood") or {}).get("evidence_refs") or []
        candidates.append(
            build(
                "upsell_opportunity",
                5 if upsell >= 80 else 4,
                f"Upsell likelihood {fmt(upsell, 1)}; {need_signal_phrase(needs_7d)}.",
                [st.need_evidence[-CAP_SIGNAL_BUCKET:], upsell_evidence],
                {
                    "client_name": ctx.client_name,
                    "need_signal": need_signal_phrase(needs_7d),
                    "expected_value": UPSELL_EXPECTED_VALUE,
                },
                {"scope_creep_rate": _signal_snap(sig, "scope_creep_rate")},
                _score_snap(sco, "upsell_likelihood", "client_value"),
                {"upsell_likelihood": fmt(upsell, 1), "need_count_7d": needs_7d},
            )
        )

    gate = gate_by_evidence(candidates, evidence=lambda c: c.evidence_refs, category=lambda c: c.category)
    ordered = sorted(gate.kept, key=lambda c: -c.priority)  # stable: rule order within a priority
    return V1Result(recommendations=ordered, dropped=gate.dropped)


def merge_v1_row(
    existing: Mapping[str, Any] | None, generated: V1Recommendation, now: datetime
) -> dict[str, Any]:
    """The row after an upsert: content replaced, `status` and `created_at` kept (§9)."""
    row = generated.to_row()
    if existing is None:
        return row | {"status": RecommendationStatus.PROPOSED.value, "created_at": now, "updated_at": now}
    return row | {
        "status": existing.get("status") or RecommendationStatus.PROPOSED.value,
        "created_at": existing.get("created_at", now),
        "updated_at": now,
    }


def apply_v1_status(row: Mapping[str, Any], status: Any, now: datetime) -> tuple[dict[str, Any], bool]:
    """(row, changed) for a v1 status change (no route uses it in this release, §9).

    Same vocabulary as legacy signals; the same status again leaves the row untouched;
    an unknown status raises `InvalidStatus`.
    """
    target = parse_status(status, V1_STATUSES)
    if row.get("status") == target:
        return dict(row), False
    return dict(row) | {"status": target, "updated_at": now}, True
