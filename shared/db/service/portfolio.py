"""Portfolio overview and message feed (business.md §A7, §A8): the scoped reads behind them.

Every query covers **all** selected projects at once (``project_id IN (...)`` over the ids resolved
inside the session's account scope) and groups by project in SQL, so the query count per request is constant
(about 25 for the overview) whatever the number of projects: no N+1. Aggregates that only need
counts or sums per day/period are grouped in SQL; the rules (open stages, scores, bucketing,
ordering, rounding) are the pure functions of ``shared.business.portfolio``.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    Text,
    Uuid,
    and_,
    any_,
    cast,
    func,
    literal,
    literal_column,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session

from shared.business import portfolio as rules
from shared.business.crm import is_open_deal_stage
from shared.business.errors import NotFound
from shared.db.models.business import (
    AnalyticsCommsSnapshot,
    AnalyticsRevenueSnapshot,
    CrmOpportunity,
    HealthScore,
    Offer,
    RiskPatternEvent,
    RiskRadarItem,
)
from shared.db.models.platform import EvidenceItem, Project
from shared.db.service import business_inputs as inputs
from shared.scope import Scope

HEALTH_CHART_DAYS = 60
VELOCITY_DAYS = 120
CHART_POINTS = 24
MESSAGE_WINDOWS = (timedelta(days=1), timedelta(days=7), None)
RECENT_SCORE_WINDOW = timedelta(hours=6)  # scores and snapshots are refreshed every 30 min by the scheduler
_BLANK = " \t\r\n\f\v"


# --- helpers ---------------------------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as a SQL expression."""
    if _dialect(session) == "postgresql":
        return cast(func.timezone("UTC", column), Date)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _not_blank(session: Session, column: Any) -> Any:
    trim = func.btrim if _dialect(session) == "postgresql" else func.trim
    return and_(column.isnot(None), trim(column, _BLANK) != "")


def _rows(session: Session, stmt: Any) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in session.execute(stmt)]


def _by_project(rows: Iterable[dict[str, Any]], key: str = "n") -> dict[uuid.UUID, Any]:
    return {r["project_id"]: r[key] for r in rows}


def _latest_per_project(model: Any, order: Any, where: Any) -> Any:
    """``SELECT … WHERE rn = 1`` over ``row_number() OVER (PARTITION BY project_id ORDER BY order)``."""
    ranked = select(model, func.row_number().over(partition_by=model.project_id, order_by=order).label("rn")) \
        .where(where).subquery()
    return select(ranked).where(ranked.c.rn == 1)


def _latest_rows(session: Session, model: Any, stamp: Any, order: Any, where: Any, ids: Sequence[uuid.UUID],
                 recent_since: datetime) -> dict[uuid.UUID, dict[str, Any]]:
    """The latest row per project: rows stamped after ``recent_since`` first (a handful per project for
    a refreshed project), then the full history of the projects that had none."""
    found = {r["project_id"]: r for r in _rows(session, _latest_per_project(model, order,
                                                                             and_(where, stamp >= recent_since)))}
    missing = [i for i in ids if i not in found]
    if missing:
        older = _latest_per_project(model, order, and_(where, model.project_id.in_(missing)))
        found.update({r["project_id"]: r for r in _rows(session, older)})
    return found


def _like_pattern(keyword: str) -> str:
    """``%keyword%`` (lower-cased) with LIKE's wildcards and escape character escaped."""
    escaped = keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _agreement_batch(session: Session, columns: Sequence[Any], where: Any, offset: int, limit: int, *,
                     with_days: bool) -> Any:
    """Matching evidence in one scan: ``card`` rows (newest first, ``offset``/``limit``) and, when
    ``with_days``, ``day`` rows (``d``, ``n`` = matches created that UTC day). The CTE keeps only ids
    and times; the few card rows are joined back by primary key."""
    e = EvidenceItem
    matches = select(e.id, e.created_at).where(where).cte("agreement_matches")
    newest = (select(matches.c.id).order_by(matches.c.created_at.desc(), matches.c.id)
              .offset(offset).limit(limit).subquery("newest"))
    cards = (select(literal("card").label("kind"), *columns, cast(null(), Date).label("d"),
                    cast(null(), Integer).label("n")).select_from(newest.join(e, e.id == newest.c.id)))
    if not with_days:
        return cards
    day = _day(session, matches.c.created_at)
    counts = (select(literal("day"), *(cast(null(), c.type).label(c.key) for c in columns), day, func.count())
              .group_by(day))
    return union_all(cards, counts)


