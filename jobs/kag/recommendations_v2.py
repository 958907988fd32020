"""Recommendations v2 (kag.md §14): generation from signals, scores, forecasts and similar cases,
dedupe, the `new → acknowledged → done/dismissed` lifecycle, feedback and shown tracking.

Wiring (`kag_v2_recommendations_refresh`): read stored signals, scores, `kag_risk_forecasts`,
similar cases (window 14, top_k 5), the project, its CRM accounts and templates; call
`generate_v2_recommendations(...)`; upsert each `V2Recommendation.to_row()` into
`recommendations_v2` on `(project_id, dedupe_key)` updating **only** `V2_CONTENT_COLUMNS` (+
`updated_at`). `merge_regenerated(existing, generated, now)` is the same rule as a pure function:
a regeneration never resets a user's status, feedback, shown counters, `completed_at` or
`created_at`. Routes use `apply_v2_status`, `apply_v2_feedback` and `mark_shown`.

Decisions where the spec is silent:
- Triggers compare the stored (4 dp) probabilities.
- `signal_snapshot` holds the involved signals' full rows (timestamps as ISO strings);
  `forecast_snapshot` the involved forecast rows.
- Lifecycle and feedback rules (`apply_v2_status`, `apply_v2_feedback` …) live in
  `shared.kag.lifecycle` (web and services apply them) and are re-exported here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from jobs.kag.context import ProjectContext
from jobs.kag.events_log import KagWarning, no_evidence_warning
from jobs.kag.evidence import CAP_V2, gate_by_evidence, merge_refs, ref_links
from jobs.kag.forecast import index_forecasts
from jobs.kag.keys import dedupe_key
from jobs.kag.rounding import fmt, to_int
from jobs.kag.rows import field as get
from jobs.kag.scores import index_scores
from jobs.kag.signals import index_signals, signal_value
from jobs.kag.templates import (
    DEFAULT_STAGE_NAME,
    TEMPLATE_FOR_CATEGORY,
    render,
    render_template,
    resolve_template_body,
)
from jobs.kag.timeutil import iso_z, utc_date
from jobs.kag.vocab import HelpfulFeedback, V2Status
from shared.kag.lifecycle import (  # noqa: F401 - re-exported (routes and services apply them)
    apply_v2_feedback,
    apply_v2_status,
    parse_feedback,
    parse_note,
)

__all__ = [
    "EXPECTED_IMPACT",
    "TITLES_V2",
    "V2_CONTENT_COLUMNS",
    "V2_PRESERVED_COLUMNS",
    "V2Recommendation",
    "V2Result",
    "apply_v2_feedback",
    "apply_v2_status",
    "generate_v2_recommendations",
    "mark_shown",
    "merge_regenerated",
    "parse_feedback",
    "parse_note",
]

TITLES_V2: dict[str, str] = {
    "waiting_on_client": "Получить апрув клиента по текущему этапу",
    "scope_creep_change_request": "Перевести запросы вне scope в Change Request",
    "delivery_risk": "Снять блокеры и пересобрать план поставки",
    "finance_risk": "Провести ревью бюджета и маржи с клиентом",
    "upsell_opportunity": "Предложить клиенту расширение",
    "winback": "Удержать клиента: предложить план развития",
}
EXPECTED_IMPACT: dict[str, str] = {
    "waiting_on_client": "Этап закрывается без сдвига сроков; снижается риск по клиенту.",
    "scope_creep_change_request": "Доп. работы оплачиваются и планируются; сроки и маржа защищены.",
    "delivery_risk": "Критический путь разблокирован; снижается вероятность срыва сроков.",
    "finance_risk": "Бюджет возвращается к плану; маржа защищена.",
    "upsell_opportunity": "Рост выручки по аккаунту.",
    "winback": "Клиент и выручка по аккаунту сохранены.",
}
UPSELL_NEED = "клиент проявляет интерес к расширению работ"
UPSELL_VALUE = "рост выручки по аккаунту и более глубокая вовлечённость клиента"
WINBACK_NEED = (
    "у похожих проектов клиенты замораживали или теряли сделки на этом этапе — предлагаем план развития"
)
WINBACK_VALUE = "сохранение клиента и выручки по аккаунту"

V2_CONTENT_COLUMNS: tuple[str, ...] = (
    "category",
    "priority",
    "due_date",
    "owner_role",
    "title",
    "rationale",
    "why_now",
    "expected_impact",
    "evidence_refs",
    "links",
    "suggested_template_key",
    "suggested_template",
    "signal_snapshot",
    "forecast_snapshot",
)
V2_PRESERVED_COLUMNS: tuple[str, ...] = (
    "status",
    "helpful_feedback",
    "feedback_note",
    "shown_count",
    "first_shown_at",
    "last_shown_at",
    "completed_at",
    "created_at",
)


@dataclass(frozen=True)
class V2Recommendation:
    """Content of one `recommendations_v2` row (user-owned columns are not generated)."""

    category: str
    priority: int
    due_date: date
    owner_role: str
    title: str
    rationale: str
    why_now: str
    expected_impact: str
    evidence_refs: list[dict[str, Any]]
    links: list[str]
    suggested_template_key: str
    suggested_template: str
    signal_snapshot: dict[str, Any]
    forecast_snapshot: dict[str, Any]
    dedupe_key: str

    def to_row(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "priority": self.priority,
            "due_date": self.due_date,
            "owner_role": self.owner_role,
            "title": self.title[:500],
            "rationale": self.rationale[:4000],
            "why_now": self.why_now[:2000],
            "expected_impact": self.expected_impact[:2000],
            "evidence_refs": [dict(r) for r in self.evidence_refs],
            "links": list(self.links),
            "suggested_template_key": self.suggested_template_key,
            "suggested_template": self.suggested_template[:12000],
            "signal_snapshot": dict(self.signal_snapshot),
            "forecast_snapshot": dict(self.forecast_snapshot),
            "dedupe_key": self.dedupe_key,
        }


@dataclass
class V2Result:
    recommendations: list[V2Recommendation] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    similar_cases_top3: list[dict[str, Any]] = field(default_factory=list)

    @property
    def warning(self) -> KagWarning | None:
        return no_evidence_warning("recommendations_v2", self.dropped)

    def result(self, touched: int | None = None) -> dict[str, Any]:
        return {
            "touched": len(self.recommendations) if touched is None else touched,
            "generated": len(self.recommendations),
            "dropped_no_evidence": sum(self.dropped.values()),
            "recommendations": [
                {"category": r.category, "priority": r.priority, "dedupe_key": r.dedupe_key}
                for r in self.recommendations
            ],
            "similar_cases_top3": list(self.similar_cases_top3),
        }


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _signal_rows(signals: Mapping[str, dict[str, Any]], *keys: str) -> dict[str, Any]:
    return {k: {name: _json_value(v) for name, v in signals[k].items()} for k in keys if k in signals}


def _forecast_rows(forecasts: Mapping[str, dict[str, Any]], *types: str) -> dict[str, Any]:
    return {t: {name: _json_value(v) for name, v in forecasts[t].items()} for t in types if t in forecasts}


def generate_v2_recommendations(
    signals: Iterable[Any] | Mapping[str, Any] | None,
    scores: Iterable[Any] | Mapping[str, Any] | None,
    forecasts: Iterable[Any] | Mapping[str, Any] | None,
    similar_cases: Sequence[Any] = (),
    context: ProjectContext | None = None,
    now: datetime | None = None,
    *,
    templates: Iterable[Any] | None = None,
    rewriter: Callable[[str, str, Mapping[str, Any]], str | None] | None = None,
) -> V2Result:
    """Apply the six §14.1 rules (at most one row per category), gate by evidence, sort."""
    if now is None:
        raise ValueError("now is required")
    sig = index_signals(signals)
    sco = index_scores(scores)
    fc = index_forecasts(forecasts)
    ctx = context or ProjectContext()
    stored_templates = list(templates or ())
    today = utc_date(now)

    def p(risk_type: str, horizon: int) -> float:
        return float((fc.get(risk_type) or {}).get(f"probability_{horizon}d", 0.0) or 0.0)

    def sig_refs(*keys: str) -> list[list[Any]]:
        return [list((sig.get(k) or {}).get("evidence_refs") or []) for k in keys]

    def fc_refs(risk_type: str) -> list[Any]:
        return list((fc.get(risk_type) or {}).get("evidence_refs") or [])

    waiting = signal_value(sig, "waiting_on_client_days")
    scope_rate = signal_value(sig, "scope_creep_rate")
    scope_requests = to_int(
        ((sig.get("scope_creep_rate") or {}).get("details") or {}).get("scope_requests_7d")
    )
    blockers_age = signal_value(sig, "blockers_age")
    open_blockers = to_int(((sig.get("blockers_age") or {}).get("details") or {}).get("open_blockers"))
    stage_overdue = signal_value(sig, "stage_overdue")
    stage_name = ((sig.get("stage_overdue") or {}).get("details") or {}).get(
        "stage_name"
    ) or DEFAULT_STAGE_NAME
    burn = signal_value(sig, "budget_burn_rate")
    margin = signal_value(sig, "margin_risk")
    upsell = float((sco.get("upsell_likelihood") or {}).get("score", 0.0))

    def build(
        category: str,
        priority: int,
        due_days: int,
        owner: str,
        evidence: list[list[Any]],
        rationale: str,
        why_now: str,
        variables: dict[str, Any],
        signal_keys: tuple[str, ...],
        forecast_types: tuple[str, ...],
        ctx_key: dict[str, Any],
        *,
        rewrite: bool = True,
    ) -> V2Recommendation:
        template_key = TEMPLATE_FOR_CATEGORY[category]
        refs = merge_refs(*evidence, cap=CAP_V2)
        if rewrite:
            body = render_template(template_key, variables, stored=stored_templates, rewriter=rewriter)
        else:
            body = render(resolve_template_body(template_key, stored_templates), variables)[:12000]
        return V2Recommendation(
            category=category,
            priority=priority,
            due_date=today + timedelta(days=due_days),
            owner_role=owner,
            title=TITLES_V2[category],
            rationale=rationale,
            why_now=why_now,
            expected_impact=EXPECTED_IMPACT[category],
            evidence_refs=refs,
            links=ref_links(refs),
            suggested_template_key=template_key,
            suggested_template=body,
            signal_snapshot=_signal_rows(sig, *signal_keys),
            forecast_snapshot=_forecast_rows(fc, *forecast_types),
            dedupe_key=dedupe_key(category, ctx_key),
        )

    candidates: list[V2Recommendation] = []
    pc7, pc14, pc30 = p("client_risk", 7), p("client_risk", 14), p("client_risk", 30)
    if waiting >= 2 or pc7 >= 0.45:
        candidates.append(
            build(
                "waiting_on_client",
                5 if pc7 > 0.65 else 4,
                1,
                "pm",
                sig_refs("waiting_on_client_days") + [fc_refs("client_risk")],
                f"Клиент молчит {fmt(waiting, 1)} дн. по этапу «{stage_name}»; "
                f"P(client_risk,7d)={fmt(pc7, 2)}.",
                f"P(client_risk,7d)={fmt(pc7, 2)}",
                {"client_name": ctx.client_name, "stage_name": stage_name, "waiting_days": fmt(waiting, 1)},
                ("waiting_on_client_days",),
                ("client_risk",),
                {"waiting_days": fmt(waiting, 1), "p7": fmt(pc7, 2)},
            )
        )
    ps7, ps14 = p("scope_risk", 7), p("scope_risk", 14)
    if scope_rate >= 0.20 or ps14 >= 0.50:
        candidates.append(
            build(
                "scope_creep_change_request",
                5 if ps7 > 0.60 else 4,
                2,
                "pm",
                sig_refs("scope_creep_rate") + [fc_refs("scope_risk")],
                f"Scope creep rate {fmt(scope_rate, 2)} ({scope_requests} запрос(а) вне scope за 7 дней); "
                f"P(scope_risk,14d)={fmt(ps14, 2)}.",
                f"P(scope_risk,14d)={fmt(ps14, 2)}",
                {"client_name": ctx.client_name, "out_of_scope_count": max(1, scope_requests)},
                ("scope_creep_rate",),
                ("scope_risk",),
                {"scope_rate": fmt(scope_rate, 2), "p14": fmt(ps14, 2)},
            )
        )
    pd7 = p("delivery_risk", 7)
    if pd7 >= 0.45 or blockers_age > 5:
        expected_days = float((fc.get("delivery_risk") or {}).get("expected_time_to_risk_days", 60.0) or 60.0)
        candidates.append(
            build(
                "delivery_risk",
                5 if pd7 >= 0.70 else 4,
                1,
                "pm",
                sig_refs("blockers_age", "stage_overdue") + [fc_refs("delivery_risk")],
                f"Открытых блокеров: {open_blockers}, средний возраст {fmt(blockers_age, 1)} дн.; "
                "просрочка этапа "
                f"{fmt(stage_overdue, 1)} дн.; P(delivery_risk,7d)={fmt(pd7, 2)}.",
                f"Ожидаемое время до риска: {fmt(expected_days, 1)} дн. (P(delivery_risk,7d)={fmt(pd7, 2)})",
                {
                    "project_name": ctx.project_name,
                    "blockers_count": open_blockers,
                    "blockers_age_days": fmt(blockers_age, 1),
                    "stage_overdue_days": fmt(stage_overdue, 1),
                },
                ("blockers_age", "stage_overdue"),
                ("delivery_risk",),
                {"p7": fmt(pd7, 2), "blockers_age": fmt(blockers_age, 1)},
            )
        )
    pf7, pf14 = p("finance_risk", 7), p("finance_risk", 14)
    if pf7 >= 0.45 or burn >= 1.2:
        candidates.append(
            build(
                "finance_risk",
                5 if pf7 >= 0.70 else 4,
                2,
                "finance_lead",
                sig_refs("budget_burn_rate", "margin_risk") + [fc_refs("finance_risk")],
                f"Burn rate {fmt(burn, 2)} к плану; margin risk {fmt(margin * 100, 1)} %; "
                f"P(finance_risk,7d)={fmt(pf7, 2)}.",
                f"P(finance_risk,7d)={fmt(pf7, 2)}",
                {
                    "client_name": ctx.client_name,
                    "burn_rate": fmt(burn, 2),
                    "margin_risk_pct": fmt(margin * 100, 1),
                },
                ("budget_burn_rate", "margin_risk"),
                ("finance_risk",),
                {"burn": fmt(burn, 2), "p14": fmt(pf14, 2)},
            )
        )
    if upsell >= 65 and pc30 < 0.75:
        candidates.append(
            build(
                "upsell_opportunity",
                5 if upsell >= 80 else 4,
                3,
                "account_manager",
                sig_refs("scope_creep_rate", "waiting_on_client_days") + [fc_refs("client_risk")],
                f"Upsell likelihood {fmt(upsell, 1)}; P(client_risk,30d)={fmt(pc30, 2)} ниже 0.75.",
                f"P(client_risk,30d)={fmt(pc30, 2)}",
                {"client_name": ctx.client_name, "need_signal": UPSELL_NEED, "expected_value": UPSELL_VALUE},
                ("scope_creep_rate", "waiting_on_client_days"),
                ("client_risk",),
                {"upsell": fmt(upsell, 1), "p30": fmt(pc30, 2)},
            )
        )
    if pc14 >= 0.65:
        winback_refs = [
            list(get(outcome, "evidence_refs", []) or [])
            for case in similar_cases
            for outcome in (get(case, "outcomes_seen", []) or [])
            if "client" in str(get(outcome, "outcome_type", ""))
        ]
        candidates.append(
            build(
                "winback",
                5,
                1,
                "account_manager",
                winback_refs,
                f"P(client_risk,14d)={fmt(pc14, 2)}; у похожих проектов был клиентский риск "
                f"(заморозка/потеря сделки).",
                f"P(client_risk,14d)={fmt(pc14, 2)}",
                {
                    "client_name": ctx.client_name,
                    "need_signal": WINBACK_NEED,
                    "expected_value": WINBACK_VALUE,
                },
                ("waiting_on_client_days",),
                ("client_risk",),
                {"p14": fmt(pc14, 2)},
                rewrite=False,
            )
        )

    gate = gate_by_evidence(candidates, evidence=lambda c: c.evidence_refs, category=lambda c: c.category)
    ordered = sorted(gate.kept, key=lambda c: -c.priority)
    top3 = [
        {
            "case_project_id": get(c, "case_project_id"),
            "similarity_score": get(c, "similarity_score"),
            "outcomes_seen": list(get(c, "outcomes_seen", []) or []),
            "why_similar": get(c, "why_similar"),
        }
        for c in list(similar_cases)[:3]
    ]
    return V2Result(recommendations=ordered, dropped=gate.dropped, similar_cases_top3=top3)


# --- regeneration merge -----------------------------------------------------------------------


def merge_regenerated(
    existing: Mapping[str, Any] | None, generated: V2Recommendation, now: datetime
) -> dict[str, Any]:
    """Row after an upsert: content replaced; status/feedback/shown/completed/created kept."""
    content = generated.to_row()
    if existing is None:
        return content | {
            "status": V2Status.NEW.value,
            "helpful_feedback": HelpfulFeedback.UNKNOWN.value,
            "feedback_note": None,
            "shown_count": 0,
            "first_shown_at": None,
            "last_shown_at": None,
            "completed_at": None,
            "created_at": now,
            "updated_at": now,
        }
    row = dict(existing)
    row.update(content)
    for column in V2_PRESERVED_COLUMNS:
        if column in existing:
            row[column] = existing[column]
    row["updated_at"] = now
    return row


# --- lifecycle, feedback, shown ---------------------------------------------------------------


# apply_v2_status, parse_feedback, parse_note, apply_v2_feedback: `shared.kag.lifecycle`.


def mark_shown(rows: Iterable[Mapping[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """Post-update values of `shown_count += 1`, `last_shown_at = now`, `first_shown_at = coalesce`."""
    out = []
    for row in rows:
        new = dict(row)
        new["shown_count"] = int(row.get("shown_count") or 0) + 1
        new["last_shown_at"] = now
        new["first_shown_at"] = row.get("first_shown_at") or now
        out.append(new)
    return out
