"""Portfolio overview and message feed (business.md §A7, §A8): the scoped reads behind them.

Every query covers **all** selected projects at once (``project_id = ANY(ids)`` over the ids resolved
inside the session's account scope), so the overview costs a constant 10 statements whatever the
number of projects (12 when the last week holds fewer messages than ``message_limit``): no N+1.
The project resolution also reads each project's figures (correlated, index-backed scalar
subqueries); every grouped figure (chart inputs, revenue periods, Loops counts, Attio amounts) comes
from one ``UNION ALL``. Fewer round trips matter most on a busy machine. The rules (open stages,
scores, bucketing, ordering, rounding) are the pure functions of ``shared.business.portfolio``.
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
    Numeric,
    Text,
    Uuid,
    and_,
    any_,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Session, aliased

from shared.business import portfolio as rules
from shared.business.crm import is_open_deal_stage
from shared.business.errors import NotFound
from shared.db.models.business import (
    AnalyticsCommsSnapshot,
    AnalyticsRevenueSnapshot,
    CrmOpportunity,
    HealthScore,
    HealthScoreDay,
    Offer,
    RiskPatternEvent,
    RiskRadarItem,
)
from shared.db.models.platform import EvidenceItem, Project
from shared.db.service import business_inputs as inputs
from shared.scope import Scope

# Type instances built once: SQLAlchemy memoises a type's cache key on the instance, and a new instance
# per expression (``cast(x, Numeric)``) cost ~80 cache-key computations per overview.
_DATE, _INTEGER, _NUMERIC, _TEXT, _UUID = Date(), Integer(), Numeric(), Text(), Uuid()
_UUID_ARRAY, _TEXT_ARRAY, _JSONB = ARRAY(Uuid()), ARRAY(Text()), JSONB()

HEALTH_CHART_DAYS = 60
VELOCITY_DAYS = 120
CHART_POINTS = 24
MESSAGE_WINDOWS = (timedelta(days=1), timedelta(days=7), None)
_BLANK = " \t\r\n\f\v"


# --- helpers ---------------------------------------------------------------------------------------
def _dialect(session: Session) -> str:
    return session.get_bind().dialect.name


def _day(session: Session, column: Any) -> Any:
    """The UTC calendar day of a timestamp column, as a SQL expression."""
    if _dialect(session) == "postgresql":
        return cast(func.timezone("UTC", column), _DATE)
    return func.date(column)


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _not_blank(session: Session, column: Any) -> Any:
    trim = func.btrim if _dialect(session) == "postgresql" else func.trim
    return and_(column.isnot(None), trim(column, _BLANK) != "")


def _id_in(session: Session, column: Any, ids: Sequence[uuid.UUID]) -> Any:
    """``column IN ids``; on PostgreSQL ``column = ANY(:ids)``, one array parameter instead of one per id."""
    if _dialect(session) == "postgresql":
        return column == any_(literal(list(ids), _UUID_ARRAY))
    return column.in_(list(ids))


def _rows(session: Session, stmt: Any) -> list[Any]:
    """The result rows as read-only mappings (``row["column"]``, ``row.get``, ``{**row}``)."""
    return list(session.execute(stmt).mappings())


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
    cards = (select(literal("card").label("kind"), *columns, cast(null(), _DATE).label("d"),
                    cast(null(), _INTEGER).label("n")).select_from(newest.join(e, e.id == newest.c.id)))
    if not with_days:
        return cards
    day = _day(session, matches.c.created_at)
    counts = (select(literal("day"), *(cast(null(), c.type).label(c.key) for c in columns), day, func.count())
              .group_by(day))
    return union_all(cards, counts)


# --- project resolution ----------------------------------------------------------------------------
def resolve_projects(*, session: Session, account_scope_id: uuid.UUID, active_project_id: uuid.UUID | None,
                     requested_ids: Sequence[str], now: datetime) -> list[Any]:
    """§A7 selection: the requested ids within the session scope (no fallback), else the active project;
    sorted by name. Each row also carries the project's dashboard figures (:func:`_figures_query`)."""
    wanted = [uuid.UUID(i) for i in requested_ids] or ([active_project_id] if active_project_id else [])
    if not wanted:
        return []
    rows = _rows(session, _figures_query(session, account_scope_id, wanted, now))
    return rules.select_projects(requested_ids, active_project_id=active_project_id, scope_projects=rows)