# --- project resolution ----------------------------------------------------------------------------
def resolve_projects(*, session: Session, account_scope_id: uuid.UUID, active_project_id: uuid.UUID | None,
                     requested_ids: Sequence[str]) -> list[dict[str, Any]]:
    """§A7 selection: the requested ids within the session scope (no fallback), else the active project."""
    wanted = [uuid.UUID(i) for i in requested_ids] or ([active_project_id] if active_project_id else [])
    if not wanted:
        return []
    rows = _rows(session, select(Project.id, Project.name, Project.account_scope_id, Project.created_at)
                 .where(Project.account_scope_id == account_scope_id, Project.id.in_(wanted)))
    return rules.select_projects(requested_ids, active_project_id=active_project_id, scope_projects=rows)


# --- overview --------------------------------------------------------------------------------------
def overview(*, session: Session, account_scope_id: uuid.UUID, projects: Sequence[dict[str, Any]],
             query: rules.OverviewQuery, now: datetime, keywords: Sequence[str] = rules.AGREEMENT_KEYWORDS
             ) -> dict[str, Any]:
    """The full ``GET /portfolio/overview`` body for the resolved ``projects`` (one account scope)."""
    if not projects:
        return rules.empty_overview()
    ids = [p["id"] for p in projects]
    names = {p["id"]: p["name"] for p in projects}
    today = now.date()
    reads = _Reads(session, account_scope_id, ids, names, now)
    opportunities = reads.crm_opportunities()
    health = reads.latest_health()
    risks_open = reads.risks_open()
    messages_7d = reads.messages_7d()
    open_issues = reads.open_issues()
    attio_pipeline = reads.attio_open_pipeline()
    by_project = [rules.dashboard_row(
        project_id=p["id"], project_name=p["name"], messages_7d=messages_7d.get(p["id"], 0),
        linear_open_issues=open_issues.get(p["id"], 0), attio_pipeline_amount=attio_pipeline.get(p["id"], 0),
        crm_opportunities=opportunities.get(p["id"], []), health_score=health.get(p["id"]),
        risks_open=risks_open.get(p["id"], 0)) for p in projects]
    totals = rules.dashboard_totals(by_project)
    revenue = reads.revenue_by_period()
    burn = rules.burn_vs_budget_chart(revenue, max_points=CHART_POINTS)
    agreement_rows, agreement_days = reads.agreements(keywords, query.card_limit)
    charts = {
        "health_score": rules.bucket_series(reads.health_by_day(), bucket="day", agg="avg", max_points=60),
        "velocity_completed_issues": _int_values(rules.bucket_series(
            reads.completed_by_day(), bucket="week", agg="sum", max_points=CHART_POINTS, places=0)),
        "blockers_count": _int_values(rules.bucket_series(
            reads.overdue_by_due_date(), bucket="week", agg="sum", max_points=CHART_POINTS, places=0)),
        "client_responsiveness_minutes": rules.bucket_series(
            reads.responsiveness_by_period(), bucket="day", agg="avg", max_points=CHART_POINTS),
        "agreements_created_vs_completed": rules.agreements_chart_from_counts(
            agreement_days, reads.signed_offer_days(), max_points=CHART_POINTS),
        "risks_trend": rules.risks_trend_chart(reads.radar_severities(), max_points=CHART_POINTS),
        "burn_vs_budget": burn,
        "upsell_potential_score": rules.bucket_series(
            reads.upsell_scores(), bucket="week", agg="avg", max_points=CHART_POINTS, places=4),
    }
    latest_snapshots = reads.latest_revenue_snapshots()
    signed = reads.signed_totals()
    finance_rows = [rules.finance_row(
        project_id=p["id"], project_name=p["name"], opportunities=opportunities.get(p["id"], []),
        signed_offer_totals=[signed.get(p["id"], 0)], latest_snapshot=latest_snapshots.get(p["id"]), today=today)
        for p in projects]
    all_opportunities = [o for p in projects for o in opportunities.get(p["id"], [])]
    return {
        "projects": [{"id": p["id"], "name": p["name"], "account_scope_id": p["account_scope_id"],
                      "created_at": p["created_at"]} for p in projects],
        "selected_project_ids": ids,
        "dashboard": {"totals": totals, "by_project": by_project,
                      "trend": rules.revenue_trend(revenue, totals=totals, by_project=by_project, today=today),
                      "charts": charts},
        "messages": rules.overview_messages(reads.latest_messages(query.message_limit), limit=query.message_limit),
        "agreements": rules.agreement_cards(agreement_rows, card_limit=query.card_limit, keywords=keywords),
        "risks": rules.risk_cards(radar_items=reads.open_radar_items(), signals=reads.severe_signals(query.card_limit),
                                  patterns=reads.open_patterns(), card_limit=query.card_limit),
        "finances": {"totals": rules.finance_totals(finance_rows), "by_project": finance_rows,
                     "charts": rules.finance_charts(finance_rows=finance_rows, dashboard_rows=by_project,
                                                    burn_vs_budget=burn, opportunities=all_opportunities)},
        "offers": {"upsell": rules.upsell_cards(reads.top_upsell(query.card_limit), card_limit=query.card_limit),
                   "recent_offers": rules.recent_offer_cards(reads.recent_offers(query.card_limit),
                                                             card_limit=query.card_limit),
                   "discount_policy": rules.discount_policy(by_project)},
        "loops": reads.loops_counts(),
    }


