"""Portfolio (business.md §A7, §A8): client value score, discount policy and the pure aggregation
behind ``GET /portfolio/overview`` and ``GET /portfolio/messages``.

Both routes are synchronous reads, so everything they compute lives here (``shared``), not in
``jobs``. The database layer runs the scoped queries and passes plain rows (mappings) in; these
functions do the selection rules, formulas, ordering, bucketing and rounding. Tables read:
``projects``, ``cw_messages``, ``cw_contacts``, ``linear_issues_raw``, ``attio_opportunities_raw``,
``crm_opportunities``, ``health_scores``, ``risk_radar_items``, ``risk_pattern_events``, ``signals``,
``analytics_revenue_snapshots``, ``analytics_comms_snapshots``, ``evidence_items``, ``offers``,
``upsell_opportunities``.

Decisions where the spec is silent:

* Averages in charts are rounded half-up to 2 dp (upsell ``score`` averages to 4 dp).
* ``agreements_created_vs_completed`` has one point per week that has created agreements; the
  ``completed`` count of that week is 0 when no offer was signed in it.
* An agreement card's payload counts as absent when it is empty (``{}``), so the summary falls
  back to ``source_pk`` rather than the text ``{}``. Keywords are matched against the payload's
  JSON text written with ``ensure_ascii=False`` (as PostgreSQL's ``payload::text`` renders it).
* A non-UUID ``project_id`` on ``/portfolio/messages`` is 404 ``project_not_found`` (it cannot be
  a project of the scope).
* Projects with equal names are ordered by id, so the order is stable.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from shared.business.crm import CLOSED_STAGES, OPPORTUNITY_STAGES
from shared.business.dates import as_utc, utc_date, week_start
from shared.business.errors import InvalidInput, NotFound
from shared.business.labels import CLIENT_AUTHOR_FALLBACK, CONTACT_FALLBACK, TEAM_AUTHOR_FALLBACK
from shared.business.numbers import clamp, json_number, money, round_half_up, round_int, to_decimal
from shared.business.params import parse_id_list, parse_lenient_int, parse_text, parse_uuid

__all__ = [
    "AGREEMENT_KEYWORDS",
    "KEYWORDS_ENV",
    "agreement_keywords",
    "ClientValue",
    "CrmFigures",
    "MessagesQuery",
    "OverviewQuery",
    "agreement_cards",
    "agreements_chart",
    "agreements_chart_from_counts",
    "burn_vs_budget_chart",
    "bucket_mean_series",
    "bucket_series",
    "client_value",
    "client_value_score",
    "combined_expected_revenue",
    "crm_figures",
    "dashboard_row",
    "dashboard_totals",
    "discount_policy",
    "empty_overview",
    "extract_attachments",
    "feed_message",
    "feed_messages",
    "finance_charts",
    "finance_row",
    "finance_totals",
    "forecast_days",
    "funnel_nodes",
    "is_agreement_evidence",
    "loops_email_counts",
    "max_discount_pct",
    "overview_messages",
    "parse_messages_query",
    "parse_overview_query",
    "pattern_card_severity",
    "person_name",
    "persons",
    "recent_offer_cards",
    "revenue_trend",
    "risk_cards",
    "risks_trend_chart",
    "select_contact",
    "select_projects",
    "upsell_cards",
]

Row = Mapping[str, Any]
ZERO = Decimal(0)

AGREEMENT_KEYWORDS: tuple[str, ...] = ("agreement", "commit", "deadline", "договор", "соглас", "услов", "срок")
_DISCOUNT_TIERS: tuple[tuple[int, int], ...] = ((85, 18), (70, 14), (55, 10), (40, 7))
_LOWEST_DISCOUNT = 5
_CLIENT_SENDER_TYPES = frozenset({"contact", "customer", "client"})


def _dec(value: object) -> Decimal:
    result = to_decimal(value)
    return ZERO if result is None else result


def _sortable(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def _sort_desc_nulls_last(rows: Iterable[Row], key: str) -> list[Row]:
    rows = list(rows)
    present = sorted((r for r in rows if r.get(key) is not None), key=lambda r: _sortable(r[key]), reverse=True)
    return present + [r for r in rows if r.get(key) is None]


# --- client value score and discount policy (§A7.1, §A7.7) --------------------------------------
@dataclass(frozen=True)
class ClientValue:
    r: Decimal
    e: Decimal
    h: Decimal
    p: Decimal
    raw: Decimal  # 22 + R + E + H − P before clamping
    score: int


def client_value(*, expected_revenue: object, messages_7d: object, health_score: object,
                 risks_open: object) -> ClientValue:
    """``round_half_up(clamp(22 + R + E + H − P, 0, 100))`` with
    R = min(28, 7·log10(1 + max(0, expected_revenue))), E = min(16, 0.8·messages_7d),
    H = min(42, 0.42·health_score), P = min(30, 5.5·risks_open). Computed in ``Decimal``."""
    revenue = max(ZERO, _dec(expected_revenue))
    r = min(Decimal(28), Decimal(7) * (Decimal(1) + revenue).log10())
    e = min(Decimal(16), Decimal("0.8") * _dec(messages_7d))
    h = min(Decimal(42), Decimal("0.42") * _dec(health_score))
    p = min(Decimal(30), Decimal("5.5") * _dec(risks_open))
    raw = Decimal(22) + r + e + h - p
    return ClientValue(r=r, e=e, h=h, p=p, raw=raw, score=round_int(clamp(raw, 0, 100)))


def client_value_score(*, expected_revenue: object, messages_7d: object, health_score: object,
                       risks_open: object) -> int:
    """The client value score (0–100 int) of §A7.1."""
    return client_value(expected_revenue=expected_revenue, messages_7d=messages_7d,
                        health_score=health_score, risks_open=risks_open).score


def max_discount_pct(client_value_score: int | Decimal) -> int:
    """Advisory discount ceiling: ≥85 → 18, ≥70 → 14, ≥55 → 10, ≥40 → 7, otherwise 5."""
    for floor, pct in _DISCOUNT_TIERS:
        if client_value_score >= floor:
            return pct
    return _LOWEST_DISCOUNT


def combined_expected_revenue(*, crm_expected: object, attio_pipeline_amount: object,
                              crm_pipeline_amount: object) -> Decimal:
    """``max(crm_expected, attio_pipeline_amount + crm_pipeline_amount)`` (2 dp)."""
    return money(max(_dec(crm_expected), _dec(attio_pipeline_amount) + _dec(crm_pipeline_amount)))


@dataclass(frozen=True)
class CrmFigures:
    deal_amount: Decimal  # won
    pipeline_amount: Decimal  # open
    expected_revenue: Decimal  # open, amount × probability


def crm_figures(opportunities: Iterable[Row]) -> CrmFigures:
    """Sums over CRM opportunities (``stage``, ``amount_estimate``, ``probability``), 2 dp."""
    won = pipeline = expected = ZERO
    for opp in opportunities:
        stage = (opp.get("stage") or "").lower()
        amount = _dec(opp.get("amount_estimate"))
        if stage == "won":
            won += amount
        if stage not in CLOSED_STAGES:
            pipeline += amount
            expected += amount * _dec(opp.get("probability"))
    return CrmFigures(money(won), money(pipeline), money(expected))


# --- query and selection ------------------------------------------------------------------------
@dataclass(frozen=True)
class OverviewQuery:
    project_ids: list[str]
    message_limit: int
    card_limit: int


def parse_overview_query(*, project_ids: object = None, message_limit: object = None,
                         card_limit: object = None) -> OverviewQuery:
    """``project_ids`` (comma-separated and/or repeated; non-UUIDs dropped; first 100),
    ``message_limit`` (40, [5, 200]) and ``card_limit`` (16, [4, 80]). Never raises."""
    return OverviewQuery(
        project_ids=parse_id_list(project_ids, max_items=100, allow_csv=True, uuids=True),
        message_limit=parse_lenient_int(message_limit, default=40, lo=5, hi=200),
        card_limit=parse_lenient_int(card_limit, default=16, lo=4, hi=80),
    )


def select_projects(requested_ids: Sequence[str], *, active_project_id: object,
                    scope_projects: Iterable[Row]) -> list[Row]:
    """Project resolution of §A7: no ids → the active project only; otherwise the scope's projects
    whose id is listed (no fallback when none match). ``scope_projects`` must be the session scope's
    projects only. Sorted by name asc."""
    projects = list(scope_projects)
    if requested_ids:
        wanted = set(requested_ids)
        chosen = [p for p in projects if str(p["id"]) in wanted]
    else:
        chosen = [p for p in projects if str(p["id"]) == str(active_project_id)]
    return sorted(chosen, key=lambda p: (p.get("name") or "", str(p["id"])))


def empty_overview() -> dict[str, Any]:
    """The response body of an empty selection (without the envelope keys)."""
    return {
        "projects": [], "selected_project_ids": [],
        "dashboard": {"totals": None, "by_project": [], "trend": [], "charts": {}},
        "messages": [], "agreements": [], "risks": [],
        "finances": {"totals": None, "by_project": [], "charts": {}},
        "offers": {"upsell": [], "recent_offers": [], "discount_policy": []},
        "loops": {"contacts_with_email": 0, "unique_emails": 0},
    }


# --- dashboard (§A7.1, §A7.2) -------------------------------------------------------------------
def dashboard_row(*, project_id: object, project_name: str, messages_7d: int, linear_open_issues: int,
                  attio_pipeline_amount: object, crm_opportunities: Iterable[Row],
                  health_score: object | None, risks_open: int) -> dict[str, Any]:
    """One ``dashboard.by_project`` entry. ``health_score`` None (no score yet) counts as 0."""
    figures = crm_figures(crm_opportunities)
    attio = money(_dec(attio_pipeline_amount))
    expected = combined_expected_revenue(crm_expected=figures.expected_revenue, attio_pipeline_amount=attio,
                                         crm_pipeline_amount=figures.pipeline_amount)
    health = money(_dec(health_score))
    score = client_value_score(expected_revenue=expected, messages_7d=messages_7d, health_score=health,
                               risks_open=risks_open)
    return {
        "project_id": str(project_id), "project_name": project_name,
        "messages_7d": int(messages_7d), "linear_open_issues": int(linear_open_issues),
        "attio_pipeline_amount": json_number(attio), "crm_pipeline_amount": json_number(figures.pipeline_amount),
        "expected_revenue": json_number(expected), "health_score": json_number(health),
        "risks_open": int(risks_open), "client_value_score": score,
    }


def _mean(values: Sequence[object], places: int = 2) -> Decimal:
    if not values:
        return round_half_up(0, places)
    return round_half_up(sum((_dec(v) for v in values), ZERO) / len(values), places)


def dashboard_totals(rows: Sequence[Row]) -> dict[str, Any] | None:
    """``dashboard.totals`` over the ``by_project`` rows; None for an empty selection."""
    if not rows:
        return None
    return {
        "selected_projects": len(rows),
        "messages_7d": sum(int(r["messages_7d"]) for r in rows),
        "linear_open_issues": sum(int(r["linear_open_issues"]) for r in rows),
        "expected_revenue": json_number(money(sum((_dec(r["expected_revenue"]) for r in rows), ZERO))),
        "risks_open": sum(int(r["risks_open"]) for r in rows),
        "avg_health_score": json_number(_mean([r["health_score"] for r in rows])),
        "avg_client_value_score": json_number(_mean([r["client_value_score"] for r in rows])),
    }


def revenue_trend(snapshots: Iterable[Row], *, totals: Row | None, by_project: Sequence[Row],
                  today: date) -> list[dict[str, Any]]:
    """``dashboard.trend``: horizon-30 revenue snapshots summed per ``period_start``, latest 12,
    oldest → newest. Without snapshots, one point for today from the dashboard figures."""
    sums: dict[date, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO, ZERO])
    for snap in snapshots:
        if int(snap.get("horizon_days") or 0) != 30:
            continue
        bucket = sums[snap["period_start"]]
        bucket[0] += _dec(snap.get("expected_revenue"))
        bucket[1] += _dec(snap.get("pipeline_amount"))
        bucket[2] += _dec(snap.get("costs_amount"))
    if not sums:
        pipeline = sum((_dec(r["attio_pipeline_amount"]) + _dec(r["crm_pipeline_amount"]) for r in by_project), ZERO)
        expected = _dec(totals["expected_revenue"]) if totals else ZERO
        return [{"period_start": today.isoformat(), "expected_revenue": json_number(money(expected)),
                 "pipeline_amount": json_number(money(pipeline)), "costs_amount": 0.0}]
    latest = sorted(sums)[-12:]
    return [{"period_start": p.isoformat(), "expected_revenue": json_number(money(sums[p][0])),
             "pipeline_amount": json_number(money(sums[p][1])), "costs_amount": json_number(money(sums[p][2]))}
            for p in latest]


def _bucket(value: date | datetime, bucket: str) -> date:
    day = utc_date(value) if isinstance(value, datetime) else value
    return week_start(day) if bucket == "week" else day


def bucket_series(points: Iterable[tuple[date | datetime | None, object]], *, bucket: str, agg: str,
                  max_points: int, since: date | None = None, places: int = 2) -> list[dict[str, Any]]:
    """Chart series ``[{point, value}]``: group ``(when, value)`` pairs by ``bucket`` (``day`` or
    ``week``; Monday labels), aggregate with ``count``/``sum``/``avg``, keep the most recent
    ``max_points`` buckets, ascending. ``since`` drops points whose bucket date is earlier."""
    groups: dict[date, list[Decimal]] = defaultdict(list)
    for when, value in points:
        if when is None:
            continue
        day = utc_date(when) if isinstance(when, datetime) else when
        if since is not None and day < since:
            continue
        groups[_bucket(day, bucket)].append(_dec(value))
    result = []
    for point in sorted(groups)[-max_points:]:
        values = groups[point]
        if agg == "count":
            value: Any = len(values)
        elif agg == "sum":
            value = json_number(round_half_up(sum(values, ZERO), places))
        else:
            value = json_number(round_half_up(sum(values, ZERO) / len(values), places))
        result.append({"point": point.isoformat(), "value": value})
    return result


def bucket_mean_series(groups: Iterable[tuple[date | datetime | None, object, object]], *, bucket: str,
                       max_points: int, places: int = 2) -> list[dict[str, Any]]:
    """The ``avg`` series of :func:`bucket_series` from pre-grouped ``(when, total, count)`` rows (e.g.
    per-day sums and counts from SQL): each bucket's value is Σtotal / Σcount, rounded half-up."""
    sums: dict[date, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for when, total, count in groups:
        if when is None:
            continue
        bucket_sum = sums[_bucket(when, bucket)]
        bucket_sum[0] += _dec(total)
        bucket_sum[1] += _dec(count)
    return [{"point": point.isoformat(),
             "value": json_number(round_half_up(sums[point][0] / sums[point][1], places))}
            for point in sorted(sums)[-max_points:] if sums[point][1]]


def agreements_chart(created: Iterable[date | datetime], signed_offers_updated: Iterable[date | datetime],
                     *, max_points: int = 24) -> list[dict[str, Any]]:
    """``agreements_created_vs_completed``: agreement-like evidence per week of ``created_at`` and,
    for the same weeks, signed offers per week of ``updated_at`` (0 when none)."""
    return agreements_chart_from_counts(
        ((when, 1) for when in created), ((when, 1) for when in signed_offers_updated), max_points=max_points)


def agreements_chart_from_counts(created: Iterable[tuple[date | datetime, int]],
                                 signed_offers_updated: Iterable[tuple[date | datetime, int]],
                                 *, max_points: int = 24) -> list[dict[str, Any]]:
    """:func:`agreements_chart` from ``(day, count)`` pairs (counts already grouped per day in SQL)."""
    created_weeks: dict[date, int] = defaultdict(int)
    for when, n in created:
        created_weeks[_bucket(when, "week")] += int(n)
    completed_weeks: dict[date, int] = defaultdict(int)
    for when, n in signed_offers_updated:
        completed_weeks[_bucket(when, "week")] += int(n)
    return [{"point": w.isoformat(), "created": created_weeks[w], "completed": completed_weeks.get(w, 0)}
            for w in sorted(created_weeks)[-max_points:]]


def risks_trend_chart(items: Iterable[tuple[date | datetime, object]], *, max_points: int = 24) -> list[dict[str, Any]]:
    """``risks_trend``: radar items ``(created_at, severity)`` per week: count and mean severity (2 dp)."""
    weeks: dict[date, list[Decimal]] = defaultdict(list)
    for when, severity in items:
        weeks[_bucket(when, "week")].append(_dec(severity))
    return [{"point": w.isoformat(), "count": len(weeks[w]),
             "severity_avg": json_number(round_half_up(sum(weeks[w], ZERO) / len(weeks[w]), 2))}
            for w in sorted(weeks)[-max_points:]]


def burn_vs_budget_chart(snapshots: Iterable[Row], *, max_points: int = 24) -> list[dict[str, Any]]:
    """``burn_vs_budget``: horizon-30 snapshots per ``period_start``: Σ costs (burn), Σ pipeline (budget)."""
    periods: dict[date, list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for snap in snapshots:
        if int(snap.get("horizon_days") or 0) != 30:
            continue
        periods[snap["period_start"]][0] += _dec(snap.get("costs_amount"))
        periods[snap["period_start"]][1] += _dec(snap.get("pipeline_amount"))
    return [{"point": p.isoformat(), "burn": json_number(money(periods[p][0])),
             "budget": json_number(money(periods[p][1]))} for p in sorted(periods)[-max_points:]]


# --- cards (§A7.3 – §A7.5, §A7.7) ---------------------------------------------------------------
def overview_messages(rows: Iterable[Row], *, limit: int) -> list[dict[str, Any]]:
    """``messages``: non-blank content, ``created_at`` desc (nulls last), first ``limit``,
    content cut to 600 characters."""
    usable = [r for r in rows if isinstance(r.get("content"), str) and r["content"].strip()]
    return [{"id": r.get("id"), "project_id": str(r.get("project_id")), "project_name": r.get("project_name"),
             "sender_type": r.get("sender_type"), "contact_global_id": r.get("contact_global_id"),
             "conversation_global_id": r.get("conversation_global_id"), "created_at": r.get("created_at"),
             "content": r["content"][:600]}
            for r in _sort_desc_nulls_last(usable, "created_at")[:limit]]


def _payload_text(payload: object) -> str | None:
    if payload is None or payload == {} or payload == []:
        return None
    return json.dumps(payload, ensure_ascii=False) if not isinstance(payload, str) else payload


def is_agreement_evidence(snippet: str | None, payload: object,
                          keywords: Sequence[str] = AGREEMENT_KEYWORDS) -> bool:
    """Case-insensitive keyword match on the snippet or the payload JSON text."""
    haystack = " ".join(t for t in ((snippet or ""), _payload_text(payload) or "") if t).casefold()
    return any(k.casefold() in haystack for k in keywords)


def agreement_cards(evidence: Iterable[Row], *, card_limit: int,
                    keywords: Sequence[str] = AGREEMENT_KEYWORDS) -> list[dict[str, Any]]:
    """``agreements``: keyword-matching evidence items, ``created_at`` desc, at most ``card_limit``.
    ``summary`` = snippet, else the first 280 characters of the payload JSON, else ``source_pk``."""
    cards = []
    for item in _sort_desc_nulls_last(evidence, "created_at"):
        snippet, payload = item.get("snippet"), item.get("payload")
        if not is_agreement_evidence(snippet, payload, keywords):
            continue
        payload_text = _payload_text(payload)
        summary = (snippet if snippet and snippet.strip() else None) or (
            payload_text[:280] if payload_text else None) or item.get("source_pk")
        cards.append({"id": item.get("id"), "project_id": str(item.get("project_id")),
                      "project_name": item.get("project_name"), "source_table": item.get("source_table"),
                      "source_pk": item.get("source_pk"), "summary": summary, "created_at": item.get("created_at")})
        if len(cards) >= card_limit:
            break
    return cards


def pattern_card_severity(weight: object) -> int:
    """Severity of a risk-pattern card: ``clamp(round_half_up(weight × 5), 1, 5)``."""
    return int(clamp(round_half_up(_dec(weight) * 5), 1, 5))


def risk_cards(*, radar_items: Iterable[Row], signals: Iterable[Row], patterns: Iterable[Row],
               card_limit: int) -> list[dict[str, Any]]:
    """``risks``: radar items not ``closed``, signals with severity ≥ 4 and status proposed/accepted,
    ``open`` patterns; ordered by severity desc, then updated_at desc; at most ``card_limit``."""
    cards: list[dict[str, Any]] = []

    def card(row: Row, title: object, severity: int, probability: object, updated: object, source: str) -> None:
        cards.append({"id": row.get("id"), "project_id": str(row.get("project_id")),
                      "project_name": row.get("project_name"), "title": title, "severity": severity,
                      "probability": json_number(round_half_up(_dec(probability), 4)),
                      "status": row.get("status"), "updated_at": updated, "source": source})

    for r in radar_items:
        if r.get("status") != "closed":
            card(r, r.get("title"), int(r.get("severity") or 0), r.get("probability"), r.get("updated_at"),
                 "risk_radar")
    for s in signals:
        if int(s.get("severity") or 0) >= 4 and s.get("status") in ("proposed", "accepted"):
            card(s, s.get("summary"), int(s["severity"]), s.get("confidence"), s.get("created_at"), "signal")
    for p in patterns:
        if p.get("status") == "open":
            card(p, p.get("title"), pattern_card_severity(p.get("weight")), p.get("weight"), p.get("updated_at"),
                 "risk_pattern")
    cards = _sort_desc_nulls_last(cards, "updated_at")
    cards.sort(key=lambda c: c["severity"], reverse=True)  # stable: updated_at desc within a severity
    return cards[:card_limit]


def upsell_cards(items: Iterable[Row], *, card_limit: int) -> list[dict[str, Any]]:
    """``offers.upsell``: score desc, then created_at desc; ``suggested_discount_pct`` from the
    offer payload's ``discount_recommendation_pct`` (0 when absent)."""
    ordered = _sort_desc_nulls_last(items, "created_at")
    ordered.sort(key=lambda r: _dec(r.get("score")), reverse=True)
    result = []
    for r in ordered[:card_limit]:
        offer_payload = r.get("suggested_offer_payload") or {}
        pct = offer_payload.get("discount_recommendation_pct") if isinstance(offer_payload, Mapping) else None
        result.append({"id": r.get("id"), "project_id": str(r.get("project_id")), "project_name": r.get("project_name"),
                       "title": r.get("title"), "rationale": r.get("rationale"),
                       "score": json_number(round_half_up(_dec(r.get("score")), 4)), "status": r.get("status"),
                       "created_at": r.get("created_at"),
                       "suggested_discount_pct": json_number(_dec(pct)) if pct is not None else 0})
    return result


def recent_offer_cards(offers: Iterable[Row], *, card_limit: int) -> list[dict[str, Any]]:
    """``offers.recent_offers``: updated_at desc, at most ``card_limit``."""
    return [{"id": o.get("id"), "project_id": str(o.get("project_id")), "project_name": o.get("project_name"),
             "title": o.get("title"), "status": o.get("status"),
             "discount_pct": json_number(money(_dec(o.get("discount_pct")))),
             "total": json_number(money(_dec(o.get("total")))), "updated_at": o.get("updated_at")}
            for o in _sort_desc_nulls_last(offers, "updated_at")[:card_limit]]


def discount_policy(dashboard_rows: Iterable[Row]) -> list[dict[str, Any]]:
    """``offers.discount_policy`` (advisory): one entry per project with its ``max_discount_pct``."""
    return [{"project_id": r["project_id"], "project_name": r["project_name"],
             "client_value_score": r["client_value_score"],
             "max_discount_pct": max_discount_pct(r["client_value_score"])} for r in dashboard_rows]


def loops_email_counts(emails: Iterable[str | None]) -> dict[str, int]:
    """``loops``: contacts with a non-blank email, and distinct ``lower(email)`` among them."""
    present = [e for e in emails if isinstance(e, str) and e.strip()]
    return {"contacts_with_email": len(present), "unique_emails": len({e.lower() for e in present})}


# --- finances (§A7.6) ---------------------------------------------------------------------------
def forecast_days(opportunities: Iterable[Row], *, today: date) -> int:
    """Mean of ``max(0, expected_close_date − today)`` in days over open opportunities with a close
    date, rounded half-up; 0 if there are none."""
    days = [max(0, (o["expected_close_date"] - today).days) for o in opportunities
            if (o.get("stage") or "").lower() not in CLOSED_STAGES and o.get("expected_close_date") is not None]
    return round_int(Decimal(sum(days)) / len(days)) if days else 0


def finance_row(*, project_id: object, project_name: str, opportunities: Sequence[Row],
                signed_offer_totals: Iterable[object], latest_snapshot: Row | None, today: date) -> dict[str, Any]:
    """One ``finances.by_project`` entry. ``latest_snapshot`` = the project's latest revenue
    snapshot by ``generated_at`` (``costs_amount``, ``gross_margin``) or None."""
    figures = crm_figures(opportunities)
    signed = money(sum((_dec(t) for t in signed_offer_totals), ZERO))
    if latest_snapshot is not None:
        costs = money(_dec(latest_snapshot.get("costs_amount")))
        margin = money(_dec(latest_snapshot.get("gross_margin")))
    else:
        costs = money(0)
        margin = money(figures.expected_revenue - costs)
    return {"project_id": str(project_id), "project_name": project_name,
            "deal_amount": json_number(figures.deal_amount), "pipeline_amount": json_number(figures.pipeline_amount),
            "expected_revenue": json_number(figures.expected_revenue), "signed_total": json_number(signed),
            "costs_amount": json_number(costs), "gross_margin": json_number(margin),
            "forecast_days": forecast_days(opportunities, today=today)}


_FINANCE_MONEY = ("deal_amount", "pipeline_amount", "expected_revenue", "signed_total", "costs_amount", "gross_margin")


def finance_totals(rows: Sequence[Row]) -> dict[str, Any] | None:
    """``finances.totals``: the sum of each money field (2 dp); None for an empty selection."""
    if not rows:
        return None
    return {k: json_number(money(sum((_dec(r[k]) for r in rows), ZERO))) for k in _FINANCE_MONEY}


def funnel_nodes(opportunities: Iterable[Row]) -> list[dict[str, Any]]:
    """``funnel_nodes``: CRM opportunities per stage ``{stage, opportunities, amount}``, count desc,
    then amount desc (pipeline order breaks ties), at most 20."""
    counts: dict[str, int] = defaultdict(int)
    amounts: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for o in opportunities:
        stage = (o.get("stage") or "").lower()
        counts[stage] += 1
        amounts[stage] += _dec(o.get("amount_estimate"))
    order = {s: i for i, s in enumerate(OPPORTUNITY_STAGES)}
    stages = sorted(counts, key=lambda s: (-counts[s], -amounts[s], order.get(s, len(order)), s))
    return [{"stage": s, "opportunities": counts[s], "amount": json_number(money(amounts[s]))} for s in stages[:20]]


def finance_charts(*, finance_rows: Sequence[Row], dashboard_rows: Sequence[Row],
                   burn_vs_budget: Sequence[Row], opportunities: Iterable[Row]) -> dict[str, Any]:
    """``finances.charts`` from the finance rows, the dashboard rows and ``burn_vs_budget``."""
    def per_project(key: str) -> list[dict[str, Any]]:
        return [{"project_id": r["project_id"], "project_name": r["project_name"], "value": r[key]}
                for r in finance_rows]

    return {
        "revenue_by_project": per_project("expected_revenue"),
        "costs_by_project": per_project("costs_amount"),
        "margin_by_project": per_project("gross_margin"),
        "forecast_completion_days": per_project("forecast_days"),
        "burn_rate_trend": list(burn_vs_budget),
        "budget_vs_actual": [{"point": p["point"], "budget": p["budget"], "actual": p["burn"]} for p in burn_vs_budget],
        "unit_economics_proxy": [{"project_id": r["project_id"], "project_name": r["project_name"],
                                  "client_value_score": r["client_value_score"],
                                  "expected_revenue": r["expected_revenue"]} for r in dashboard_rows],
        "funnel_nodes": funnel_nodes(opportunities),
    }


# --- /portfolio/messages (§A8) ------------------------------------------------------------------
@dataclass(frozen=True)
class MessagesQuery:
    project_id: str
    contact_global_id: str | None
    limit: int


def parse_messages_query(*, project_id: object, contact_global_id: object = None,
                         limit: object = None) -> MessagesQuery:
    """400 ``project_id_required`` when missing; 404 ``project_not_found`` when not a UUID (the
    caller also 404s ids outside the session scope). ``limit``: 200, [20, 500]."""
    if parse_text(project_id) is None:
        raise InvalidInput("project_id_required", "project_id is required")
    parsed = parse_uuid(project_id)
    if parsed is None:
        raise NotFound("project_not_found", "Project not found")
    return MessagesQuery(project_id=parsed, contact_global_id=parse_text(contact_global_id),
                         limit=parse_lenient_int(limit, default=200, lo=20, hi=500))


def person_name(contact: Row) -> str:
    """First non-blank of name, email, identifier, numeric contact id; else ``"Контакт"``."""
    for key in ("name", "email", "identifier", "contact_id"):
        value = contact.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return CONTACT_FALLBACK


def persons(contacts: Iterable[Row], *, limit: int = 200) -> list[dict[str, Any]]:
    """``persons``: ``{contact_global_id, person_name, email}`` sorted by person_name asc, first 200."""
    people = [{"contact_global_id": c["id"], "person_name": person_name(c),
               "email": c.get("email") if isinstance(c.get("email"), str) and c["email"].strip() else None}
              for c in contacts]
    people.sort(key=lambda p: (p["person_name"].casefold(), p["person_name"], str(p["contact_global_id"])))
    return people[:limit]


def select_contact(requested: str | None, people: Sequence[Row]) -> str | None:
    """The requested contact if it is one of ``people``, else the first person's id, else None."""
    ids = [p["contact_global_id"] for p in people]
    if requested is not None and requested in ids:
        return requested
    return ids[0] if ids else None


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or value.strip()):
            return value
    return None


def extract_attachments(data: object) -> list[dict[str, Any]]:
    """Attachments of a message's ``data``: ``data.attachments`` or a list ``data.attachment``; at
    most 8 ``{id, name, url, content_type}``; entries with an empty id are dropped."""
    if not isinstance(data, Mapping):
        return []
    raw = data.get("attachments")
    if not isinstance(raw, list):
        raw = data.get("attachment") if isinstance(data.get("attachment"), list) else []
    result = []
    for item in raw:
        if not isinstance(item, Mapping):
            continue
        ident = _first(item, ("id", "file_id", "url", "data_url"))
        if ident is None or not str(ident).strip():
            continue
        result.append({"id": str(ident), "name": _first(item, ("file_name", "filename", "name")) or "attachment",
                       "url": _first(item, ("data_url", "url", "download_url")) or "",
                       "content_type": _first(item, ("file_type", "content_type", "mime_type")) or "file"})
        if len(result) == 8:
            break
    return result


def feed_message(row: Row, *, project_name: str, person_names: Mapping[str, str]) -> dict[str, Any]:
    """One ``/portfolio/messages`` item (sender type, author name, channel, content, attachments)."""
    data = row.get("data") if isinstance(row.get("data"), Mapping) else {}
    sender_type = (row.get("sender_type") or "").strip().lower() or "unknown"
    if sender_type in _CLIENT_SENDER_TYPES:
        author = person_names.get(row.get("contact_global_id") or "") or CLIENT_AUTHOR_FALLBACK
    else:
        sender = data.get("sender") if isinstance(data.get("sender"), Mapping) else {}
        author = _first(sender, ("name",)) or _first(data, ("sender_name",)) or TEAM_AUTHOR_FALLBACK
    return {"id": row.get("id"), "project_id": str(row.get("project_id")), "project_name": project_name,
            "contact_global_id": row.get("contact_global_id"),
            "conversation_global_id": row.get("conversation_global_id"), "created_at": row.get("created_at"),
            "sender_type": sender_type, "author_name": author,
            "channel": _first(data, ("channel", "source")) or "chatwoot",
            "content": row.get("content") or "", "attachments": extract_attachments(data)}


def feed_messages(rows: Iterable[Row], *, limit: int, project_name: str, person_names: Mapping[str, str],
                  contact_global_id: str | None = None) -> list[dict[str, Any]]:
    """``messages`` of ``/portfolio/messages``: filtered to the selected contact when set; the latest
    ``limit`` (created_at desc, nulls last), returned ascending (nulls last)."""
    selected = [r for r in rows if contact_global_id is None or r.get("contact_global_id") == contact_global_id]
    latest = _sort_desc_nulls_last(selected, "created_at")[:limit]
    dated = sorted((r for r in latest if r.get("created_at") is not None), key=lambda r: as_utc(r["created_at"]))
    ordered = dated + [r for r in latest if r.get("created_at") is None]
    return [feed_message(r, project_name=project_name, person_names=person_names) for r in ordered]



KEYWORDS_ENV = "PORTFOLIO_AGREEMENT_KEYWORDS"


def agreement_keywords(environ: Mapping[str, str]) -> tuple[str, ...]:
    """The configured agreement keywords (``PORTFOLIO_AGREEMENT_KEYWORDS``, comma-separated; trimmed,
    empty items dropped); the §A7.4 defaults when unset or empty."""
    configured = tuple(k.strip() for k in (environ.get(KEYWORDS_ENV) or "").split(",") if k.strip())
    return configured or AGREEMENT_KEYWORDS