def _figures_query(session: Session, account_scope_id: uuid.UUID, ids: Sequence[uuid.UUID], now: datetime) -> Any:
    """The scope's projects among ``ids`` with correlated scalar subqueries, each answered from an index
    (``project_id`` first): messages in 7 days, open issues, open risks, signed offers, the latest
    health score and the latest revenue snapshot's costs and margin. One round trip, no N+1."""
    msg, issue = inputs.table("cw_messages"), inputs.table("linear_issues_raw")
    h, r, o, radar = HealthScore, AnalyticsRevenueSnapshot, Offer, RiskRadarItem
    newest = aliased(AnalyticsRevenueSnapshot)
    latest_snapshot = (select(newest.id).where(newest.project_id == Project.id)
                       .order_by(newest.generated_at.desc(), newest.horizon_days).limit(1)
                       .correlate(Project).scalar_subquery())

    def scalar(stmt: Any) -> Any:  # noqa: ANN401
        return stmt.scalar_subquery()

    return select(
        Project.id, Project.name, Project.account_scope_id, Project.created_at,
        scalar(select(func.count()).select_from(msg).where(
            msg.c.project_id == Project.id, msg.c.created_at > now - timedelta(days=7))).label("messages_7d"),
        scalar(select(func.count()).select_from(issue).where(
            issue.c.project_id == Project.id, issue.c.completed_at.is_(None))).label("open_issues"),
        scalar(select(func.count()).select_from(radar).where(
            radar.project_id == Project.id, radar.status != "closed")).label("risks_open"),
        scalar(select(func.sum(o.total)).where(o.project_id == Project.id, o.status == "signed")).label(
            "signed_total"),
        scalar(select(h.score).where(h.project_id == Project.id, h.account_id.is_(None))
               .order_by(h.generated_at.desc()).limit(1)).label("health_score"),
        scalar(select(r.costs_amount).where(r.id == latest_snapshot)).label("costs_amount"),
        scalar(select(r.gross_margin).where(r.id == latest_snapshot)).label("gross_margin"),
    ).where(Project.account_scope_id == account_scope_id, _id_in(session, Project.id, ids))


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
    agg = reads.aggregates()
    by_project = [rules.dashboard_row(
        project_id=p["id"], project_name=p["name"], messages_7d=p["messages_7d"], linear_open_issues=p["open_issues"],
        attio_pipeline_amount=agg["attio"].get(p["id"], 0), crm_opportunities=opportunities.get(p["id"], []),
        health_score=p["health_score"], risks_open=p["risks_open"]) for p in projects]
    totals = rules.dashboard_totals(by_project)
    revenue = agg["revenue"]
    burn = rules.burn_vs_budget_chart(revenue, max_points=CHART_POINTS)
    agreement_rows, agreement_days = reads.agreements(keywords, query.card_limit)
    series = agg
    radar = reads.radar_items()
    charts = {
        "health_score": rules.bucket_series(series["health"], bucket="day", agg="avg", max_points=60),
        "velocity_completed_issues": _int_values(rules.bucket_series(
            series["completed"], bucket="week", agg="sum", max_points=CHART_POINTS, places=0)),
        "blockers_count": _int_values(rules.bucket_series(
            series["overdue"], bucket="week", agg="sum", max_points=CHART_POINTS, places=0)),
        "client_responsiveness_minutes": rules.bucket_series(
            series["responsiveness"], bucket="day", agg="avg", max_points=CHART_POINTS),
        "agreements_created_vs_completed": rules.agreements_chart_from_counts(
            agreement_days, series["signed"], max_points=CHART_POINTS),
        "risks_trend": rules.risks_trend_chart([(r["created_at"], r["severity"]) for r in radar],
                                               max_points=CHART_POINTS),
        "burn_vs_budget": burn,
        "upsell_potential_score": rules.bucket_mean_series(
            agg["upsell"], bucket="week", max_points=CHART_POINTS, places=4),
    }
    finance_rows = [rules.finance_row(
        project_id=p["id"], project_name=p["name"], opportunities=opportunities.get(p["id"], []),
        signed_offer_totals=[p["signed_total"] or 0], today=today,
        latest_snapshot=None if p["costs_amount"] is None else {"costs_amount": p["costs_amount"],
                                                                 "gross_margin": p["gross_margin"]})
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
        "risks": rules.risk_cards(radar_items=[r for r in radar if r["status"] != "closed"],
                                  signals=reads.severe_signals(query.card_limit),
                                  patterns=reads.open_patterns(), card_limit=query.card_limit),
        "finances": {"totals": rules.finance_totals(finance_rows), "by_project": finance_rows,
                     "charts": rules.finance_charts(finance_rows=finance_rows, dashboard_rows=by_project,
                                                    burn_vs_budget=burn, opportunities=all_opportunities)},
        "offers": {"upsell": rules.upsell_cards(reads.top_upsell(query.card_limit), card_limit=query.card_limit),
                   "recent_offers": rules.recent_offer_cards(reads.recent_offers(query.card_limit),
                                                             card_limit=query.card_limit),
                   "discount_policy": rules.discount_policy(by_project)},
        "loops": agg["loops"],
    }