def _int_values(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**p, "value": int(p["value"])} for p in series]


class _Reads:
    """The overview's queries, each over all selected projects of the scope."""

    def __init__(self, session: Session, account_scope_id: uuid.UUID, ids: list[uuid.UUID],
                 names: dict[uuid.UUID, str], now: datetime) -> None:
        self.s, self.scope_id, self.ids, self.names, self.now = session, account_scope_id, ids, names, now
        self.postgres = _dialect(session) == "postgresql"

    def _in(self, model_or_table: Any) -> Any:
        """``project_id IN (the selected ids)``: those ids were resolved inside the session's account
        scope (``resolve_projects``) and every row's scope equals its project's (DB trigger + ORM
        guard), so this is the scope filter, and it lets PostgreSQL answer counts from the
        ``(project_id, created_at)`` indexes alone (index-only scans)."""
        t = getattr(model_or_table, "__table__", model_or_table)
        if self.postgres:  # one array parameter instead of one bind per id
            return t.c.project_id == any_(literal(self.ids, ARRAY(Uuid)))
        return t.c.project_id.in_(self.ids)

    def _named(self, rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{**r, "project_name": self.names.get(r["project_id"])} for r in rows]

    # dashboard
    def crm_opportunities(self) -> dict[uuid.UUID, list[dict[str, Any]]]:
        out: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for r in _rows(self.s, select(CrmOpportunity.project_id, CrmOpportunity.stage, CrmOpportunity.amount_estimate,
                                      CrmOpportunity.probability, CrmOpportunity.expected_close_date)
                       .where(self._in(CrmOpportunity))):
            out[r["project_id"]].append(r)
        return out

    def latest_health(self) -> dict[uuid.UUID, Any]:
        h = HealthScore
        rows = _latest_rows(self.s, h, h.generated_at, h.generated_at.desc(), and_(self._in(h), h.account_id.is_(None)),
                            self.ids, self.now - RECENT_SCORE_WINDOW)
        return {pid: r["score"] for pid, r in rows.items()}

    def risks_open(self) -> dict[uuid.UUID, int]:
        return _by_project(_rows(self.s, select(RiskRadarItem.project_id, func.count().label("n"))
                                 .where(self._in(RiskRadarItem), RiskRadarItem.status != "closed")
                                 .group_by(RiskRadarItem.project_id)))

    def messages_7d(self) -> dict[uuid.UUID, int]:
        t = inputs.table("cw_messages")
        return _by_project(_rows(self.s, select(t.c.project_id, func.count().label("n"))
                                 .where(self._in(t), t.c.created_at > self.now - timedelta(days=7))
                                 .group_by(t.c.project_id)))

    def open_issues(self) -> dict[uuid.UUID, int]:
        t = inputs.table("linear_issues_raw")
        return _by_project(_rows(self.s, select(t.c.project_id, func.count().label("n"))
                                 .where(self._in(t), t.c.completed_at.is_(None)).group_by(t.c.project_id)))

    def attio_open_pipeline(self) -> dict[uuid.UUID, Any]:
        out: dict[uuid.UUID, Any] = defaultdict(int)
        is_open: dict[str | None, bool] = {}  # few distinct stage titles: normalise each once
        for r in inputs.attio_stage_amounts(self.s, self.scope_id, self.ids):
            if r["stage"] not in is_open:
                is_open[r["stage"]] = is_open_deal_stage(r["stage"])
            if is_open[r["stage"]]:
                out[r["project_id"]] += r["amount"] or 0
        return out

    # charts
    def health_by_day(self) -> list[tuple[date, Any]]:
        day = _day(self.s, HealthScore.generated_at)
        stmt = (select(day.label("d"), func.avg(HealthScore.score).label("v"))
                .where(self._in(HealthScore), HealthScore.account_id.is_(None),
                       HealthScore.generated_at >= self.now - timedelta(days=HEALTH_CHART_DAYS))
                .group_by(day))
        return [(_as_date(r["d"]), r["v"]) for r in _rows(self.s, stmt)]

    def completed_by_day(self) -> list[tuple[date, int]]:
        t = inputs.table("linear_issues_raw")
        day = _day(self.s, t.c.completed_at)
        stmt = (select(day.label("d"), func.count().label("n"))
                .where(self._in(t), t.c.completed_at.isnot(None),
                       t.c.completed_at >= self.now - timedelta(days=VELOCITY_DAYS)).group_by(day))
        return [(_as_date(r["d"]), r["n"]) for r in _rows(self.s, stmt)]

    def overdue_by_due_date(self) -> list[tuple[date, int]]:
        t = inputs.table("linear_issues_raw")
        stmt = (select(t.c.due_date, func.count().label("n"))
                .where(self._in(t), t.c.completed_at.is_(None), t.c.due_date.isnot(None),
                       t.c.due_date < self.now.date()).group_by(t.c.due_date))
        return [(_as_date(r["due_date"]), r["n"]) for r in _rows(self.s, stmt)]

    def responsiveness_by_period(self) -> list[tuple[date, Any]]:
        c = AnalyticsCommsSnapshot
        stmt = (select(c.period_start, func.avg(c.avg_response_minutes).label("v"))
                .where(self._in(c)).group_by(c.period_start))
        return [(_as_date(r["period_start"]), r["v"]) for r in _rows(self.s, stmt)]

    def revenue_by_period(self) -> list[dict[str, Any]]:
        r = AnalyticsRevenueSnapshot
        stmt = (select(r.period_start, literal_column("30").label("horizon_days"),
                       func.sum(r.expected_revenue).label("expected_revenue"),
                       func.sum(r.pipeline_amount).label("pipeline_amount"),
                       func.sum(r.costs_amount).label("costs_amount"))
                .where(self._in(r), r.horizon_days == 30).group_by(r.period_start))
        return [{**row, "period_start": _as_date(row["period_start"])} for row in _rows(self.s, stmt)]

    def signed_offer_days(self) -> list[tuple[date, int]]:
        day = _day(self.s, Offer.updated_at)
        stmt = (select(day.label("d"), func.count().label("n")).where(self._in(Offer), Offer.status == "signed")
                .group_by(day))
        return [(_as_date(r["d"]), int(r["n"])) for r in _rows(self.s, stmt)]

    def radar_severities(self) -> list[tuple[datetime, int]]:
        stmt = select(RiskRadarItem.created_at, RiskRadarItem.severity).where(self._in(RiskRadarItem))
        return [(r["created_at"], r["severity"]) for r in _rows(self.s, stmt)]

    def upsell_scores(self) -> list[tuple[datetime, Any]]:
        t = inputs.table("upsell_opportunities")
        return [(r["created_at"], r["score"]) for r in _rows(self.s, select(t.c.created_at, t.c.score)
                                                                  .where(self._in(t)))]

    # cards
    def latest_messages(self, limit: int) -> list[dict[str, Any]]:
        """The newest ``limit`` non-blank messages. The last day is read first, then the last week, then
        everything: when a window already holds ``limit`` messages they are the newest overall (older or
        undated ones sort after them), so busy portfolios never sort their whole history."""
        t = inputs.table("cw_messages")
        base = (select(t.c.id, t.c.project_id, t.c.sender_type, t.c.contact_global_id, t.c.conversation_global_id,
                       t.c.created_at, t.c.content)
                .where(self._in(t), _not_blank(self.s, t.c.content))
                .order_by(t.c.created_at.desc().nulls_last(), t.c.id).limit(limit))
        for window in MESSAGE_WINDOWS:
            stmt = base if window is None else base.where(t.c.created_at > self.now - window)
            rows = _rows(self.s, stmt)
            if window is None or len(rows) >= limit:
                return self._named(rows)
        return []

    def agreements(self, keywords: Sequence[str],
                   card_limit: int) -> tuple[list[dict[str, Any]], list[tuple[date, int]]]:
        """Agreement-like evidence items (§A7.4): the newest cards and the creation day of every match.

        PostgreSQL filters with a case-insensitive keyword match on the snippet and the non-empty payload
        text and counts matches per day; the exact rule (``is_agreement_evidence``) re-checks the cards.
        SQLite's ``lower()`` is ASCII-only, so there the rows are read and matched in Python.
        """
        e = EvidenceItem
        columns = (e.id, e.project_id, e.source_table, e.source_pk, e.snippet, e.payload, e.created_at)
        if _dialect(self.s) != "postgresql" or not keywords:
            rows = [r for r in _rows(self.s, select(*columns).where(self._in(e)))
                    if rules.is_agreement_evidence(r["snippet"], r["payload"], keywords)]
            return self._named(rows), [(_as_date(r["created_at"]), 1) for r in rows]
        patterns = literal([_like_pattern(k) for k in keywords], ARRAY(Text))
        has_payload = e.payload != cast(literal("{}"), JSONB)
        match = or_(func.lower(e.snippet).like(any_(patterns)),
                    and_(has_payload, func.lower(cast(e.payload, Text)).like(any_(patterns))))
        cards: list[dict[str, Any]] = []
        days: list[tuple[date, int]] = []
        batch = card_limit + 20
        offset = 0
        while True:  # one scan per batch: a materialised CTE feeds the newest cards and the per-day counts
            rows = _rows(self.s, _agreement_batch(self.s, columns, and_(self._in(e), match), offset, batch,
                                                  with_days=offset == 0))
            chunk = sorted(sorted((r for r in rows if r["kind"] == "card"), key=lambda r: str(r["id"])),
                           key=lambda r: r["created_at"], reverse=True)  # the SQL order: created_at desc, id
            days += [(_as_date(r["d"]), int(r["n"])) for r in rows if r["kind"] == "day"]
            cards += [r for r in chunk if rules.is_agreement_evidence(r["snippet"], r["payload"], keywords)]
            if len(cards) >= card_limit or len(chunk) < batch:
                break
            offset += batch
        return self._named(cards), days

    def open_radar_items(self) -> list[dict[str, Any]]:
        r = RiskRadarItem
        return self._named(_rows(self.s, select(r.id, r.project_id, r.title, r.severity, r.probability, r.status,
                                                r.updated_at).where(self._in(r), r.status != "closed")))

    def severe_signals(self, limit: int) -> list[dict[str, Any]]:
        t = inputs.table("signals")
        stmt = (select(t.c.id, t.c.project_id, t.c.summary, t.c.severity, t.c.confidence, t.c.status, t.c.created_at)
                .where(self._in(t), t.c.severity >= 4, t.c.status.in_(inputs.ACTIVE_SIGNAL_STATUSES))
                .order_by(t.c.severity.desc(), t.c.created_at.desc()).limit(limit))
        return self._named(_rows(self.s, stmt))

    def open_patterns(self) -> list[dict[str, Any]]:
        p = RiskPatternEvent
        return self._named(_rows(self.s, select(p.id, p.project_id, p.title, p.weight, p.status, p.updated_at)
                                 .where(self._in(p), p.status == "open")))

    def latest_revenue_snapshots(self) -> dict[uuid.UUID, dict[str, Any]]:
        r = AnalyticsRevenueSnapshot
        return _latest_rows(self.s, r, r.generated_at, [r.generated_at.desc(), r.horizon_days], self._in(r),
                            self.ids, self.now - RECENT_SCORE_WINDOW)

    def signed_totals(self) -> dict[uuid.UUID, Any]:
        return _by_project(_rows(self.s, select(Offer.project_id, func.sum(Offer.total).label("n"))
                                 .where(self._in(Offer), Offer.status == "signed").group_by(Offer.project_id)))

    def top_upsell(self, limit: int) -> list[dict[str, Any]]:
        t = inputs.table("upsell_opportunities")
        stmt = (select(t.c.id, t.c.project_id, t.c.title, t.c.rationale, t.c.score, t.c.status, t.c.created_at,
                       t.c.suggested_offer_payload)
                .where(self._in(t)).order_by(t.c.score.desc(), t.c.created_at.desc()).limit(limit))
        return self._named(_rows(self.s, stmt))

    def recent_offers(self, limit: int) -> list[dict[str, Any]]:
        stmt = (select(Offer.id, Offer.project_id, Offer.title, Offer.status, Offer.discount_pct, Offer.total,
                       Offer.updated_at).where(self._in(Offer)).order_by(Offer.updated_at.desc()).limit(limit))
        return self._named(_rows(self.s, stmt))

    def loops_counts(self) -> dict[str, int]:
        t = inputs.table("cw_contacts")
        with_email, unique = self.s.execute(
            select(func.count(), func.count(func.distinct(func.lower(t.c.email))))
            .where(self._in(t), _not_blank(self.s, t.c.email))).one()
        return {"contacts_with_email": int(with_email or 0), "unique_emails": int(unique or 0)}


# --- message feed (§A8) ---------------------------------------------------------------------------
def message_feed(*, session: Session, account_scope_id: uuid.UUID, query: rules.MessagesQuery) -> dict[str, Any]:
    """``GET /portfolio/messages``: the project (404 outside the scope), its persons, the feed."""
    project = session.scalar(select(Project).where(Project.id == uuid.UUID(query.project_id),
                                                   Project.account_scope_id == account_scope_id))
    if project is None:
        raise NotFound("project_not_found", "Project not found")
    scope = Scope(project.id, project.account_scope_id)
    contacts_t, messages_t = inputs.table("cw_contacts"), inputs.table("cw_messages")
    contacts = _rows(session, select(contacts_t.c.id, contacts_t.c.name, contacts_t.c.email,
                                     contacts_t.c.identifier, contacts_t.c.contact_id)
                     .where(inputs.scoped(contacts_t, scope)))
    people = rules.persons(contacts)
    selected = rules.select_contact(query.contact_global_id, people)
    stmt = select(messages_t.c.id, messages_t.c.project_id, messages_t.c.contact_global_id,
                  messages_t.c.conversation_global_id, messages_t.c.created_at, messages_t.c.sender_type,
                  messages_t.c.content, messages_t.c.data).where(inputs.scoped(messages_t, scope))
    if selected is not None:
        stmt = stmt.where(messages_t.c.contact_global_id == selected)
    stmt = stmt.order_by(messages_t.c.created_at.desc().nulls_last(), messages_t.c.id).limit(query.limit)
    names = {c["id"]: rules.person_name(c) for c in contacts}
    return {
        "project": {"id": project.id, "name": project.name, "account_scope_id": project.account_scope_id},
        "persons": people,
        "selected_contact_global_id": selected,
        "messages": rules.feed_messages(_rows(session, stmt), limit=query.limit, project_name=project.name,
                                        person_names=names, contact_global_id=selected),
    }


__all__ = ["message_feed", "overview", "resolve_projects"]