def _int_values(series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**p, "value": int(p["value"])} for p in series]


class _Reads:
    """The overview's queries, each over all selected projects of the scope."""

    def __init__(self, session: Session, account_scope_id: uuid.UUID, ids: list[uuid.UUID],
                 names: dict[uuid.UUID, str], now: datetime) -> None:
        self.s, self.scope_id, self.ids, self.names, self.now = session, account_scope_id, ids, names, now

    def _in(self, model_or_table: Any) -> Any:
        """``project_id IN (the selected ids)``: those ids were resolved inside the session's account
        scope (``resolve_projects``) and every row's scope equals its project's (DB trigger + ORM
        guard), so this is the scope filter, and it lets PostgreSQL answer counts from the
        ``(project_id, created_at)`` indexes alone (index-only scans)."""
        t = getattr(model_or_table, "__table__", model_or_table)
        return _id_in(self.s, t.c.project_id, self.ids)

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

    def aggregates(self) -> dict[str, Any]:
        """Every grouped figure of the overview in one ``UNION ALL`` of ``(series, project_id, label, d, v1,
        v2, v3)`` rows: average health per day over the last 60 UTC days (whole days, from the
        ``health_score_days`` roll-up), completed issues per day (120 days), overdue open issues per due
        date, average response minutes per comms period, signed offers per day, the horizon-30 revenue sums
        per period, upsell Σscore and count per day, the Loops e-mail counts and the Attio amounts per
        project and stage (open stages are decided on the few distinct titles)."""
        hd, c, o, rev = HealthScoreDay, AnalyticsCommsSnapshot, Offer, AnalyticsRevenueSnapshot
        issue, upsell, contacts, attio = (inputs.table(n) for n in (
            "linear_issues_raw", "upsell_opportunities", "cw_contacts", "attio_opportunities_raw"))
        none_date, none_num = cast(null(), _DATE), cast(null(), _NUMERIC)

        def part(name: str, *where: Any, d: Any = None, v1: Any = None, v2: Any = None, v3: Any = None,
                 project: Any = None, label: Any = None, group: tuple[Any, ...] = ()) -> Any:
            return select(literal(name).label("series"),
                          (project if project is not None else cast(null(), _UUID)).label("project_id"),
                          (label if label is not None else cast(null(), _TEXT)).label("label"),
                          (d if d is not None else none_date).label("d"),
                          *((cast(v, _NUMERIC) if v is not None else none_num).label(k)
                            for k, v in (("v1", v1), ("v2", v2), ("v3", v3)))).where(*where).group_by(*group)

        days = {k: _day(self.s, col) for k, col in (("done", issue.c.completed_at),
                                                    ("signed", o.updated_at), ("upsell", upsell.c.created_at))}
        stmt = union_all(
            part("health", self._in(hd), hd.day >= (self.now - timedelta(days=HEALTH_CHART_DAYS)).date(),
                 d=hd.day, v1=func.sum(hd.score_sum), v2=func.sum(hd.score_count), group=(hd.day,)),
            part("completed", self._in(issue), issue.c.completed_at.isnot(None),
                 issue.c.completed_at >= self.now - timedelta(days=VELOCITY_DAYS),
                 d=days["done"], v1=func.count(), group=(days["done"],)),
            part("overdue", self._in(issue), issue.c.completed_at.is_(None), issue.c.due_date.isnot(None),
                 issue.c.due_date < self.now.date(), d=issue.c.due_date, v1=func.count(), group=(issue.c.due_date,)),
            part("responsiveness", self._in(c), d=c.period_start, v1=func.avg(c.avg_response_minutes),
                 group=(c.period_start,)),
            part("signed", self._in(o), o.status == "signed", d=days["signed"], v1=func.count(),
                 group=(days["signed"],)),
            part("revenue", self._in(rev), rev.horizon_days == 30, d=rev.period_start,
                 v1=func.sum(rev.expected_revenue), v2=func.sum(rev.pipeline_amount), v3=func.sum(rev.costs_amount),
                 group=(rev.period_start,)),
            part("upsell", self._in(upsell), d=days["upsell"], v1=func.sum(upsell.c.score), v2=func.count(),
                 group=(days["upsell"],)),
            part("loops", self._in(contacts), _not_blank(self.s, contacts.c.email), v1=func.count(),
                 v2=func.count(func.distinct(func.lower(contacts.c.email)))),
            part("attio", self._in(attio), attio.c.deleted_at.is_(None),  # live upstream deals only
                 project=attio.c.project_id, label=attio.c.stage, v1=func.sum(attio.c.amount),
                 group=(attio.c.project_id, attio.c.stage)),
        )
        out: dict[str, Any] = {k: [] for k in ("health", "completed", "overdue", "responsiveness", "signed",
                                               "revenue", "upsell")}
        out["loops"] = {"contacts_with_email": 0, "unique_emails": 0}
        attio_open: dict[uuid.UUID, Any] = defaultdict(int)
        is_open: dict[str | None, bool] = {}
        for row in _rows(self.s, stmt):
            name = row["series"]
            if name == "loops":
                out["loops"] = {"contacts_with_email": int(row["v1"] or 0), "unique_emails": int(row["v2"] or 0)}
            elif name == "attio":
                if row["label"] not in is_open:
                    is_open[row["label"]] = is_open_deal_stage(row["label"])
                if is_open[row["label"]]:
                    attio_open[row["project_id"]] += row["v1"] or 0
            elif name == "revenue":
                out["revenue"].append({"period_start": _as_date(row["d"]), "horizon_days": 30,
                                       "expected_revenue": row["v1"], "pipeline_amount": row["v2"],
                                       "costs_amount": row["v3"]})
            elif name == "health":  # the day's average over every project-level score of the selection
                out["health"].append((_as_date(row["d"]), row["v1"] / row["v2"]))
            elif name == "upsell":
                out["upsell"].append((_as_date(row["d"]), row["v1"], row["v2"]))
            else:
                out[name].append((_as_date(row["d"]), row["v1"]))
        out["attio"] = attio_open
        return out

    def radar_items(self) -> list[dict[str, Any]]:
        """Every radar item of the selection (cards keep the non-closed ones; the trend counts them all)."""
        r = RiskRadarItem
        return self._named(_rows(self.s, select(r.id, r.project_id, r.title, r.severity, r.probability, r.status,
                                                r.created_at, r.updated_at).where(self._in(r))))

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
        patterns = literal([_like_pattern(k) for k in keywords], _TEXT_ARRAY)
        has_payload = e.payload != cast(literal("{}"), _JSONB)
        match = or_(func.lower(e.snippet).like(any_(patterns)),
                    and_(has_payload, func.lower(cast(e.payload, _TEXT)).like(any_(patterns))))
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
